/* tests/unit/tap.h: the result lines of the C unit programs that check
 * many cases (inflate, sha256, zstd), in one place: "ok - ..." or
 * "not ok - ...", which tests/run collects, and the counts for the last
 * line and the exit status. Include after sandbox.c. */
#include <stdarg.h>
#include <stdio.h>

static int tap_tests, tap_failures;
static int tap_quiet;   /* check() leaves passes unprinted */

static void tap_vline(int ok, int show, const char *fmt, va_list ap)
{
	tap_tests++;
	if (!ok)
		tap_failures++;
	if (!show)
		return;
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

/* One case: printed if it failed, or unless tap_quiet. */
__attribute__((unused)) static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(ok, !ok || !tap_quiet, fmt, ap);
	va_end(ap);
}

/* A summary of many cases: always printed. */
__attribute__((unused)) static void report(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(ok, 1, fmt, ap);
	va_end(ap);
}

/* The last line, and main's exit status. */
static int tap_done(void)
{
	printf("# %d tests, %d failed\n", tap_tests, tap_failures);
	return tap_failures != 0;
}
