/* test_seccomp.c: unit and behavioural tests of the seccomp section.
 *
 * Includes /work/main/sandbox.c (-DSANDBOX_NO_MAIN) for the JSON parser,
 * the cfg_* helpers and the error buffer, then seccomp.c. Prints one
 * "ok - " / "not ok - " / "skip - " line per check; exits 1 on failure.
 *   test_seccomp            everything
 *   test_seccomp --table    "name number class" for each syscall of this target
 *   test_seccomp --dump     the default profile's program (no capabilities)
 * Behavioural tests (a child installs a filter and makes syscalls) are
 * skipped where a filter cannot be installed, e.g. under qemu-user, which
 * refuses PR_SET_SECCOMP; the interpreter tests run everywhere. */
#define SANDBOX_NO_MAIN
#include "../../sandbox.c"
#include "sec_testlib.h"

#define SEC_CAPB(c) (1ull << (c))

static int failures, skipped;

static void report(int good, const char *name, const char *why)
{
	if (good) {
		printf("ok - %s\n", name);
	} else {
		printf("not ok - %s: %s\n", name, why);
		failures++;
	}
}

static void skip(const char *name, const char *why)
{
	printf("skip - %s: %s\n", name, why);
	skipped++;
}

/* ------------------------------------------------------------ table */

static void test_table(void)
{
	const char *p = sec_sys_table, *prev = "";
	struct sec_sys e;
	uint32_t nr = 0;
	size_t n = 0, bad = 0, unsorted = 0;
	char why[200];

	while ((p = sec_sys_next(p, &e))) {
		n++;
		if (sec_sys_number(e.num) == SEC_NONE)
			bad++;
		if (strcmp(prev, e.name) >= 0)
			unsorted++;
		prev = e.name;
	}
	snprintf(why, sizeof why, "%zu entries, %zu unreadable, %zu out of order", n, bad,
	    unsorted);
	report(n > 250 && !bad && !unsorted, "table: entries readable and sorted", why);
	printf("# table: %zu syscalls, %zu bytes\n", n, sizeof sec_sys_table);

	{
		struct sec_index x;
		uint32_t a, b;
		size_t disagree = 0;
		static const char *const odd[] = { "", "_", "a", "zzzz", "read ", "rea", "readz" };

		if (sec_index_make(&x) < 0) {
			report(0, "table: index", sb_error());
		} else {
			for (p = sec_sys_table; (p = sec_sys_next(p, &e));)
				if (sec_index_find(&x, e.name, &a) < 0 || st_nr(e.name, &b) < 0 ||
				    a != b || a != sec_sys_number(e.num))
					disagree++;
			for (n = 0; n < LEN(odd); n++)
				if (sec_index_find(&x, odd[n], &a) == 0)
					disagree++;
			report(x.n > 250 && !disagree, "table: binary search finds what the scan finds",
			    "disagree");
			free(x.at);
		}
	}
	report(st_nr("read", &nr) == 0 && nr == SYS_read, "table: read", "wrong");
	report(st_nr("exit_group", &nr) == 0 && nr == SYS_exit_group,
	    "table: exit_group", "wrong");
	report(st_nr("openat", &nr) == 0 && nr == SYS_openat, "table: openat", "wrong");
	report(st_nr("keyctl", &nr) == 0 && nr == SYS_keyctl, "table: keyctl", "wrong");
	report(st_nr("clone3", &nr) == 0 && nr == SYS_clone3, "table: clone3", "wrong");
	report(st_nr("no_such_syscall", &nr) < 0 && st_nr("", &nr) < 0 &&
	    st_nr("zzzz", &nr) < 0 && st_nr("_", &nr) < 0,
	    "table: unknown names", "found");
	/* a shared number that musl 1.2.3 lacks */
	report(st_nr("fchmodat2", &nr) == 0 && nr == SYS_pidfd_send_signal - 424 + 452,
	    "table: fchmodat2 from the shared numbering", "wrong");
#ifdef SYS_clock_gettime32
	report(st_nr("clock_gettime", &nr) == 0 && nr == SYS_clock_gettime32,
	    "table: clock_gettime is musl's clock_gettime32", "wrong");
	report(st_nr("gettimeofday", &nr) == 0 && nr == SYS_gettimeofday_time32,
	    "table: gettimeofday is musl's gettimeofday_time32", "wrong");
#else
	report(st_nr("clock_gettime", &nr) == 0 && nr == SYS_clock_gettime,
	    "table: clock_gettime", "wrong");
#endif
#ifdef __ARM_NR_set_tls
	report(st_nr("set_tls", &nr) == 0 && nr == 0x0f0005, "table: ARM set_tls",
	    "wrong");
#endif
#ifdef __riscv
	report(st_nr("riscv_flush_icache", &nr) == 0 && nr == 259,
	    "table: riscv_flush_icache (244 + 15)", "wrong");
#endif
#ifdef __mips__
	report(st_nr("read", &nr) == 0 && nr == 4003, "table: MIPS o32 read", "wrong");
#endif
	report(st_nr("stat64", &nr) == 0 ? nr != SEC_NONE : 1,
	    "table: names that musl also defines as macros (stat64)", "wrong");
}

static void print_table(void)
{
	const char *p = sec_sys_table;
	struct sec_sys e;

	while ((p = sec_sys_next(p, &e)))
		printf("%s %u %c\n", e.name, sec_sys_number(e.num), e.cls);
}

/* ------------------------------------------------------------ parse */

static int parse(struct arena *a, const char *text, struct sec_profile *p)
{
	struct json *v = json_parse(a, text, strlen(text));

	return v ? sec_parse(a, v, p) : -1;
}

