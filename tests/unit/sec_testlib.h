/* sec_testlib.h: what test_seccomp.c and fuzz_seccomp.c share, included
 * after seccomp.c: a checker of BPF programs as the kernel's, an
 * interpreter, and the meaning of a profile evaluated directly (not
 * through BPF), to compare against. */

/* A syscall's number on this target by a scan of the table (the section
 * looks names up with sec_index_find); -1 if it has no such syscall. */
static int st_nr(const char *name, uint32_t *nr)
{
	const char *p = sec_sys_table;
	struct sec_sys e;
	int c;

	while ((p = sec_sys_next(p, &e))) {
		if ((c = strcmp(e.name, name)) < 0)
			continue;
		if (c > 0)
			break;
		*nr = sec_sys_number(e.num);
		return *nr == SEC_NONE ? -1 : 0;
	}
	return -1;
}

/* 0 if the kernel would take prog: known instructions, seccomp_data
 * loads aligned and in bounds, every jump inside, a return at the end
 * (jumps only go forward, so every path then ends in a return). */
static int st_check(const struct sock_filter *f, unsigned len, char *why, size_t n)
{
	unsigned pc, left;

	if (!len || len > BPF_MAXINSNS) {
		snprintf(why, n, "length %u", len);
		return -1;
	}
	for (pc = 0; pc < len; pc++) {
		left = len - pc - 1;
		switch (f[pc].code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (f[pc].k % 4 || f[pc].k >= sizeof(struct seccomp_data)) {
				snprintf(why, n, "%u: load at %u", pc, f[pc].k);
				return -1;
			}
			break;
		case BPF_ALU | BPF_AND | BPF_K:
		case BPF_RET | BPF_K:
			break;
		case BPF_JMP | BPF_JA:
			if (f[pc].k >= left) {
				snprintf(why, n, "%u: ja %u out of the program", pc, f[pc].k);
				return -1;
			}
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K:
			if (f[pc].jt >= left || f[pc].jf >= left) {
				snprintf(why, n, "%u: jump %u/%u out of the program", pc,
				    f[pc].jt, f[pc].jf);
				return -1;
			}
			break;
		default:
			snprintf(why, n, "%u: opcode 0x%x", pc, f[pc].code);
			return -1;
		}
	}
	if (f[len - 1].code != (BPF_RET | BPF_K)) {
		snprintf(why, n, "no return at the end");
		return -1;
	}
	return 0;
}

/* Runs a checked program; returns its result. */
static uint32_t st_run(const struct sock_filter *f, unsigned len,
    const struct seccomp_data *d)
{
	uint32_t a = 0, pc = 0;

	while (pc < len) {
		const struct sock_filter *i = &f[pc++];

		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			memcpy(&a, (const char *)d + i->k, 4);
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= i->k;
			break;
		case BPF_JMP | BPF_JA:
			pc += i->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += a > i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += a & i->k ? i->jt : i->jf;
			break;
		case BPF_RET | BPF_K:
			return i->k;
		}
	}
	return 0xdeadbeef;
}

static int st_arg_matches(const struct sec_arg *c, const struct seccomp_data *d)
{
	uint64_t x = d->args[c->index];

	if (SEC_ARG32)
		x &= 0xffffffffu;
	switch (c->op) {
	case SEC_NE: return x != c->value;
	case SEC_LT: return x < c->value;
	case SEC_LE: return x <= c->value;
	case SEC_EQ: return x == c->value;
	case SEC_GE: return x >= c->value;
	case SEC_GT: return x > c->value;
	default: return (x & c->value) == c->value2;
	}
}

/* What the filter of p must return for d, from the rules themselves. */
static uint32_t st_expect(const struct sec_profile *p, const struct seccomp_data *d)
{
	uint32_t nr = (uint32_t)d->nr, act = p->default_action & SECCOMP_RET_ACTION_FULL;
	const struct sec_rule *best = NULL;
	uint64_t top = 0;
	int named = 0, stub;
	size_t i, j;

	if (d->arch != SEC_AUDIT_ARCH)
		return SECCOMP_RET_KILL_PROCESS;
#ifdef SEC_X32_BIT
	if (nr >= SEC_X32_BIT && nr != 0xffffffffu)
		return SECCOMP_RET_KILL_PROCESS;
#endif
	for (i = 0; i < p->nrules; i++) {
		const struct sec_rule *r = &p->rules[i];

		if (r->nr + 0ull < SEC_PRIVATE_BASE && r->nr + 1ull > top)
			top = r->nr + 1ull;
		if (r->nr != nr)
			continue;
		named = 1;
		for (j = 0; j < r->nargs && st_arg_matches(&r->args[j], d); j++)
			;
		if (j < r->nargs)
			continue;
		if (!best || (int32_t)(r->action & 0xffff0000u) <
		    (int32_t)(best->action & 0xffff0000u))
			best = r;   /* rules are in profile order: ties keep the first */
	}
	if (best)
		return best->action;
	stub = act != SECCOMP_RET_ALLOW && act != SECCOMP_RET_LOG &&
	    act != SECCOMP_RET_TRACE && p->default_action != SEC_ENOSYS;
	if (!named && stub && top && nr >= top && nr + 0ull < SEC_PRIVATE_BASE)
		return SEC_ENOSYS;
	return p->default_action;
}

static void st_dump(FILE *o, const struct sock_filter *f, unsigned len)
{
	unsigned pc;

	for (pc = 0; pc < len; pc++)
		fprintf(o, "%4u: code %04x jt %3u jf %3u k 0x%08x\n", pc, f[pc].code,
		    f[pc].jt, f[pc].jf, f[pc].k);
}
