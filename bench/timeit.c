/* bench/timeit.c: times commands side by side.
 *
 *	timeit N FILE [PREP]
 *
 * FILE has one command per line: "NAME [ns=MNTNS] ARGV...", split on
 * spaces. The commands run N rounds, interleaved (one of each per round),
 * each from fork to wait4; a command run inside the mount namespace MNTNS
 * (a bind-mounted /proc/PID/ns/mnt) enters it after the fork, so that its
 * time is only its own. Prints per command the median, 10th and 90th
 * percentile wall time and the peak RSS (ru_maxrss of the process tree:
 * the largest single process). Exits 1 if any run failed. The process
 * counts from the fork, before its exec: build timeit static with musl
 * (musl-gcc -static), or glibc's pages set a floor of some 600 KiB.
 *
 * PREP, when given, is a shell command run before each run, untimed, with
 * the command's name as $1: what a run must not inherit from the last one
 * (its output, dirty pages) is undone there and not counted. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cmd {
	char name[64];
	char *ns;
	char *argv[64];
	long long *us;
	long maxrss;
	int failed;
};

static const char *prep;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* milliseconds with two decimals, in integers: no floating point here either */
#define MS(us) (us) / 1000, (us) % 1000 / 10

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int run(struct cmd *c, int round)
{
	struct rusage ru;
	long long t0;
	int st, fd;
	pid_t p;

	if (prep) {
		if ((p = fork()) < 0)
			return -1;
		if (p == 0) {
			execl("/bin/sh", "sh", "-c", prep, "sh", c->name, (char *)NULL);
			_exit(127);
		}
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "timeit: %s: PREP failed\n", c->name);
			c->failed = 1;
		}
	}
	t0 = now_us();
	if ((p = fork()) < 0)
		return -1;
	if (p == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		if (c->ns) {
			if ((fd = open(c->ns, O_RDONLY)) < 0 || setns(fd, CLONE_NEWNS) < 0)
				_exit(126);
		}
		execvp(c->argv[0], c->argv);
		_exit(127);
	}
	if (wait4(p, &st, 0, &ru) < 0)
		return -1;
	c->us[round] = now_us() - t0;
	if (ru.ru_maxrss > c->maxrss)
		c->maxrss = ru.ru_maxrss;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		if (!c->failed)
			fprintf(stderr, "timeit: %s: status %d\n", c->name, st);
		c->failed = 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cmd cmds[16];
	char line[4096], *tok, *save;
	int n, ncmd = 0, i, r, bad = 0;
	FILE *f;

	if (argc < 3 || argc > 4 || (n = atoi(argv[1])) < 1 || !(f = fopen(argv[2], "r"))) {
		fprintf(stderr, "usage: timeit N FILE [PREP]\n");
		return 2;
	}
	prep = argv[3];
	while (ncmd < 16 && fgets(line, sizeof line, f)) {
		struct cmd *c = &cmds[ncmd];
		int a = 0;

		line[strcspn(line, "\n")] = 0;
		if (!(tok = strtok_r(line, " ", &save)) || tok[0] == '#')
			continue;
		memset(c, 0, sizeof *c);
		snprintf(c->name, sizeof c->name, "%s", tok);
		while ((tok = strtok_r(NULL, " ", &save)) && a < 63) {
			if (!a && !c->ns && !strncmp(tok, "ns=", 3))
				c->ns = strdup(tok + 3);
			else
				c->argv[a++] = strdup(tok);
		}
		c->us = calloc((size_t)n, sizeof *c->us);
		ncmd++;
	}
	/* one warm-up round, untimed */
	for (i = 0; i < ncmd; i++)
		run(&cmds[i], 0);
	for (r = 0; r < n; r++)
		for (i = 0; i < ncmd; i++)
			run(&cmds[i], r);
	printf("%-12s %10s %10s %10s %12s\n", "command", "median_ms", "p10_ms", "p90_ms", "peak_rss_kib");
	for (i = 0; i < ncmd; i++) {
		struct cmd *c = &cmds[i];

		qsort(c->us, (size_t)n, sizeof *c->us, cmp);
		printf("%-12s %7lld.%02lld %7lld.%02lld %7lld.%02lld %12ld%s\n", c->name,
		    MS(c->us[n / 2]), MS(c->us[n / 10]), MS(c->us[n * 9 / 10]), c->maxrss,
		    c->failed ? "  (FAILED)" : "");
		bad |= c->failed;
	}
	return bad;
}