static void refuses(const char *text, const char *msg)
{
	struct arena a = {0};
	struct sec_profile p;
	char name[160], why[1400];
	int r = parse(&a, text, &p);

	snprintf(name, sizeof name, "parse refuses: %s", msg);
	snprintf(why, sizeof why, "%s", r < 0 ? sb_error() : "(accepted)");
	report(r < 0 && strstr(sb_error(), msg), name, why);
	arena_free(&a);
}

static void test_parse_errors(void)
{
	refuses("[]", "linux.seccomp: expected an object");
	refuses("{}", "linux.seccomp.defaultAction: missing");
	refuses("{\"defaultAction\":1}", "linux.seccomp.defaultAction: expected a string");
	refuses("{\"defaultAction\":\"SCMP_ACT_FOO\"}",
	    "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
	refuses("{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}",
	    "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported by sandbox");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1}",
	    "linux.seccomp.defaultErrnoRet: not allowed with SCMP_ACT_ALLOW");
	refuses("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":4096}",
	    "linux.seccomp.defaultErrnoRet: 4096 is out of range [0, 4095]");
	refuses("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}",
	    "linux.seccomp.defaultErrnoRet: -1 is out of range");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/l.sock\"}",
	    "linux.seccomp.listenerPath: not supported by sandbox");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerMetadata\":\"x\"}",
	    "linux.seccomp.listenerMetadata: not supported by sandbox");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":\"SCMP_ARCH_X86\"}",
	    "linux.seccomp.architectures: expected an array");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\",\"x\"]}",
	    "linux.seccomp.architectures[1]: unknown architecture \"x\"");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\",3]}",
	    "linux.seccomp.flags[1]: expected a string");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_FOO\"]}",
	    "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_FOO\"");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]}",
	    "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a notify listener");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}",
	    "linux.seccomp.syscalls: expected an array");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[3]}",
	    "linux.seccomp.syscalls[0]: expected an object");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "linux.seccomp.syscalls[0].names: missing");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "linux.seccomp.syscalls[0].names: empty");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_LOG\"},"
	    "{\"names\":[\"read\",7],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "linux.seccomp.syscalls[1].names[1]: expected a string");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}",
	    "linux.seccomp.syscalls[0].action: missing");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	    "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported by sandbox");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_KILL\",\"errnoRet\":1}]}",
	    "linux.seccomp.syscalls[0].errnoRet: not allowed with SCMP_ACT_KILL");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":65536}]}",
	    "linux.seccomp.syscalls[0].errnoRet: 65536 is out of range [0, 65535]");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":{}}]}",
	    "linux.seccomp.syscalls[0].args: expected an array");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[1].index: 6 is out of range [0, 5]");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].index: missing");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].value: missing");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":-1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].value: expected an unsigned integer, got -1");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":18446744073709551616,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].value: expected an unsigned integer");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":1,\"valueTwo\":1.5,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].valueTwo: expected an unsigned integer, got 1.5");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_FOO\"}]}]}",
	    "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_FOO\"");
	refuses("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":1}]}]}",
	    "linux.seccomp.syscalls[0].args[0].op: missing");
}

static void test_parse_ok(void)
{
	struct arena a = {0};
	struct sec_profile p;
	uint32_t nr = 0;
	int r;

	r = parse(&a, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
	    "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\",\"SCMP_ARCH_AARCH64\"],"
	    "\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],"
	    "\"listenerPath\":\"\",\"listenerMetadata\":null,"
	    "\"syscalls\":[{\"names\":[\"read\",\"no_such_syscall\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
	    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":65535,"
	    "\"args\":[{\"index\":5,\"value\":18446744073709551615,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	    "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":null}]}", &p);
	report(r == 0, "parse: a full profile", sb_error());
	if (r == 0) {
		st_nr("getppid", &nr);
		report(p.default_action == (SECCOMP_RET_ERRNO | 38) && p.flags == 7 &&
		    p.nrules == 4 && p.rules[0].nr == SYS_read && p.rules[1].nr == SYS_write &&
		    p.rules[2].action == (SECCOMP_RET_TRACE | 65535) && p.rules[2].nargs == 1 &&
		    p.rules[2].args[0].index == 5 && p.rules[2].args[0].op == SEC_MASKED_EQ &&
		    p.rules[2].args[0].value == UINT64_MAX && p.rules[3].nr == SYS_getpid &&
		    p.rules[3].action == SEC_EPERM && !p.rules[3].nargs,
		    "parse: values, unknown names skipped, EPERM by default", "wrong values");
	}
	r = parse(&a, "{\"defaultAction\":\"SCMP_ACT_KILL\"}", &p);
	report(r == 0 && p.default_action == SECCOMP_RET_KILL_THREAD && !p.nrules,
	    "parse: SCMP_ACT_KILL is kill thread, no syscalls", sb_error());
	r = parse(&a, "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":null}", &p);
	report(r == 0 && p.default_action == SECCOMP_RET_KILL_PROCESS,
	    "parse: SCMP_ACT_KILL_PROCESS", sb_error());
	arena_free(&a);
}

/* ---------------------------------------------------- compile, check */

static const uint64_t edges[] = {
	0, 1, 2, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	0x100000000, 0x100000001, 0x1ffffffff, 0xffffffff00000000,
	0xffffffff00000001, 0xfffffffeffffffff, 0x7fffffffffffffff,
	0x8000000000000000, 0xfffffffffffffffe, 0xffffffffffffffff,
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rng_value(void)
{
	uint64_t e = edges[rng() % LEN(edges)];

	switch (rng() % 4) {
	case 0: return e;
	case 1: return e + 1;
	case 2: return e - 1;
	default: return rng() % 3 ? e : rng();
	}
}

static struct seccomp_data data_for(uint32_t nr)
{
	struct seccomp_data d;
	int i;

	memset(&d, 0, sizeof d);
	d.nr = (int)nr;
	d.arch = SEC_AUDIT_ARCH;
	for (i = 0; i < 6; i++)
		d.args[i] = rng_value();
	return d;
}

/* Compiles p, checks the program, and compares it with st_expect on
 * tries syscall numbers (those named, their neighbours, edges) with
 * random arguments. Returns the program length, 0 on failure. */
static unsigned verify_(const char *name, const struct sec_profile *p, int tries,
    struct sec_prog *out, int quiet)
{
	struct arena a = {0};
	struct sec_prog prog;
	struct seccomp_data d;
	uint32_t nr, got, want;
	char why[600];
	int i;

	if (sec_compile(&a, p, &prog) < 0) {
		report(0, name, sb_error());
		arena_free(&a);
		return 0;
	}
	if (st_check(prog.insns, prog.len, why, sizeof why) < 0) {
		report(0, name, why);
		arena_free(&a);
		return 0;
	}
	for (i = 0; i < tries; i++) {
		switch (rng() % 5) {
		case 0: nr = (uint32_t)rng() % 600; break;
		case 1: nr = p->nrules ? p->rules[rng() % p->nrules].nr + (uint32_t)(rng() % 3) - 1 : 0; break;
		case 2: nr = (uint32_t)rng_value(); break;
		default: nr = p->nrules ? p->rules[rng() % p->nrules].nr : (uint32_t)rng(); break;
		}
		d = data_for(nr);
		if (rng() % 50 == 0)
			d.arch = rng() % 2 ? AUDIT_ARCH_I386 : (uint32_t)rng();
		if (p->nrules && rng() % 3 == 0) {   /* hit a value exactly */
			const struct sec_rule *r = &p->rules[rng() % p->nrules];
			uint32_t j;

			for (j = 0; j < r->nargs; j++)
				d.args[r->args[j].index] = r->args[j].op == SEC_MASKED_EQ ?
				    r->args[j].value2 | (rng() & ~r->args[j].value) :
				    r->args[j].value + (rng() % 3) - 1;
		}
		got = st_run(prog.insns, prog.len, &d);
		want = st_expect(p, &d);
		if (got != want) {
			snprintf(why, sizeof why, "nr %u arch 0x%x args %llx %llx %llx: "
			    "program 0x%x, rules 0x%x", (unsigned)d.nr, d.arch,
			    (unsigned long long)d.args[0], (unsigned long long)d.args[1],
			    (unsigned long long)d.args[2], got, want);
			report(0, name, why);
			if (getenv("SEC_DUMP"))
				st_dump(stdout, prog.insns, prog.len);
			arena_free(&a);
			return 0;
		}
	}
	if (!quiet)
		report(1, name, "");
	i = prog.len;
	if (out) {
		*out = prog;   /* the caller keeps it: leaked arena, a test */
		return (unsigned)i;
	}
	arena_free(&a);
	return (unsigned)i;
}

static unsigned verify(const char *name, const struct sec_profile *p, int tries,
    struct sec_prog *out)
{
	return verify_(name, p, tries, out, 0);
}

static uint32_t nr_of(const char *name)
{
	uint32_t nr = SEC_NONE;

	st_nr(name, &nr);
	return nr;
}

/* Every operator on every edge value, one rule each. */
static void test_ops(void)
{
	struct sec_rule rules[7 * LEN(edges)];
	struct sec_arg args[7 * LEN(edges)];
	struct sec_profile p = { SECCOMP_RET_ALLOW, 0, rules, 0 };
	char name[80];
	size_t e;
	int op;

	for (op = SEC_NE; op <= SEC_MASKED_EQ; op++) {
		p.nrules = 0;
		for (e = 0; e < LEN(edges); e++) {
			struct sec_arg *c = &args[p.nrules];
			struct sec_rule *r = &rules[p.nrules];

			c->index = (uint8_t)(e % 6);
			c->op = (uint8_t)op;
			c->value = edges[e];
			c->value2 = edges[(e * 7 + 3) % LEN(edges)] & edges[e];
			r->nr = (uint32_t)e + 1;   /* one syscall per edge value */
			r->action = SECCOMP_RET_ERRNO | (uint32_t)(e + 1);
			r->order = (uint32_t)p.nrules;
			r->nargs = 1;
			r->args = c;
			p.nrules++;
		}
		snprintf(name, sizeof name, "compile: operator %d on 64-bit edge values", op);
		verify(name, &p, 20000, NULL);
	}
}

/* Interval merging, the ENOSYS stub, the architecture and x32 checks. */
static void test_layout(void)
{
	struct sec_arg a1 = { 0, SEC_EQ, 1, 0 };
	struct sec_rule rules[] = {
		{ 0, SECCOMP_RET_ALLOW, 0, 0, NULL },
		{ 1, SECCOMP_RET_ALLOW, 1, 0, NULL },
		{ 3, SECCOMP_RET_ERRNO | 5, 2, 0, NULL },
		{ 5, SECCOMP_RET_ALLOW, 3, 0, NULL },
		{ 5, SECCOMP_RET_ERRNO | 7, 4, 1, &a1 },   /* stronger, when arg0 == 1 */
		{ 9, SECCOMP_RET_TRAP, 5, 1, &a1 },
		{ 9, SECCOMP_RET_KILL_PROCESS, 6, 1, &a1 }, /* both match: kill */
		{ 9, SECCOMP_RET_ERRNO | 8, 7, 1, &a1 },
		{ 12, SECCOMP_RET_ERRNO | 9, 8, 1, &a1 },
		{ 12, SECCOMP_RET_ERRNO | 10, 9, 1, &a1 }, /* tie: the first */
	};
	struct sec_profile p = { SEC_EPERM, 0, rules, LEN(rules) };
	struct sec_prog prog;
	struct seccomp_data d;
	unsigned len;
	int ok;

	len = verify("compile: merging, precedence of matching rules", &p, 20000, &prog);
	if (!len)
		return;
	d = data_for(5);
	d.args[0] = 1;
	ok = st_run(prog.insns, prog.len, &d) == (SECCOMP_RET_ERRNO | 7);
	d.args[0] = 2;
	ok &= st_run(prog.insns, prog.len, &d) == SECCOMP_RET_ALLOW;
	d = data_for(9);
	d.args[0] = 1;
	ok &= st_run(prog.insns, prog.len, &d) == SECCOMP_RET_KILL_PROCESS;
	d = data_for(12);
	d.args[0] = 1;
	ok &= st_run(prog.insns, prog.len, &d) == (SECCOMP_RET_ERRNO | 9);
	d = data_for(2);
	ok &= st_run(prog.insns, prog.len, &d) == SEC_EPERM;
	d = data_for(13);
	ok &= st_run(prog.insns, prog.len, &d) == SEC_ENOSYS;
	d = data_for(0xffffffffu);  /* on ARM, a private number: the default */
	ok &= st_run(prog.insns, prog.len, &d) ==
	    (SEC_PRIVATE_BASE <= 0xffffffffu ? SEC_EPERM : SEC_ENOSYS);
	d = data_for(0);
	d.arch = AUDIT_ARCH_I386 == SEC_AUDIT_ARCH ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_I386;
	ok &= st_run(prog.insns, prog.len, &d) == SECCOMP_RET_KILL_PROCESS;
#ifdef SEC_X32_BIT
	d = data_for(SEC_X32_BIT | 1);
	ok &= st_run(prog.insns, prog.len, &d) == SECCOMP_RET_KILL_PROCESS;
	d = data_for(SEC_X32_BIT);
	ok &= st_run(prog.insns, prog.len, &d) == SECCOMP_RET_KILL_PROCESS;
#endif
	report(ok, "compile: hand-checked results (stub, foreign arch, x32)", "wrong result");
	printf("# layout profile: %u instructions\n", len);

	p.default_action = SECCOMP_RET_ALLOW;
	verify("compile: default allow, no stub", &p, 5000, NULL);
	p.default_action = SECCOMP_RET_LOG;
	verify("compile: default log, no stub", &p, 5000, NULL);
	p.default_action = SECCOMP_RET_KILL_THREAD;
	verify("compile: default kill, stub", &p, 5000, NULL);
	p.nrules = 0;
	len = verify("compile: no rules", &p, 2000, NULL);
	report(len > 0 && len < 10, "compile: no rules is a few instructions", "long");
}

/* A rule with arguments on every syscall of the table: far jumps. */
static void test_big(void)
{
	const char *s = sec_sys_table;
	struct sec_sys e;
	struct sec_rule *rules = calloc(2000, sizeof *rules);
	struct sec_arg *args = calloc(2000, sizeof *args);
	struct sec_profile p = { SEC_EPERM, 0, rules, 0 };
	unsigned len;
	char name[120];
	size_t i;

	while ((s = sec_sys_next(s, &e))) {
		uint32_t nr = sec_sys_number(e.num);
		size_t n = p.nrules;

		args[n].index = (uint8_t)(n % 6);
		args[n].op = (uint8_t)(n % 7);
		args[n].value = n % 3 ? n : 0xffffffff00000000ull | n;
		args[n].value2 = n & 5;
		rules[n].nr = nr;
		rules[n].action = n % 2 ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | (uint32_t)(n % 4096);
		rules[n].order = (uint32_t)n;
		rules[n].nargs = 1;
		rules[n].args = &args[n];
		p.nrules++;
	}
	len = verify("compile: one rule with an argument on every syscall", &p, 100000, NULL);
	snprintf(name, sizeof name, "compile: %zu syscalls with arguments in %u instructions",
	    p.nrules, len);
	report(len > 1024, name, "too short to need long jumps");

	/* hundreds of syscalls, alternating actions: many intervals */
	for (i = 0; i < p.nrules; i++)
		rules[i].nargs = 0;
	len = verify("compile: every syscall, alternating actions", &p, 50000, NULL);
	printf("# every syscall without arguments: %u instructions\n", len);

	/* 1000 rules with 6 arguments on one syscall: over BPF_MAXINSNS */
	for (i = 0; i < 1000; i++) {
		rules[i].nr = 7;
		rules[i].nargs = 6;
		rules[i].args = &args[0];
		rules[i].order = (uint32_t)i;
	}
	for (i = 0; i < 6; i++) {
		args[i].index = (uint8_t)i;
		args[i].op = SEC_GT;
		args[i].value = 0x100000000ull;
	}
	p.nrules = 1000;
	{
		struct arena a = {0};
		struct sec_prog prog;
		int r = sec_compile(&a, &p, &prog);

		report(r < 0 && strstr(sb_error(), "linux.seccomp: the filter needs more than 4096 BPF instructions"),
		    "compile: refuses a program over 4096 instructions", r < 0 ? sb_error() : "compiled");
		arena_free(&a);
	}
	/* at the limit: the largest count of such rules that fits */
	for (p.nrules = 200; p.nrules > 1; p.nrules--) {
		struct arena a = {0};
		struct sec_prog prog;
		int r = sec_compile(&a, &p, &prog);

		arena_free(&a);
		if (r == 0)
			break;
	}
	snprintf(name, sizeof name, "compile: %zu rules of 6 comparisons fit", p.nrules);
	verify(name, &p, 20000, NULL);
	free(rules);
	free(args);
}

/* Random profiles against the rules themselves. */
static void test_random(void)
{
	static const uint32_t acts[] = {
		SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
		SECCOMP_RET_ERRNO | 1, SECCOMP_RET_ERRNO | 2, SECCOMP_RET_TRACE | 3,
		SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, SEC_ENOSYS,
	};
	struct sec_rule rules[64];
	struct sec_arg args[64 * 3];
	struct sec_profile p = { 0, 0, rules, 0 };
	int iter;
	size_t i, j;

	for (iter = 0; iter < 300; iter++) {
		p.default_action = acts[rng() % LEN(acts)];
		p.nrules = rng() % LEN(rules);
		for (i = 0; i < p.nrules; i++) {
			rules[i].nr = rng() % 4 ? (uint32_t)(rng() % 40) : (uint32_t)rng_value();
			rules[i].action = acts[rng() % LEN(acts)];
			rules[i].order = (uint32_t)i;
			rules[i].nargs = (uint32_t)(rng() % 4);
			rules[i].args = &args[i * 3];
			for (j = 0; j < rules[i].nargs; j++) {
				args[i * 3 + j].index = (uint8_t)(rng() % 6);
				args[i * 3 + j].op = (uint8_t)(rng() % 7);
				args[i * 3 + j].value = rng_value();
				args[i * 3 + j].value2 = rng_value();
			}
		}
		if (!verify_("compile: a random profile", &p, 3000, NULL, 1))
			return;
	}
	report(1, "compile: 300 random profiles against their rules", "");
}

/* ---------------------------------------------------- default profile */

struct dcase {
	const char *name;
	uint64_t a0, a1;
	uint32_t want;  /* 0: no check */
};

static void default_cases(const char *title, uint64_t caps, unsigned kver,
    const struct dcase *c, size_t n)
{
	struct arena a = {0};
	struct sec_profile p;
	struct sec_prog prog;
	struct seccomp_data d;
	char name[160], why[200];
	uint32_t nr, got;
	size_t i;

	if (sec_default(&a, caps, kver, &p) < 0) {
		report(0, title, sb_error());
		return;
	}
	snprintf(name, sizeof name, "default profile %s: program against the rules", title);
	if (!verify(name, &p, 50000, &prog))
		return;
	for (i = 0; i < n; i++) {
		if (st_nr(c[i].name, &nr) < 0)
			continue;   /* not on this target */
		d = data_for(nr);
		d.args[0] = c[i].a0;
		d.args[1] = c[i].a1;
		got = st_run(prog.insns, prog.len, &d);
		snprintf(name, sizeof name, "default profile %s: %s(0x%llx)", title, c[i].name,
		    (unsigned long long)c[i].a0);
		snprintf(why, sizeof why, "got 0x%x, want 0x%x", got, c[i].want);
		report(got == c[i].want, name, why);
	}
	arena_free(&a);
}

#define ALLOW SECCOMP_RET_ALLOW
#define EPERM_ SEC_EPERM

static void test_default(void)
{
	static const struct dcase none[] = {
		{ "read", 0, 0, ALLOW }, { "write", 1, 0, ALLOW }, { "openat", 0, 0, ALLOW },
		{ "open", 0, 0, ALLOW }, { "execve", 0, 0, ALLOW }, { "exit_group", 0, 0, ALLOW },
		{ "fork", 0, 0, ALLOW }, { "wait4", 0, 0, ALLOW }, { "mmap", 0, 0, ALLOW },
		{ "mmap2", 0, 0, ALLOW }, { "clock_gettime", 0, 0, ALLOW },
		{ "gettimeofday", 0, 0, ALLOW }, { "set_tls", 0, 0, ALLOW },
		{ "arch_prctl", 0, 0, ALLOW }, { "set_thread_area", 0, 0, ALLOW },
		{ "riscv_flush_icache", 0, 0, ALLOW }, { "fchmodat2", 0, 0, ALLOW },
		{ "kexec_load", 0, 0, EPERM_ }, { "kexec_file_load", 0, 0, EPERM_ },
		{ "init_module", 0, 0, EPERM_ }, { "finit_module", 0, 0, EPERM_ },
		{ "delete_module", 0, 0, EPERM_ }, { "mount", 0, 0, EPERM_ },
		{ "umount2", 0, 0, EPERM_ }, { "pivot_root", 0, 0, EPERM_ },
		{ "unshare", 0x10000000, 0, EPERM_ }, { "setns", 0, 0, EPERM_ },
		{ "keyctl", 0, 0, EPERM_ }, { "add_key", 0, 0, EPERM_ },
		{ "request_key", 0, 0, EPERM_ }, { "bpf", 0, 0, EPERM_ },
		{ "perf_event_open", 0, 0, EPERM_ }, { "userfaultfd", 0, 0, EPERM_ },
		{ "acct", 0, 0, EPERM_ }, { "swapon", 0, 0, EPERM_ }, { "swapoff", 0, 0, EPERM_ },
		{ "reboot", 0, 0, EPERM_ }, { "settimeofday", 0, 0, EPERM_ },
		{ "clock_settime", 0, 0, EPERM_ }, { "chroot", 0, 0, EPERM_ },
		{ "syslog", 0, 0, EPERM_ }, { "cacheflush", 0, 0,
#if defined(__arm__) || defined(__aarch64__)
		    ALLOW
#else
		    EPERM_
#endif
		}, { "modify_ldt", 0, 0,
#if defined(__x86_64__) || defined(__i386__)
		    ALLOW
#else
		    EPERM_
#endif
		},
		{ "personality", 0, 0, ALLOW }, { "personality", 8, 0, ALLOW },
		{ "personality", 0x20000, 0, ALLOW }, { "personality", 0xffffffff, 0, ALLOW },
		{ "personality", 0x0040000, 0, EPERM_ },  /* ADDR_NO_RANDOMIZE */
		{ "socket", 2, 0, ALLOW }, { "socket", 1, 0, ALLOW }, { "socket", 40, 0, EPERM_ },
		{ "clone", 17 /* SIGCHLD */, 0, ALLOW },
		{ "clone", 0x3d0f00, 0, ALLOW },   /* pthread_create's flags */
		{ "clone", 0x10000000 | 17, 0, EPERM_ }, { "clone", 0x20000 | 17, 0, EPERM_ },
		{ "clone3", 0, 0, SEC_ENOSYS },
		{ "ptrace", 0, 0, ALLOW }, { "process_vm_readv", 0, 0, ALLOW },
		{ "kcmp", 0, 0, EPERM_ }, { "open_by_handle_at", 0, 0, EPERM_ },
		{ "statmount", 0, 0, SEC_ENOSYS },    /* newer than the profile */
	};
	static const struct dcase admin[] = {
		{ "mount", 0, 0, ALLOW }, { "unshare", 0x10000000, 0, ALLOW },
		{ "clone", 0x10000000 | 17, 0, ALLOW }, { "clone3", 0, 0, ALLOW },
		{ "bpf", 0, 0, ALLOW }, { "syslog", 0, 0, ALLOW },
		{ "kexec_load", 0, 0, EPERM_ }, { "init_module", 0, 0, EPERM_ },
		{ "keyctl", 0, 0, EPERM_ }, { "pivot_root", 0, 0, EPERM_ },
		{ "personality", 0x0040000, 0, EPERM_ }, { "socket", 40, 0, EPERM_ },
	};
	static const struct dcase old[] = {
		{ "ptrace", 0, 0, EPERM_ }, { "process_vm_writev", 0, 0, EPERM_ },
	};
	static const struct dcase caps[] = {
		{ "ptrace", 0, 0, ALLOW }, { "kcmp", 0, 0, ALLOW }, { "reboot", 0, 0, ALLOW },
		{ "settimeofday", 0, 0, ALLOW }, { "init_module", 0, 0, ALLOW },
		{ "mount", 0, 0, EPERM_ }, { "clone3", 0, 0, SEC_ENOSYS },
		{ "perf_event_open", 0, 0, ALLOW }, { "bpf", 0, 0, ALLOW },
	};
	uint64_t c = SEC_CAPB(CAP_SYS_PTRACE) | SEC_CAPB(CAP_SYS_BOOT) |
	    SEC_CAPB(CAP_SYS_TIME) | SEC_CAPB(CAP_SYS_MODULE) |
	    SEC_CAPB(CAP_PERFMON) | SEC_CAPB(CAP_BPF);

	default_cases("without capabilities", 0, 6 << 16 | 1 << 8, none, LEN(none));
	default_cases("with CAP_SYS_ADMIN", SEC_CAPB(CAP_SYS_ADMIN), 6 << 16, admin,
	    LEN(admin));
	default_cases("on Linux 4.4", 0, 4 << 16 | 4 << 8, old, LEN(old));
	default_cases("with other capabilities, Linux 4.4", c, 4 << 16 | 4 << 8, caps,
	    LEN(caps));
	default_cases("with every capability", ~0ull, 6 << 16, NULL, 0);
}

/* -------------------------------------------------------- behaviour */

static char *self_exe;

/* Runs fn in a child under prog (after no_new_privs); returns the
 * child's wait status. fn's return value is the exit status. */
static int in_child(const struct sec_prog *prog, int nnp, int (*fn)(const void *),
    const void *arg)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(200);
		if (prog && sec_install(prog) < 0) {
			fprintf(stderr, "%s\n", sb_error());
			_exit(201);
		}
		_exit(fn(arg));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

struct call {
	const char *name;
	long a[6];
};

/* 0 if the syscall succeeded, else its errno (255 for larger ones). */
static int do_call(const void *arg)
{
	const struct call *c = arg;
	uint32_t nr = nr_of(c->name);
	long r = syscall((long)nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);

	return r >= 0 ? 0 : errno < 255 ? errno : 255;
}

/* Each call in a child under p; the outcome must be the rules'. */
static void calls(const char *title, const struct sec_profile *p,
    const struct call *c, size_t n)
{
	struct arena a = {0};
	struct sec_prog prog;
	struct seccomp_data d;
	char name[200], why[200];
	uint32_t want, nr;
	size_t i;
	int st, k;

	if (sec_compile(&a, p, &prog) < 0) {
		report(0, title, sb_error());
		return;
	}
	for (i = 0; i < n; i++) {
		if (st_nr(c[i].name, &nr) < 0)
			continue;
		memset(&d, 0, sizeof d);
		d.nr = (int)nr;
		d.arch = SEC_AUDIT_ARCH;
		for (k = 0; k < 6; k++)   /* as the kernel sees a long */
			d.args[k] = (uint64_t)(unsigned long)c[i].a[k];
		want = st_expect(p, &d);
		st = in_child(&prog, 1, do_call, &c[i]);
		snprintf(name, sizeof name, "behaviour %s: %s(0x%lx, 0x%lx, 0x%lx, 0x%lx)", title,
		    c[i].name, c[i].a[0], c[i].a[1], c[i].a[2], c[i].a[3]);
		if ((want & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO) {
			snprintf(why, sizeof why, "status 0x%x, want errno %u", st, want & 0xffff);
			report(WIFEXITED(st) && WEXITSTATUS(st) == (int)(want & 0xffff), name, why);
		} else if (want == SECCOMP_RET_ALLOW || want == SECCOMP_RET_LOG) {
			snprintf(why, sizeof why, "status 0x%x, want not EPERM", st);
			report(WIFEXITED(st) && WEXITSTATUS(st) != EPERM && WEXITSTATUS(st) < 200,
			    name, why);
		} else if (want == SECCOMP_RET_KILL_PROCESS || want == SECCOMP_RET_KILL_THREAD) {
			snprintf(why, sizeof why, "status 0x%x, want SIGSYS", st);
			report(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, name, why);
		}
	}
	arena_free(&a);
}

static int can_install(void)
{
	static const struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sec_prog prog = { (struct sock_filter *)&allow, 1, 0 };
	int st = in_child(&prog, 1, do_call, &(struct call){ "getpid", { 0 } });

	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_custom_behaviour(void)
{
	static const struct call c[] = {
		{ "getppid", { 0 } },
		{ "getppid", { (long)0xffffffff00000000ull } },
		{ "getppid", { (long)0xffffffffull } },
		{ "getppid", { 0, (long)0x100000000ull } },
		{ "getppid", { 0, (long)0xffffffffull } },
		{ "getppid", { 0, 0, 0x1f } },
		{ "getppid", { 0, 0, 0x2f } },
		{ "getppid", { 0, 0, 0, 5 } },
		{ "getppid", { 0, 0, 0, 4 } },
		{ "getpgid", { 0 } },
		{ "getpid", { 0 } },
		{ "getuid", { 0 } },
		{ "getgid", { 0 } },
		{ "getegid", { 0 } },
	};
	struct arena a = {0};
	struct sec_profile p;
	int r = parse(&a, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":42,"
	    "\"args\":[{\"index\":0,\"value\":18446744069414584320,\"op\":\"SCMP_CMP_EQ\"}]},"
	    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":43,"
	    "\"args\":[{\"index\":1,\"value\":4294967295,\"op\":\"SCMP_CMP_GT\"}]},"
	    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":44,"
	    "\"args\":[{\"index\":2,\"value\":240,\"valueTwo\":16,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	    "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":45,"
	    "\"args\":[{\"index\":3,\"value\":5,\"op\":\"SCMP_CMP_GE\"}]},"
	    "{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	    "{\"names\":[\"getuid\"],\"action\":\"SCMP_ACT_LOG\"},"
	    "{\"names\":[\"getgid\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
	    "{\"names\":[\"getegid\"],\"action\":\"SCMP_ACT_KILL\"}"
	    "]}", &p);

	report(r == 0, "behaviour: parse the custom profile", sb_error());
	if (r == 0)
		calls("custom", &p, c, LEN(c));
	arena_free(&a);
}

static int do_file_fork_exec(const void *arg)
{
	char buf[8] = "";
	int fd, st;
	pid_t pid;

	(void)arg;
	if ((fd = open("/proc/self/stat", O_RDONLY)) < 0 || read(fd, buf, 4) != 4)
		return 10;
	close(fd);
	if (write(1, "", 0) < 0)
		return 11;
	if ((pid = fork()) < 0)
		return 12;
	if (pid == 0) {
		execl(self_exe, self_exe, "--exit", "7", (char *)NULL);
		_exit(13);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		return 14;
	return 0;
}

static int do_unshare_user(const void *arg)
{
	(void)arg;
	return unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
}

static void test_default_behaviour(void)
{
	/* arguments that do no harm if a call got through by mistake */
	static const struct call c[] = {
		{ "keyctl", { 0 /* GET_KEYRING_ID */, -1, 0 } },
		{ "add_key", { 0, 0, 0, 0, 0 } },
		{ "request_key", { 0, 0, 0, 0 } },
		{ "bpf", { -1, 0, 0 } },
		{ "perf_event_open", { 0, -1, -1, -1, 0 } },
		{ "userfaultfd", { -1 } },
		{ "kexec_load", { 0, 0, 0, -1 } },
		{ "kexec_file_load", { -1, -1, 0, 0, -1 } },
		{ "init_module", { 0, 0, 0 } },
		{ "finit_module", { -1, 0, -1 } },
		{ "delete_module", { 0, -1 } },
		{ "mount", { 0, (long)"/nonexistent/dir", 0, 0, 0 } },
		{ "umount2", { (long)"/nonexistent/dir", -1 } },
		{ "unshare", { 0x10000000 } },   /* CLONE_NEWUSER */
		{ "setns", { -1, 0 } },
		{ "swapon", { 0, 0 } },
		{ "swapoff", { 0 } },
		{ "chroot", { (long)"/nonexistent/dir" } },
		{ "clock_settime", { -1, 0 } },
		{ "socket", { 40, 1, 0 } },       /* AF_VSOCK */
		{ "socket", { 1, 1, 0 } },        /* AF_UNIX */
		{ "personality", { 0xffffffff } },
		{ "personality", { 0x0040000 } },
		{ "clone", { 0x10000000 | 17, 0, 0, 0, 0 } },
		{ "clone3", { 0, 0 } },
		{ "getpid", { 0 } },
		{ "uname", { 0 } },
		{ "statmount", { 0 } },
	};
	struct arena a = {0};
	struct sec_profile p;
	struct sec_prog prog;
	int st;

	if (sec_default(&a, 0, sec_kernel_version(), &p) < 0 || sec_compile(&a, &p, &prog) < 0) {
		report(0, "behaviour: default profile", sb_error());
		return;
	}
	calls("default", &p, c, LEN(c));
	st = in_child(&prog, 1, do_file_fork_exec, NULL);
	report(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "behaviour default: open, read, write, fork, exec work", "failed");
	st = in_child(&prog, 1, do_unshare_user, NULL);
	report(WIFEXITED(st) && WEXITSTATUS(st) == EPERM,
	    "behaviour default: unshare(CLONE_NEWUSER) gives EPERM", "not EPERM");
	arena_free(&a);
}

#if defined(__x86_64__)
static int do_int80(const void *arg)
{
	long r;

	(void)arg;
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) /* i386 getpid */
	    : "memory", "r8", "r9", "r10", "r11");
	return r == getpid() ? 0 : 1;
}

static int do_x32(const void *arg)
{
	(void)arg;
	syscall(SYS_getpid | SEC_X32_BIT);
	return 0;
}
#endif

/* SEC_FOREIGN names a binary of another ABI this kernel runs (the VM of
 * aarch64 gets the armv7 test): under our filter its first syscall dies. */
static int do_exec_foreign(const void *arg)
{
	execl(arg, arg, "--exit", "0", (char *)NULL);
	return 99;
}

static void test_foreign_exec(void)
{
	struct arena a = {0};
	struct sec_profile p = { SECCOMP_RET_ALLOW, 0, NULL, 0 };
	struct sec_prog prog;
	const char *f = getenv("SEC_FOREIGN");
	int st;

	if (!f)
		return;
	st = in_child(NULL, 0, do_exec_foreign, f);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		skip("behaviour: a foreign binary is killed", "it does not run here");
		return;
	}
	if (sec_compile(&a, &p, &prog) < 0) {
		report(0, "behaviour: allow-all profile", sb_error());
		return;
	}
	st = in_child(&prog, 1, do_exec_foreign, f);
	report(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "behaviour: a binary of another architecture is killed (SIGSYS)", "not killed");
	arena_free(&a);
}

static void test_foreign_behaviour(void)
{
	test_foreign_exec();
#if defined(__x86_64__)
	struct arena a = {0};
	struct sec_profile p = { SECCOMP_RET_ALLOW, 0, NULL, 0 };
	struct sec_prog prog;
	int st;

	if (sec_compile(&a, &p, &prog) < 0) {
		report(0, "behaviour: allow-all profile", sb_error());
		return;
	}
	st = in_child(NULL, 0, do_int80, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		skip("behaviour: i386 int $0x80 is killed", "no IA-32 emulation in this kernel");
	} else {
		st = in_child(&prog, 1, do_int80, NULL);
		report(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
		    "behaviour: i386 int $0x80 is killed (SIGSYS)", "not killed");
	}
	st = in_child(&prog, 1, do_x32, NULL);
	report(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "behaviour: an x32 syscall is killed (SIGSYS)", "not killed");
	arena_free(&a);
#else
	if (!getenv("SEC_FOREIGN"))
		skip("behaviour: foreign architecture", "no binary of another ABI to run; "
		    "the interpreter tests cover the check");
#endif
}

static int do_nothing(const void *arg)
{
	(void)arg;
	return 0;
}

static int do_install_as_nobody(const void *arg)
{
	const struct sec_prog *prog = arg;

	if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
		return 2;
	if (sec_install(prog) == 0)
		return 3;
	return strstr(sb_error(), "needs process.noNewPrivileges or CAP_SYS_ADMIN") ? 0 : 4;
}

static void test_install_behaviour(void)
{
	struct arena a = {0};
	struct sec_profile p;
	struct sec_prog prog;
	int st;

	if (parse(&a, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":"
	    "[\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\"]}", &p) < 0 ||
	    sec_compile(&a, &p, &prog) < 0) {
		report(0, "behaviour: flags", sb_error());
		return;
	}
	st = in_child(&prog, 1, do_nothing, NULL);
	report(WIFEXITED(st) && WEXITSTATUS(st) == 0 && prog.flags == 3,
	    "behaviour: installed through seccomp(2) with TSYNC and LOG", "failed");
	if (getuid() != 0) {
		skip("behaviour: no no_new_privs, no CAP_SYS_ADMIN", "not root");
	} else {
		st = in_child(NULL, 0, do_install_as_nobody, &prog);
		report(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "behaviour: without no_new_privs or CAP_SYS_ADMIN: a clear error", "wrong");
	}
	arena_free(&a);
}

static void test_behaviour(void)
{
	if (!can_install()) {
		skip("behaviour", "cannot install a filter here (qemu-user refuses "
		    "PR_SET_SECCOMP); the VM runs these");
		return;
	}
	test_custom_behaviour();
	test_default_behaviour();
	test_foreign_behaviour();
	test_install_behaviour();
}

int main(int argc, char **argv)
{
	self_exe = argv[0];
	if (argc == 3 && !strcmp(argv[1], "--exit"))
		return atoi(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "--table")) {
		print_table();
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--dump")) {
		struct arena a = {0};
		struct sec_profile p;
		struct sec_prog prog;

		if (sec_default(&a, 0, sec_kernel_version(), &p) < 0 ||
		    sec_compile(&a, &p, &prog) < 0)
			return 1;
		st_dump(stdout, prog.insns, prog.len);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--debug"))
		sb_debug = 1;
	test_table();
	test_parse_errors();
	test_parse_ok();
	test_ops();
	test_layout();
	test_big();
	test_random();
	test_default();
	test_behaviour();
	printf("# %d failed, %d skipped\n", failures, skipped);
	return failures != 0;
}
