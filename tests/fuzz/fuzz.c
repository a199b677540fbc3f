/* tests/fuzz/fuzz.c: fuzz harnesses for the parsers in sandbox.c that read
 * outside data. The file includes sandbox.c, so every static function is in
 * reach, and holds all harnesses; which one runs is chosen at run time, so
 * one compile serves them all (see README.md):
 *
 *   libFuzzer (make fuzz): build/fuzz/fuzz, clang -fsanitize=fuzzer,address,
 *     undefined; run as build/fuzz/fuzz-NAME (a link: the name after "fuzz-"
 *     picks the harness) or with FUZZ_HARNESS=NAME.
 *   replay (-DFUZZ_REPLAY, tests/run unit): a main() that runs every file of
 *     tests/fuzz/NAME/ through harness NAME once, one child process per
 *     harness, and prints "ok - fuzz-replay NAME: N inputs" or "not ok".
 *
 * Harnesses (input format, and what is checked beyond the sanitizers):
 *   json      JSON text: json_parse; an accepted document written back by
 *             json_write parses to the same tree and writes the same text;
 *             json_get finds each member; a refusal says "json: ".
 *   config    config.json: sb_config_parse (linux.seccomp compiled too);
 *             a refusal has a message; nothing leaks either way.
 *   seccomp   a linux.seccomp object; or 0xff + binary rules; or 0xfe +
 *             capabilities and kernel version for the default profile:
 *             sec_parse/sec_default, sec_compile; the program passes the
 *             kernel's checks and gives the rules' verdict for syscalls and
 *             arguments near those of the rules (tests/unit/sec_testlib.h).
 *   manifest  a manifest or index (JSON): reg_manifest_kind, then as
 *             reg_manifest does reg_index_pick + reg_desc_parse for several
 *             platforms, or reg_image_layers; and the image-load side:
 *             index_pick, load_chain.
 *   auth      a WWW-Authenticate value: reg_auth_parse with room for 4 and
 *             for 1 challenge (the first must not differ); reg_b64_decode
 *             (re-encoding decodes to the same bytes); reg_range_ok.
 *   ref       an image reference: ref_parse; ref_format of an accepted one
 *             parses to the same reference; sha_parse/sha_hex round trip.
 *   head      an HTTP response head: http_parse_head, http_header_next,
 *             http_list over every value (elements trimmed, inside the
 *             value, without commas), reg_ctype.
 *   chunk     byte 0: feeding step; then a chunked body: http_chunk_step fed
 *             in steps must agree with a byte-at-a-time decode.
 *   url       "URL\nLocation": http_url_parse, then http_url_follow.
 *   san       a DER certificate: http_san_has_ip (the subjectAltName walk).
 *   dns       a DNS response: dns_parse (A/AAAA records); the input as a
 *             host name: dns_query builds a query within its 280 bytes.
 *   pem       a CA file: http_ta_feed whole and byte by byte must give the
 *             same verdict and the same trust anchors.
 *   tar       byte 0 mode, byte 1 chunk size, then an archive (or entries
 *             for a builder): tar_x_* extracts into SCRATCH/t; nothing
 *             outside t may change, no descriptor may leak.
 *   inflate   byte 0: gzip/raw, mode, chunk seed: inf_run against zlib
 *             (same verdict and output), or a zlib-compressed round trip.
 *   zstd      a zstd stream: zst_decode fed whole and in chunks must agree;
 *             where libzstd decodes it, the output must be the same.
 */
#define SANDBOX_NO_MAIN
#include "../../sandbox.c"
#include "../unit/sec_testlib.h"

#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

/* A failed property: say which, then abort (a crash to libFuzzer). */
#define FZ_FAIL(...) (fprintf(stderr, "fuzz: " __VA_ARGS__), fputc('\n', stderr), abort())
#define FZ_CHECK(cond, ...) do { if (!(cond)) FZ_FAIL(__VA_ARGS__); } while (0)

/* The input as a NUL-terminated string (it may hold NULs of its own). */
static char *fz_str(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, d, n);
	s[n] = 0;
	return s;
}

/* ================================================================= json */

/* Same tree? Strings compare up to a NUL: json_write stops there. */
static int fz_json_same(const struct json *a, const struct json *b)
{
	const struct json *x, *y;

	if (a->type != b->type || a->n != b->n)
		return 0;
	if ((a->key == NULL) != (b->key == NULL) || (a->key && strcmp(a->key, b->key)))
		return 0;
	switch (a->type) {
	case JSON_NUMBER:
		return a->len == b->len && !memcmp(a->str, b->str, a->len) &&
		    a->u == b->u && a->neg == b->neg && a->isint == b->isint;
	case JSON_STRING:
		return !strcmp(a->str, b->str);
	case JSON_ARRAY:
	case JSON_OBJECT:
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if (!fz_json_same(x, y))
				return 0;
		return !x && !y;
	default:
		return 1;
	}
}

/* Structure: counts match, strings hold len bytes, members findable. */
static int fz_json_walk(const struct json *v, const struct json *parent, int depth)
{
	const struct json *e;
	size_t k = 0;

	FZ_CHECK(depth <= SB_JSON_MAX_DEPTH, "json: depth %d accepted", depth);
	if (parent && parent->type == JSON_OBJECT)
		FZ_CHECK(v->key && json_get(parent, v->key) == v,
		    "json: member \"%s\" not found by json_get", v->key ? v->key : "(null)");
	if (v->type == JSON_STRING)
		FZ_CHECK(v->str && v->str[v->len] == 0 && strlen(v->str) <= v->len,
		    "json: string length");
	if (v->type == JSON_NUMBER)
		FZ_CHECK(v->str && v->len && strlen(v->str) == v->len, "json: number text");
	if (v->type != JSON_ARRAY && v->type != JSON_OBJECT)
		return 0;
	for (e = v->child; e; e = e->next, k++)
		fz_json_walk(e, v, depth + 1);
	FZ_CHECK(k == v->n, "json: %zu children, n says %zu", k, v->n);
	return 0;
}

static int fz_json(const uint8_t *d, size_t n)
{
	struct arena a = {0}, b = {0};
	struct buf o1 = {0}, o2 = {0};
	const struct json *v, *w;

	err_set("(none)");
	if (!(v = json_parse(&a, (const char *)d, n))) {
		FZ_CHECK(!strncmp(sb_error(), "json: ", 6) ||
		    !strcmp(sb_error(), "out of memory"), "json: refusal without context: %s",
		    sb_error());
		arena_free(&a);
		return 0;
	}
	fz_json_walk(v, NULL, 1);
	json_write(&o1, v);
	FZ_CHECK(!o1.oom && o1.p, "json: json_write failed");
	w = json_parse(&b, o1.p, o1.len);
	FZ_CHECK(w, "json: json_write's output does not parse: %s\n%s", sb_error(), o1.p);
	FZ_CHECK(fz_json_same(v, w), "json: the written document differs:\n%s", o1.p);
	json_write(&o2, w);
	FZ_CHECK(o1.len == o2.len && !memcmp(o1.p, o2.p, o1.len),
	    "json: writing twice differs:\n%s\n%s", o1.p, o2.p);
	buf_free(&o1);
	buf_free(&o2);
	arena_free(&a);
	arena_free(&b);
	return 0;
}

/* =============================================================== config */

static int fz_config(const uint8_t *d, size_t n)
{
	struct sb_config *c;

	err_set("%s", "");
	c = sb_config_parse((const char *)d, n, "/nonexistent/bundle");
	if (c)
		sb_config_free(c);
	else
		FZ_CHECK(*sb_error(), "config: refused without a message");
	return 0;
}

/* ============================================================== seccomp */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static uint64_t fz_bytes(struct fz_in *f, unsigned k)
{
	uint64_t v = 0;

	while (k--) {
		v = v << 8 | (f->n ? *f->p : 0);
		if (f->n) {
			f->p++;
			f->n--;
		}
	}
	return v;
}

static const uint32_t fz_actions[] = {
	SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
	SECCOMP_RET_ERRNO | 1, SECCOMP_RET_ERRNO | 38, SECCOMP_RET_ERRNO | 2,
	SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW,
};

/* Rules from bytes, to reach the compiler with more shapes than JSON
 * finds quickly; the profile lives in a. */
static int fz_sec_binary(struct arena *a, struct fz_in *f, struct sec_profile *p)
{
	size_t cap = 300;
	uint32_t j;

	memset(p, 0, sizeof *p);
	p->default_action = fz_actions[fz_bytes(f, 1) % LEN(fz_actions)];
	if (!(p->rules = arena_alloc(a, cap * sizeof *p->rules)))
		return -1;
	while (f->n && p->nrules < cap) {
		struct sec_rule *r = &p->rules[p->nrules];
		struct sec_arg *c;
		unsigned sel = (unsigned)fz_bytes(f, 1);

		r->nr = sel & 0x80 ? (uint32_t)fz_bytes(f, 4) : (uint32_t)fz_bytes(f, 2) % 700;
		r->action = fz_actions[sel % LEN(fz_actions)];
		r->order = (uint32_t)p->nrules++;
		r->nargs = (uint32_t)fz_bytes(f, 1) % 7;
		if (!r->nargs)
			continue;
		if (!(c = arena_alloc(a, r->nargs * sizeof *c)))
			return -1;
		for (j = 0; j < r->nargs; j++) {
			unsigned b = (unsigned)fz_bytes(f, 1);

			c[j].index = (uint8_t)(b % 6);
			c[j].op = (uint8_t)(b / 6 % 7);
			c[j].value = b & 0x80 ? fz_bytes(f, 8) : fz_bytes(f, 1);
			c[j].value2 = b & 0x40 ? fz_bytes(f, 8) : fz_bytes(f, 1);
		}
		r->args = c;
	}
	return 0;
}

/* An argument near what c compares with. */
static uint64_t fz_sec_near(const struct sec_arg *c, uint64_t salt)
{
	uint64_t v = c->op == SEC_MASKED_EQ ? (c->value2 | (salt & ~c->value)) : c->value;

	switch (salt % 5) {
	case 0: return v - 1;
	case 1: return v + 1;
	case 2: return v ^ 0xffffffff00000000ull;
	case 3: return salt;
	default: return v;
	}
}

static void fz_sec_compare(const struct sec_profile *p, const struct sec_prog *prog,
    uint64_t salt)
{
	struct seccomp_data d;
	size_t i, t;
	uint32_t j, got, want;

	for (i = 0; i < p->nrules + 4; i++) {
		for (t = 0; t < 6; t++) {
			const struct sec_rule *r = p->nrules ? &p->rules[(i + t) % p->nrules] : NULL;

			salt = salt * 6364136223846793005ull + 1442695040888963407ull;
			memset(&d, 0, sizeof d);
			d.arch = SEC_AUDIT_ARCH;
			d.nr = (int)(r ? r->nr + (uint32_t)(t % 3) - 1 : (uint32_t)salt);
			if (i >= p->nrules)
				d.nr = (int)(uint32_t)(salt >> 20);
			for (j = 0; j < 6; j++)
				d.args[j] = salt >> (j * 7);
			if (r)
				for (j = 0; j < r->nargs; j++)
					d.args[r->args[j].index] = fz_sec_near(&r->args[j], salt >> j);
			got = st_run(prog->insns, prog->len, &d);
			want = st_expect(p, &d);
			if (got != want) {
				st_dump(stderr, prog->insns, prog->len);
				FZ_FAIL("seccomp: nr %u: program 0x%x, rules 0x%x",
				    (unsigned)d.nr, got, want);
			}
		}
	}
}

static int fz_seccomp(const uint8_t *data, size_t size)
{
	struct arena a = {0};
	struct sec_profile p;
	struct sec_prog prog;
	struct json *v;
	struct fz_in f = { data, size };
	uint64_t salt = 0;
	char why[200];
	size_t i;
	int r;

	for (i = 0; i < size; i++)
		salt = salt * 31 + data[i];
	err_set("(none)");
	(void)sec_install;
	(void)sec_kernel_version;
	if (size && data[0] == 0xff) {
		f.p++;
		f.n--;
		r = fz_sec_binary(&a, &f, &p);
	} else if (size && data[0] == 0xfe) {
		f.p++;
		f.n--;
		r = sec_default(&a, fz_bytes(&f, 8), (unsigned)fz_bytes(&f, 3), &p);
	} else {
		r = (v = json_parse(&a, (const char *)data, size)) ? sec_parse(&a, v, &p) : -1;
	}
	if (r == 0 && sec_compile(&a, &p, &prog) == 0) {
		if (st_check(prog.insns, prog.len, why, sizeof why) < 0) {
			st_dump(stderr, prog.insns, prog.len);
			FZ_FAIL("seccomp: invalid program: %s", why);
		}
		fz_sec_compare(&p, &prog, salt);
	} else {
		FZ_CHECK(!strncmp(sb_error(), SEC_PATH, strlen(SEC_PATH)) ||
		    !strncmp(sb_error(), "json: ", 6) || !strcmp(sb_error(), "out of memory"),
		    "seccomp: error without context: %s", sb_error());
	}
	arena_free(&a);
	return 0;
}

/* ============================================================= manifest */

static void fz_digest_ok(const char *dg, const char *what)
{
	uint8_t bin[32];
	char hex[72];

	FZ_CHECK(strlen(dg) == 71 && sha_parse(dg, 71, bin) == 0, "manifest: %s digest %s", what, dg);
	sha_hex(bin, hex);
	FZ_CHECK(!strcmp(hex, dg), "manifest: %s digest %s is not canonical", what, dg);
}

static int fz_manifest(const uint8_t *d, size_t n)
{
	static const char *const plats[] = {
		"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v5", "linux/mipsle",
		"linux/riscv64", "windows/amd64",
	};
	static const char *const ctypes[] = {
		"", "application/json", REG_MT_OCI_INDEX, REG_MT_DOCKER_MANIFEST,
		"text/plain",
	};
	struct reg_image img = {0};
	const struct json *root, *ids, *e;
	struct reg_platform want, got;
	const char *mt;
	size_t i, k;
	int kind;

	if (!(root = json_parse(&img.a, (const char *)d, n))) {
		reg_image_free(&img);
		return 0;
	}
	err_set("%s", "");
	kind = reg_manifest_kind(root, ctypes[n % LEN(ctypes)], &mt);
	if (kind == REG_INDEX) {
		for (i = 0; i < LEN(plats); i++) {
			struct reg_desc desc;

			FZ_CHECK(reg_platform_parse(&want, plats[i]) == 0, "platform %s", plats[i]);
			if (!(e = reg_index_pick(root, &want, &got)))
				continue;
			FZ_CHECK(reg_platform_score(&want, &got) > 0, "manifest: picked a platform "
			    "that cannot run");
			if (reg_desc_parse(e, &desc, "index entry") == 0)
				fz_digest_ok(desc.digest, "index entry");
		}
	} else if (kind == REG_IMAGE && reg_image_layers(&img, root) == 0) {
		fz_digest_ok(img.config.digest, "config");
		for (i = 0; i < img.nlayers; i++)
			fz_digest_ok(img.layers[i].digest, "layer");
	} else {
		FZ_CHECK(*sb_error(), "manifest: refused without a message");
	}
	/* `sandbox load`: an OCI layout's index, a config's diff_ids */
	if (json_get(root, "manifests") && (e = index_pick(root, "fuzz")))
		FZ_CHECK(e->type == JSON_OBJECT, "manifest: index_pick gave a non-object");
	ids = json_get(json_get(root, "rootfs"), "diff_ids");
	k = ids && ids->type == JSON_ARRAY ? ids->n : 0;
	{
		struct layer *layers = calloc(k + 1, sizeof *layers);

		if (!layers)
			abort();
		if (load_chain(root, layers, k, "fuzz") == 0)
			for (i = 0; i < k; i++) {
				fz_digest_ok(layers[i].diff, "diff_id");
				fz_digest_ok(layers[i].chain, "chain");
			}
		free(layers);
	}
	reg_image_free(&img);
	return 0;
}

/* ================================================================= auth */

static int fz_auth(const uint8_t *d, size_t n)
{
	static struct reg_challenge ch[4], one[1];
	char *s = fz_str(d, n);
	unsigned char *dec = malloc(n / 4 * 3 + 1), *dec2 = malloc(n / 4 * 3 + 1);
	char *enc = malloc(n / 3 * 4 + 8);
	size_t dlen, dlen2;
	int k, k1, i;

	if (!dec || !dec2 || !enc)
		abort();
	k = reg_auth_parse(s, ch, 4);
	FZ_CHECK(k <= 4, "auth: %d challenges in room for 4", k);
	for (i = 0; i < k; i++)
		FZ_CHECK(strlen(ch[i].realm) < sizeof ch[i].realm &&
		    strlen(ch[i].scope) < sizeof ch[i].scope &&
		    strlen(ch[i].service) < sizeof ch[i].service &&
		    strlen(ch[i].error) < sizeof ch[i].error &&
		    strlen(ch[i].scheme) < sizeof ch[i].scheme, "auth: field overrun");
	k1 = reg_auth_parse(s, one, 1);
	FZ_CHECK((k < 0) == (k1 < 0) && (k < 0 || k1 == (k > 0)),
	    "auth: %d challenges with room for 4, %d with room for 1", k, k1);
	if (k > 0)
		FZ_CHECK(!memcmp(&ch[0], &one[0], sizeof one[0]), "auth: first challenge differs");
	/* Basic credentials in a docker config.json: base64 */
	if (reg_b64_decode(s, n, dec, &dlen) == 0) {
		FZ_CHECK(dlen <= n / 4 * 3, "auth: base64 output overrun");
		reg_b64_encode(dec, dlen, enc);
		FZ_CHECK(reg_b64_decode(enc, strlen(enc), dec2, &dlen2) == 0 && dlen2 == dlen &&
		    !memcmp(dec, dec2, dlen), "auth: base64 re-encoding decodes differently");
	}
	(void)reg_range_ok(s, 0);
	(void)reg_range_ok(s, n);
	free(dec);
	free(dec2);
	free(enc);
	free(s);
	return 0;
}

/* ================================================================== ref */

static int fz_ref(const uint8_t *d, size_t n)
{
	static struct ref r, r2;
	static char out[REF_STR_MAX], out2[REF_STR_MAX];
	char *s = fz_str(d, n), hex[72];
	uint8_t bin[32];

	if (strlen(s) == n && ref_parse(&r, s) == 0) {
		FZ_CHECK(ref_format(&r, out, sizeof out) >= 0, "ref: %s: format failed", s);
		FZ_CHECK(ref_parse(&r2, out) == 0, "ref: %s formats to %s, which does not parse: %s",
		    s, out, sb_error());
		FZ_CHECK(!strcmp(r.domain, r2.domain) && !strcmp(r.path, r2.path) &&
		    !strcmp(r.tag, r2.tag) && !strcmp(r.digest, r2.digest) &&
		    !strcmp(r.host, r2.host) && r.port == r2.port,
		    "ref: %s -> %s parses to something else", s, out);
		FZ_CHECK(ref_format(&r2, out2, sizeof out2) >= 0 && !strcmp(out, out2),
		    "ref: formatting is not idempotent: %s, %s", out, out2);
		FZ_CHECK(strlen(r.domain) + 1 + strlen(r.path) <= REF_NAME_MAX,
		    "ref: name longer than %d", REF_NAME_MAX);
		(void)name_familiar(out);
	}
	if (sha_parse(s, n, bin) == 0) {
		sha_hex(bin, hex);
		FZ_CHECK(n == 71 && !memcmp(hex, s, 71), "ref: sha_parse/sha_hex round trip");
	}
	free(s);
	return 0;
}

/* ================================================================= head */

struct fz_list {
	const char *v, *end;
};

static int fz_list_elem(void *ctx, const char *s, size_t n)
{
	struct fz_list *l = ctx;

	FZ_CHECK(s >= l->v && s + n <= l->end, "head: http_list element outside the value");
	FZ_CHECK(n && !http_ows(s[0]) && !http_ows(s[n - 1]), "head: http_list element untrimmed");
	FZ_CHECK(!memchr(s, ',', n), "head: http_list element with a comma");
	return 0;
}

static int fz_head(const uint8_t *d, size_t n)
{
	static struct http_resp r;
	char *s = fz_str(d, n), ct[128];
	size_t i = 0;

	if (http_parse_head(s, n, &r) == 0) {
		FZ_CHECK(r.status >= 100 && r.status <= 599 && r.nhdr <= SB_HTTP_MAX_HEADERS,
		    "head: status %d, %zu headers", r.status, r.nhdr);
		FZ_CHECK(!r.chunked || r.length == -1, "head: chunked with a length");
		FZ_CHECK(r.version || r.close, "head: HTTP/1.0 kept open");
		while (http_header_next(&r, "www-authenticate", &i))
			;
		for (i = 0; i < r.nhdr; i++) {
			struct fz_list l = { r.hdr[i].value, r.hdr[i].value + strlen(r.hdr[i].value) };

			FZ_CHECK(*r.hdr[i].name && r.hdr[i].name >= s && r.hdr[i].name < s + n &&
			    r.hdr[i].value >= s && l.end <= s + n, "head: header outside the buffer");
			FZ_CHECK(http_header(&r, r.hdr[i].name), "head: header %s not found",
			    r.hdr[i].name);
			http_list(r.hdr[i].value, fz_list_elem, &l);
		}
		reg_ctype(&r, ct, sizeof ct);
		(void)reg_range_ok(http_header(&r, "content-range"), 0);
	}
	free(s);
	return 0;
}

/* ================================================================ chunk */

/* Reference: the whole input at once, byte by byte. */
static long fz_dechunk_ref(const uint8_t *d, size_t n, uint8_t *out, int *done)
{
	struct http_chunk c = {0};
	size_t i, used, dlen, o = 0;

	*done = 0;
	for (i = 0; i < n && c.state != CH_DONE; ) {
		if (http_chunk_step(&c, d + i, 1, &used, &dlen) < 0)
			return -1;
		if (dlen)
			memcpy(out + o, d + i, dlen);
		o += dlen;
		i += used;
	}
	*done = c.state == CH_DONE;
	return (long)o;
}

static int fz_chunk(const uint8_t *d, size_t n)
{
	struct http_chunk c = {0};
	uint8_t *a, *b;
	size_t off, used, dlen, o = 0, step;
	int rdone, err = 0;
	long rn;

	if (n < 1)
		return 0;
	step = 1 + d[0] % 64;
	d++, n--;
	a = malloc(n + 1);
	b = malloc(n + 1);
	if (!a || !b)
		abort();
	rn = fz_dechunk_ref(d, n, a, &rdone);
	for (off = 0; off < n && c.state != CH_DONE; ) {
		size_t k = n - off < step ? n - off : step, at = 0;

		while (at < k && c.state != CH_DONE) {
			if (http_chunk_step(&c, d + off + at, k - at, &used, &dlen) < 0) {
				err = 1;
				goto out;
			}
			FZ_CHECK(used <= k - at && dlen <= used, "chunk: used %zu of %zu, data %zu",
			    used, k - at, dlen);
			FZ_CHECK(used || c.state == CH_DONE, "chunk: no progress");
			if (dlen)
				memcpy(b + o, d + off + at, dlen);
			o += dlen;
			at += used;
		}
		off += at;
	}
out:
	FZ_CHECK(err == (rn < 0), "chunk: stepped %s, byte at a time %s", err ? "fails" : "ok",
	    rn < 0 ? "fails" : "ok");
	FZ_CHECK(err || ((long)o == rn && !memcmp(a, b, o) && rdone == (c.state == CH_DONE)),
	    "chunk: stepped decode differs from the byte-at-a-time one");
	free(a);
	free(b);
	return 0;
}

/* ================================================================== url */

static void fz_url_ok(const struct http_url *u, const char *what)
{
	size_t i;

	FZ_CHECK(u->path[0] == '/' && u->port && u->host[0], "url: %s: path %s port %u host %s",
	    what, u->path, u->port, u->host);
	for (i = 0; u->path[i]; i++)
		FZ_CHECK((unsigned char)u->path[i] > ' ' && (unsigned char)u->path[i] < 0x7f,
		    "url: %s: control or space in the path", what);
	FZ_CHECK(!strchr(u->host, '/') && !strchr(u->host, '@'), "url: %s: host %s", what, u->host);
}

static int fz_url(const uint8_t *d, size_t n)
{
	static struct http_url u;
	const uint8_t *nl = memchr(d, '\n', n);
	char *a = fz_str(d, nl ? (size_t)(nl - d) : n);
	char *b = nl ? fz_str(nl + 1, n - (size_t)(nl - d) - 1) : NULL;

	if (http_url_parse(&u, a) == 0) {
		fz_url_ok(&u, "parse");
		if (b && http_url_follow(&u, b) == 0)
			fz_url_ok(&u, "follow");
	}
	free(a);
	free(b);
	return 0;
}

/* ================================================================== san */

static int fz_san(const uint8_t *d, size_t n)
{
	static const unsigned char ip4[4] = { 127, 0, 0, 1 };
	unsigned char *copy;

	/* an exact-size copy, so that ASan sees a read past the end */
	if (n < 4 || !(copy = malloc(n)))
		return 0;
	memcpy(copy, d, n);
	http_san_has_ip(copy, n, ip4, 4);
	http_san_has_ip(copy + 4, n - 4, copy, 4);
	if (n >= 16)
		http_san_has_ip(copy + 16, n - 16, copy, 16);
	free(copy);
	return 0;
}

/* ================================================================== dns */

/* A DNS response (UDP from a nameserver, spoofable): dns_parse, with the
 * id taken from the message so that the fuzzer need not guess it; and the
 * input as a host name for dns_query, into an exact-size buffer. */
static int fz_dns(const uint8_t *d, size_t n)
{
	struct dns_answer r;
	unsigned char *m = malloc(n ? n : 1), *q = malloc(280);
	char *name = fz_str(d, n);
	int i, k, code;

	if (!m || !q)
		abort();
	if (n)
		memcpy(m, d, n);
	memset(&r, 0, sizeof r);
	code = dns_parse(m, n, n >= 2 ? (unsigned)(d[0] << 8 | d[1]) : 0, &r);
	FZ_CHECK(code < 16 && r.n >= 0 && r.n <= DNS_ADDRS, "dns: rcode %d, %d addresses", code, r.n);
	for (i = 0; i < r.n; i++)
		FZ_CHECK(r.v[i].family == AF_INET || r.v[i].family == AF_INET6, "dns: family");
	if ((k = dns_query(q, name, 0x1234, 28)) >= 0) {
		struct dns_answer none = { .n = 0 };

		FZ_CHECK(k >= 17 && k <= 280, "dns: query of %d bytes", k);
		/* a query is not a response: refused whatever it holds */
		FZ_CHECK(dns_parse(q, (size_t)k, 0x1234, &none) < 0 && !none.n, "dns: query taken as an answer");
	}
	free(m);
	free(q);
	free(name);
	return 0;
}

/* ================================================================== pem */

/* A trust-anchor file (PEM): fed whole, then one byte at a time, the
 * verdict, the error and the anchors (DN, key) must be the same. */
static void fz_pem_run(struct http_client *cl, const uint8_t *d, size_t n, size_t step,
    int *rc, char *why, size_t whylen)
{
	struct http_taload *l = calloc(1, sizeof *l);
	size_t k;

	FZ_CHECK(l != NULL, "pem: out of memory");
	memset(cl, 0, sizeof *cl);
	l->bol = 1;
	*rc = 0;
	for (k = 0; k < n && *rc == 0; k += step)
		*rc = http_ta_feed(cl, l, d + k, n - k < step ? n - k : step, "f");
	if (*rc == 0)
		*rc = http_ta_end(cl, l, "f");
	snprintf(why, whylen, "%s", *rc ? sb_error() : "");
	free(l);
}

static int fz_pem(const uint8_t *d, size_t n)
{
	struct http_client a, b;
	char wa[512], wb[512];
	int ra, rb;
	size_t i;

	fz_pem_run(&a, d, n, n ? n : 1, &ra, wa, sizeof wa);
	fz_pem_run(&b, d, n, 1, &rb, wb, sizeof wb);
	FZ_CHECK(ra == rb && !strcmp(wa, wb), "pem: whole %d \"%s\", bytewise %d \"%s\"", ra, wa, rb, wb);
	FZ_CHECK(a.nta == b.nta, "pem: %zu anchors whole, %zu bytewise", a.nta, b.nta);
	for (i = 0; i < a.nta; i++) {
		FZ_CHECK(a.ta[i].dn.len == b.ta[i].dn.len &&
		    !memcmp(a.ta[i].dn.data, b.ta[i].dn.data, a.ta[i].dn.len) &&
		    a.ta[i].pkey.key_type == b.ta[i].pkey.key_type, "pem: anchor %zu differs", i);
	}
	free(a.ta);
	arena_free(&a.ta_arena);
	free(b.ta);
	arena_free(&b.ta_arena);
	return 0;
}

/* ================================================================== tar */

/* Each input is extracted into SCRATCH/t, a fresh directory; SCRATCH also
 * holds "outside" (a file, a directory, a symlink) and a sentinel. After
 * each run the listing of SCRATCH without t (types, modes, owners, sizes,
 * m- and ctimes, link targets) must be what it was, t must still be a
 * directory, and no descriptor may have leaked; then t is removed.
 * SCRATCH is a fresh directory under $FUZZ_SCRATCH (default build/fuzz),
 * removed at exit. Root only (owners, devices, trusted.* xattrs).
 *
 * Byte 0 picks the mode: bits 0-1 none/TAR_OVERLAY/TAR_APPLY (on a small
 * "earlier layer" holding symlinks out)/TAR_APPLY; bit 2 TAR_NO_DEVICES;
 * bit 3 the path_walk fallback; bit 4 structured input; bit 5 repair
 * checksums (raw input); bits 6-7 with byte 1 the feeding chunk size.
 * Raw input is the archive itself; structured input is a list of entries
 * built into a valid archive from a dictionary of hostile names (".." and
 * absolute paths to SCRATCH/outside, whiteouts, long names), so that the
 * fuzzer spends its time on the filesystem side rather than on checksums. */

static char fz_scratch[PATH_MAX], fz_target[PATH_MAX + 8], fz_outside[PATH_MAX + 16];
static char *fz_before;

struct fz_sbuf {
	char *p;
	size_t len, cap;
};

static void fz_sb_put(struct fz_sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void fz_list_rec(struct fz_sbuf *out, int dfd, const char *rel, int top)
{
	DIR *d;
	struct dirent *e;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY);

	if (fd < 0 || !(d = fdopendir(fd)))
		FZ_FAIL("tar: cannot list %s: %s", rel, strerror(errno));
	while ((e = readdir(d))) {
		char line[PATH_MAX + 512], lnk[256] = "";
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (top && !strcmp(e->d_name, "t")))
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			FZ_FAIL("tar: stat %s/%s: %s", rel, e->d_name, strerror(errno));
		if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlinkat(dfd, e->d_name, lnk, sizeof lnk - 1);

			lnk[k < 0 ? 0 : k] = 0;
		}
		snprintf(line, sizeof line, "%s/%s %o %u:%u %lld %lld.%ld %lld.%ld %s\n",
		    rel, e->d_name, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		    (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec, lnk);
		fz_sb_put(out, line, strlen(line));
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			char r2[PATH_MAX];

			if (sub < 0)
				FZ_FAIL("tar: open %s/%s: %s", rel, e->d_name, strerror(errno));
			snprintf(r2, sizeof r2, "%s/%s", rel, e->d_name);
			fz_list_rec(out, sub, r2, 0);
			close(sub);
		}
	}
	closedir(d);
}

static char *fz_list_outside(void)
{
	struct fz_sbuf b = { 0 };
	int fd = open(fz_scratch, O_RDONLY | O_DIRECTORY);

	fz_sb_put(&b, "", 0);
	fz_list_rec(&b, fd, "", 1);
	close(fd);
	return b.p;
}

/* rm -r by chdir, holding no descriptor per level: trees here can be
 * 2000 levels deep, and their paths longer than PATH_MAX from "/". */
static void fz_rm_tree(const char *name)
{
	struct stat st;
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, i;
	DIR *d;

	if (lstat(name, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(name) < 0)
			FZ_FAIL("tar: unlink %s: %s", name, strerror(errno));
		return;
	}
	chmod(name, 0700);
	if (chdir(name) < 0 || !(d = opendir(".")))
		FZ_FAIL("tar: enter %s: %s", name, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		v = realloc(v, (n + 1) * sizeof *v);
		if (!v || !(v[n++] = strdup(e->d_name)))
			abort();
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		fz_rm_tree(v[i]);
		free(v[i]);
	}
	free(v);
	if (chdir("..") < 0 || rmdir(name) < 0)
		FZ_FAIL("tar: rmdir %s: %s", name, strerror(errno));
}

static void fz_tar_cleanup(void)
{
	int fd = open(".", O_PATH | O_DIRECTORY);

	if (chdir(fz_scratch) == 0) {
		fz_rm_tree("t");
		fz_rm_tree("outside");
		unlink("sentinel");
		if (chdir("/") == 0)
			rmdir(fz_scratch);
	}
	if (fd >= 0) {
		if (fchdir(fd) < 0)
			perror("fchdir");
		close(fd);
	}
}

static void fz_tar_setup(void)
{
	const char *base = getenv("FUZZ_SCRATCH") ? getenv("FUZZ_SCRATCH") : "build/fuzz";
	char p[PATH_MAX + 32], dir[PATH_MAX];
	int fd;

	mkdir(base, 0755);
	if (!realpath(base, dir))
		FZ_FAIL("tar: scratch directory %s: %s", base, strerror(errno));
	snprintf(fz_scratch, sizeof fz_scratch, "%.4000s/tar-scratch.XXXXXX", dir);
	if (!mkdtemp(fz_scratch))
		FZ_FAIL("tar: mkdtemp %s: %s", fz_scratch, strerror(errno));
	snprintf(fz_target, sizeof fz_target, "%s/t", fz_scratch);
	snprintf(fz_outside, sizeof fz_outside, "%s/outside", fz_scratch);
	mkdir(fz_outside, 0755);
	snprintf(p, sizeof p, "%s/passwd", fz_outside);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "root:x:0:0\n", 11) != 11)
		abort();
	close(fd);
	snprintf(p, sizeof p, "%s/dir", fz_outside);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/link", fz_outside);
	if (symlink("passwd", p) < 0)
		abort();
	snprintf(p, sizeof p, "%s/sentinel", fz_scratch);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	fz_before = fz_list_outside();
	atexit(fz_tar_cleanup);
}

static unsigned fz_byte(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static struct fz_sbuf fz_ar;

static void fz_ar_block(const char *name, char type, unsigned mode, uint64_t size,
    const char *link, unsigned maj, unsigned min)
{
	unsigned char h[512];
	unsigned sum = 0;
	int i;

	memset(h, 0, sizeof h);
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	snprintf((char *)h + 100, 8, "%07o", mode & 07777);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011o", 1000);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link) < 100 ? strlen(link) : 100);
	memcpy(h + 257, "ustar\0" "00", 8);
	snprintf((char *)h + 329, 8, "%07o", maj & 0777);
	snprintf((char *)h + 337, 8, "%07o", min & 0777);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	fz_sb_put(&fz_ar, (char *)h, 512);
}

static void fz_ar_data(const void *p, size_t n)
{
	static const char z[512];

	fz_sb_put(&fz_ar, p, n);
	fz_sb_put(&fz_ar, z, -n & 511);
}

static void fz_ar_pax(char type, const char *key, const char *val)
{
	char rec[PATH_MAX + 64];
	size_t body = strlen(key) + strlen(val) + 3, n = body + 1, t;

	for (;;) {
		t = body + (size_t)snprintf(rec, sizeof rec, "%zu", n);
		if (t == n)
			break;
		n = t;
	}
	snprintf(rec, sizeof rec, "%zu %s=%s\n", n, key, val);
	fz_ar_block("PaxHeaders/x", type, 0644, strlen(rec), NULL, 0, 0);
	fz_ar_data(rec, strlen(rec));
}

static const char *const fz_comps[] = {
	"a", "b", "c", "..", ".", "", "etc", "passwd", ".wh.a", ".wh.b",
	".wh..wh..opq", ".wh..wh.plnk", "d", "x", "dir", "link", "outside",
	"t", "lnk", "s",
};

/* A path from the dictionary: 1-4 components, or absolute into outside. */
static void fz_in_path(struct fz_in *in, char *out, size_t cap)
{
	unsigned k = fz_byte(in), n = 1 + (k & 3), i;

	out[0] = 0;
	if (k & 0x80)
		snprintf(out, cap, "%s/", (k & 0x40) ? fz_outside : fz_scratch);
	else if (k & 0x40)
		strcat(out, "/");
	else if (k & 0x20)
		strcat(out, "../");
	for (i = 0; i < n; i++) {
		strncat(out, fz_comps[fz_byte(in) % LEN(fz_comps)], cap - strlen(out) - 2);
		if (i + 1 < n)
			strcat(out, "/");
	}
	if (k & 0x10)
		strcat(out, "/");
	if ((k & 0x0c) == 0x0c) { /* a long name */
		size_t l = strlen(out);

		while (l + 60 < cap && l < 300)
			memcpy(out + l, "/long-component-xxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 46), l += 46;
		out[l] = 0;
	}
}

static void fz_ar_build(struct fz_in *in)
{
	static const char types[] = "0000555222113460xL";
	char name[PATH_MAX + 64], link[PATH_MAX + 64];
	uint8_t data[64];
	unsigned t, i, n;
	int entries = 0;

	fz_ar.len = 0;
	while (in->n && entries++ < 64) {
		t = fz_byte(in);
		fz_in_path(in, name, sizeof name);
		fz_in_path(in, link, sizeof link);
		if ((t >> 5) == 7) { /* a pax path / linkpath / xattr */
			fz_ar_pax('x', (t & 1) ? "linkpath" : "path", (t & 2) ? link : name);
			if (t & 4)
				fz_ar_pax('x', "SCHILY.xattr.user.x", "v");
			continue;
		}
		if ((t >> 5) == 6) { /* a GNU long name */
			fz_ar_block("././@LongLink", (t & 1) ? 'K' : 'L', 0644, strlen(name) + 1,
			    NULL, 0, 0);
			fz_ar_data(name, strlen(name) + 1);
			continue;
		}
		switch (types[t % (sizeof types - 1)]) {
		case '0':
			n = fz_byte(in) % sizeof data;
			for (i = 0; i < n; i++)
				data[i] = (uint8_t)fz_byte(in);
			fz_ar_block(name, '0', fz_byte(in) | 0400, n, NULL, 0, 0);
			fz_ar_data(data, n);
			break;
		case 'x':
			fz_ar_pax('x', "mtime", "-1.5");
			break;
		default:
			fz_ar_block(name, types[t % (sizeof types - 1)], fz_byte(in) << 3, 0, link,
			    fz_byte(in), fz_byte(in));
			break;
		}
	}
	fz_sb_put(&fz_ar, (const char[1024]){ 0 }, 1024);
}

/* Raw input: checksums repaired where the parser will find headers. */
static void fz_tar_repair(uint8_t *p, size_t n)
{
	static const uint8_t zero[512];
	size_t pos = 0;

	while (pos + 512 <= n) {
		uint8_t *h = p + pos;
		unsigned sum = 0;
		int64_t size = 0;
		int i;

		pos += 512;
		if (!memcmp(h, zero, 512))
			continue;
		memset(h + 148, ' ', 8);
		for (i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
		if (tar_num(h + 124, 12, &size) < 0 || size < 0 ||
		    (strchr("123456", h[156]) && h[156]))
			size = 0;
		if ((uint64_t)size > n)
			break;
		pos += ((size_t)size + 511) & ~(size_t)511;
	}
}

/* an "earlier layer" for TAR_APPLY, with symlinks that point out */
static void fz_tar_lower(int fd)
{
	char p[PATH_MAX + 32];

	mkdirat(fd, "a", 0755);
	mkdirat(fd, "a/d", 0755);
	close(openat(fd, "a/x", O_CREAT | O_WRONLY, 0644));
	close(openat(fd, "b", O_CREAT | O_WRONLY, 0644));
	if (symlinkat(fz_outside, fd, "s") < 0 || symlinkat("../../outside", fd, "a/lnk") < 0)
		abort();
	snprintf(p, sizeof p, "%s/passwd", fz_outside);
	if (symlinkat(p, fd, "a/d/passwd") < 0 || symlinkat("../..", fd, "c") < 0)
		abort();
}

static int fz_tar(const uint8_t *data, size_t size)
{
	static const unsigned modes[] = { 0, TAR_OVERLAY, TAR_APPLY, TAR_APPLY };
	static struct tar_x x;
	struct fz_in in;
	const uint8_t *p;
	uint8_t *copy = NULL;
	size_t n, chunk, i, k;
	unsigned f;
	int fd, probe, r = 0;
	struct stat st;
	char *now;

	if (!fz_before)
		fz_tar_setup();
	if (size < 2)
		return 0;
	f = data[0];
	chunk = ((size_t)(f >> 6) << 8 | data[1]) + 1;
	if (chunk > 700)
		chunk = SIZE_MAX;
	path_no_openat2 = (f & 8) != 0;
	in.p = data + 2;
	in.n = size - 2;
	if (f & 16) {
		fz_ar_build(&in);
		p = (const uint8_t *)fz_ar.p;
		n = fz_ar.len;
	} else {
		copy = malloc(in.n ? in.n : 1);
		if (!copy)
			abort();
		if (in.n)
			memcpy(copy, in.p, in.n);
		if (f & 32)
			fz_tar_repair(copy, in.n);
		p = copy;
		n = in.n;
	}

	probe = dup(0);
	close(probe);
	if (mkdir(fz_target, 0755) < 0)
		FZ_FAIL("tar: mkdir %s: %s", fz_target, strerror(errno));
	fd = open(fz_target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if ((f & 3) == 2)
		fz_tar_lower(fd);
	tar_x_init(&x, fd, modes[f & 3] | TAR_OWNERS | (f & 4 ? TAR_NO_DEVICES : 0));
	x.max_entries = 2000;
	x.max_pax = 1 << 16;
	x.max_file = 1 << 20;
	for (i = 0; i < n && r == 0; i += k) {
		k = chunk < n - i ? chunk : n - i;
		r = tar_x_feed(&x, p + i, k);
	}
	if (r == 0)
		tar_x_end(&x);
	tar_x_free(&x);
	close(fd);

	now = fz_list_outside();
	if (strcmp(now, fz_before))
		FZ_FAIL("tar: outside changed:\n--- before\n%s--- after\n%s", fz_before, now);
	free(now);
	if (lstat(fz_target, &st) < 0 || !S_ISDIR(st.st_mode))
		FZ_FAIL("tar: the target is no longer a directory");
	fd = dup(0);
	FZ_CHECK(fd == probe, "tar: a descriptor leaked");
	close(fd);
	fd = open(".", O_PATH | O_DIRECTORY);
	if (chdir(fz_scratch) < 0)
		abort();
	fz_rm_tree("t");
	if (fchdir(fd) < 0)
		abort();
	close(fd);
	free(copy);
	return 0;
}

/* ============================================================== inflate */

/* First byte: bit 0 gzip/raw, bit 1 mode, bits 2-7 seed the chunk sizes.
 *   mode 0: the rest is a compressed stream; our verdict (ok/error) and
 *           output must equal zlib's inflate.
 *   mode 1: the rest is plain data; zlib compresses it (level and strategy
 *           from the second byte) and we must give it back exactly.
 * Both decoders are fed in chunks of 1..N bytes so the slow path, the fast
 * loop and every resume point get exercised. */
#define FZ_INF_MAX_OUT (8u << 20)

struct fz_out {
	unsigned char *p;
	size_t n, cap;
};

static void fz_add(struct fz_out *o, const unsigned char *p, size_t n)
{
	if (o->n + n > o->cap) {
		o->cap = (o->n + n) * 2;
		o->p = realloc(o->p, o->cap);
		if (!o->p)
			abort();
	}
	if (n)
		memcpy(o->p + o->n, p, n);
	o->n += n;
}

static int fz_inf_ours(const unsigned char *in, size_t n, int gzip, unsigned seed,
    struct fz_out *o)
{
	static struct inf_state st;
	size_t off = 0;

	o->n = 0;
	inf_init(&st, gzip);
	for (;;) {
		size_t c, m;
		const unsigned char *p = in + off, *q;
		size_t qn;
		int r, eof;

		seed = seed * 1103515245u + 12345u;
		c = seed >> 28 == 0 ? 1 + (seed >> 8) % 7 : 1 + (seed >> 8) % 4096;
		if (c > n - off)
			c = n - off;
		m = c;
		eof = off + c == n;
		do {
			r = inf_run(&st, &p, &m, eof, &q, &qn);
			if (r >= 0)
				fz_add(o, q, qn);
			if (o->n > FZ_INF_MAX_OUT)
				return -2;
		} while (r == INF_OUT);
		if (r < 0)
			return -1;
		FZ_CHECK(!(r == INF_MORE && (eof || m)), "inflate: INF_MORE with input left or at eof");
		off = (size_t)(p - in);
		if (r == INF_END)
			return 0;
	}
}

static int fz_inf_ref(const unsigned char *in, size_t n, int gzip, struct fz_out *o)
{
	static unsigned char tmp[1 << 15];
	z_stream z;
	int r, ended = 0;

	o->n = 0;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, gzip ? 31 : -15) != Z_OK)
		abort();
	z.next_in = (unsigned char *)in;
	z.avail_in = (unsigned)n;
	for (;;) {
		if (ended) {
			if (!gzip || z.avail_in == 0)
				break;
			inflateReset(&z);
			ended = 0;
		}
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		r = inflate(&z, Z_NO_FLUSH);
		fz_add(o, tmp, sizeof tmp - z.avail_out);
		if (o->n > FZ_INF_MAX_OUT) {
			inflateEnd(&z);
			return -2;
		}
		if (r == Z_STREAM_END)
			ended = 1;
		else if (r != Z_OK || (z.avail_in == 0 && z.avail_out != 0))
			break;
	}
	inflateEnd(&z);
	return ended ? 0 : -1;
}

static void fz_deflate(const unsigned char *in, size_t n, int gzip, unsigned knobs,
    struct fz_out *o)
{
	static const int strategies[] = { Z_DEFAULT_STRATEGY, Z_FILTERED,
	    Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED };
	static unsigned char tmp[1 << 15];
	z_stream z;
	int r;

	o->n = 0;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, (int)(knobs % 10), Z_DEFLATED,
	    gzip ? 31 : -(9 + (int)(knobs >> 4 & 7) % 7), 8,
	    strategies[knobs / 10 % 5]) != Z_OK)
		abort();
	z.next_in = (unsigned char *)in;
	z.avail_in = (unsigned)n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		r = deflate(&z, Z_FINISH);
		fz_add(o, tmp, sizeof tmp - z.avail_out);
	} while (r == Z_OK);
	if (r != Z_STREAM_END)
		abort();
	deflateEnd(&z);
}

static int fz_inflate(const uint8_t *data, size_t size)
{
	static struct fz_out a, b, z;
	unsigned flags, seed;
	int gzip, ra, rb;

	if (size < 2)
		return 0;
	flags = data[0];
	gzip = flags & 1;
	seed = flags >> 2;
	if (flags & 2) {
		fz_deflate(data + 2, size - 2, gzip, data[1], &z);
		ra = fz_inf_ours(z.p, z.n, gzip, seed, &a);
		FZ_CHECK(ra == 0 && a.n == size - 2 && !memcmp(a.p, data + 2, a.n),
		    "inflate: zlib's stream does not decode back (%s)", ra ? sb_error() : "differs");
		return 0;
	}
	ra = fz_inf_ours(data + 1, size - 1, gzip, seed, &a);
	rb = fz_inf_ref(data + 1, size - 1, gzip, &b);
	if (ra == -2 || rb == -2)
		return 0; /* output cap hit: not comparable */
	FZ_CHECK(ra == rb, "inflate: ours %s (%s), zlib %s", ra ? "fails" : "decodes",
	    ra ? sb_error() : "", rb ? "fails" : "decodes");
	FZ_CHECK(ra || (a.n == b.n && (!a.n || !memcmp(a.p, b.p, a.n))),
	    "inflate: output differs from zlib's (%zu vs %zu bytes)", a.n, b.n);
	return 0;
}

/* ================================================================= zstd */

/* Each input is decoded by zst_decode fed whole, and fed in chunks of
 * pseudo-random sizes (seeded by the input) with the end flag on a separate
 * call: the two must agree exactly (output, error message); and by libzstd's
 * streaming decoder with the same window limit. Where libzstd succeeds we
 * must produce the same bytes, except for inputs libzstd 1.5.4 accepts
 * although RFC 8878 calls them corrupt (fz_zst_libzstd_lax): then our
 * output must still be a prefix of libzstd's. Output beyond FZ_ZST_CAP is
 * not compared (decompression bombs). */
#define FZ_ZST_WLOG 23
#define FZ_ZST_CAP (16u << 20)

struct fz_obuf {
	uint8_t *p;
	size_t n, cap;
	int capped;
};

static void fz_ob_add(struct fz_obuf *b, const uint8_t *p, size_t n)
{
	if (b->capped || n == 0)
		return;
	if (b->n + n > FZ_ZST_CAP) {
		b->capped = 1;
		return;
	}
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static int fz_zst_ref(const uint8_t *in, size_t n, struct fz_obuf *out)
{
	static ZSTD_DStream *d;
	static uint8_t tmp[1 << 17];
	ZSTD_inBuffer ib = { in, n, 0 };
	size_t r = 1;

	if (!d && !(d = ZSTD_createDStream()))
		abort();
	ZSTD_DCtx_reset(d, ZSTD_reset_session_and_parameters);
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, FZ_ZST_WLOG);
	for (;;) {
		ZSTD_outBuffer ob = { tmp, sizeof tmp, 0 };

		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			return -1;
		fz_ob_add(out, tmp, ob.pos);
		if (out->capped)
			return 0;
		if (ib.pos == ib.size && ob.pos < ob.size)
			break;
	}
	return r == 0 ? 0 : -1; /* r > 0: input ended inside a frame */
}

static int fz_zst_ours(const uint8_t *in, size_t n, uint64_t seed, struct fz_obuf *out,
    char *err)
{
	static struct zst_state z;
	size_t off = 0;

	zst_init(&z, (uint64_t)1 << FZ_ZST_WLOG);
	for (;;) {
		size_t chunk = n - off;
		int end = seed == 0 || off == n;

		if (seed && chunk) {
			size_t lim;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			lim = seed >> 62 == 0 && chunk > 3 ? 3 : chunk;
			chunk = 1 + (size_t)(seed >> 33) % lim;
		}
		for (;;) {
			size_t used, outn;
			const uint8_t *o;
			int r = zst_decode(&z, in + off, chunk, &used, &o, &outn, end);

			off += used;
			chunk -= used;
			FZ_CHECK(outn <= ZST_BLOCK_MAX, "zstd: %zu bytes out at once", outn);
			fz_ob_add(out, o, outn);
			if (r < 0) {
				snprintf(err, 256, "%.255s", sb_error());
				zst_free(&z);
				return -1;
			}
			if (r == ZST_END || out->capped) {
				zst_free(&z);
				return 0;
			}
			if (r == ZST_MORE) {
				FZ_CHECK(!chunk, "zstd: ZST_MORE with input left");
				break;
			}
		}
		FZ_CHECK(!end, "zstd: the end of input gave neither ZST_END nor an error");
	}
}

static int fz_zst_differ(const struct fz_obuf *a, const struct fz_obuf *b, size_t n)
{
	return n && memcmp(a->p, b->p, n);
}

/* Inputs RFC 8878 calls corrupt that libzstd 1.5.4 decodes anyway; we
 * refuse them with these messages (tests/fuzz/zstd/ has one of several,
 * /work/parts/zstd/NOTES.md the reasons). */
static int fz_zst_libzstd_lax(const char *err)
{
	static const char *const known[] = {
		"zstd: match offset 0",                         /* 1.5.4 uses offset 1 */
		"zstd: reserved bits set in the sequences header", /* ignored until 1.5.5 */
		"truncated initial states",                     /* read as zeros until 1.5.6 */
		"exceeds the window size",                      /* libzstd checks its buffer */
		"of 4 (not exactly consumed)",                  /* fast Huffman decoders */
		"of 4 (no end mark)",
		"zstd: corrupt sequences bitstream (",          /* until 1.5.5 */
		"zstd: frame content size mismatch",            /* streaming, empty last block */
		"zstd: empty compressed block",                 /* streaming reads it as empty */
	};
	size_t i;

	for (i = 0; i < LEN(known); i++)
		if (strstr(err, known[i]))
			return 1;
	/* pre-RFC formats v0.2-v0.7 (magic 0xfd2fb522-7) that libzstd still reads */
	return !strncmp(err, "zstd: bad magic number 0xfd2fb52", 32) && err[32] >= '2' &&
	    err[32] <= '7';
}

static int fz_zstd(const uint8_t *data, size_t size)
{
	struct fz_obuf ref = { 0 }, a = { 0 }, b = { 0 };
	char ea[256] = "", eb[256] = "";
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	size_t i;
	int rr, ra, rb;

	for (i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 0x100000001B3ull;
	seed |= 2; /* nonzero: chunked */
	ra = fz_zst_ours(data, size, 0, &a, ea);
	rb = fz_zst_ours(data, size, seed, &b, eb);
	if (!a.capped && !b.capped)
		FZ_CHECK(ra == rb && (ra || (a.n == b.n && !fz_zst_differ(&a, &b, a.n))) &&
		    (!ra || !strcmp(ea, eb)), "zstd: whole: %d %zu \"%s\", chunked: %d %zu \"%s\"",
		    ra, a.n, ea, rb, b.n, eb);
	rr = fz_zst_ref(data, size, &ref);
	if (rr == 0 && !ref.capped && !a.capped) {
		if (ra == 0) {
			FZ_CHECK(a.n == ref.n && !fz_zst_differ(&a, &ref, a.n),
			    "zstd: output differs from libzstd: %zu vs %zu bytes", a.n, ref.n);
		} else {
			FZ_CHECK(fz_zst_libzstd_lax(ea), "zstd: libzstd decodes %zu bytes, we fail: %s",
			    ref.n, ea);
			FZ_CHECK(a.n <= ref.n && !fz_zst_differ(&a, &ref, a.n),
			    "zstd: partial output is not a prefix of libzstd's");
		}
	}
	free(ref.p);
	free(a.p);
	free(b.p);
	return 0;
}

/* ============================================================ selection */

static const struct fz_harness {
	const char *name;
	int (*one)(const uint8_t *, size_t);
} fz_harnesses[] = {
	{ "json", fz_json }, { "config", fz_config }, { "seccomp", fz_seccomp },
	{ "manifest", fz_manifest }, { "auth", fz_auth }, { "ref", fz_ref },
	{ "head", fz_head }, { "chunk", fz_chunk }, { "url", fz_url }, { "san", fz_san },
	{ "dns", fz_dns }, { "pem", fz_pem },
	{ "tar", fz_tar }, { "inflate", fz_inflate }, { "zstd", fz_zstd },
};

static const struct fz_harness *fz_find(const char *name)
{
	size_t i;

	for (i = 0; i < LEN(fz_harnesses); i++)
		if (!strcmp(fz_harnesses[i].name, name))
			return &fz_harnesses[i];
	return NULL;
}

#ifndef FUZZ_REPLAY
/* libFuzzer: the harness is FUZZ_HARNESS, or the program's name after
 * "fuzz-" (build/fuzz/fuzz-json). */
static const struct fz_harness *fz_cur;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *name = getenv("FUZZ_HARNESS"), *base;
	size_t i;

	(void)argc;
	if (!name) {
		base = strrchr((*argv)[0], '/');
		base = base ? base + 1 : (*argv)[0];
		name = strncmp(base, "fuzz-", 5) ? base : base + 5;
	}
	if (!(fz_cur = fz_find(name))) {
		fprintf(stderr, "fuzz: no harness \"%s\"; run as fuzz-NAME or with FUZZ_HARNESS=NAME:",
		    name);
		for (i = 0; i < LEN(fz_harnesses); i++)
			fprintf(stderr, " %s", fz_harnesses[i].name);
		fputc('\n', stderr);
		exit(2);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_cur->one(data, size);
}

#else
/* Replay: fuzz-replay [-d DIR] [NAME...]: each file of DIR/NAME/ (default
 * DIR tests/fuzz, all harnesses; *.md files skipped) through harness NAME
 * once, in a child per harness that names the input it is on. */
#include <sys/mman.h>

static int fz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fz_read(const char *path, uint8_t **p, size_t *n)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096;

	*n = 0;
	if (!f || !(*p = malloc(cap)))
		return -1;
	for (;;) {
		size_t k = fread(*p + *n, 1, cap - *n, f);

		*n += k;
		if (*n < cap)
			break;
		cap *= 2;
		if (!(*p = realloc(*p, cap)))
			abort();
	}
	fclose(f);
	return 0;
}

static int fz_replay(const struct fz_harness *h, const char *top, char *cur)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	char **names = NULL;
	size_t n = 0, i, len;
	struct dirent *e;
	struct stat st;
	uint8_t *data;
	int status;
	pid_t pid;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/%s", top, h->name);
	if (!(d = opendir(dir))) {
		printf("not ok - fuzz-replay %s: %s: %s\n", h->name, dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (e->d_name[0] == '.' || (l > 3 && !strcmp(e->d_name + l - 3, ".md")))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!(names = realloc(names, (n + 1) * sizeof *names)) ||
		    !(names[n++] = strdup(e->d_name)))
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof *names, fz_name_cmp);
	fflush(stdout);
	cur[0] = 0;
	if ((pid = fork()) < 0) {
		printf("not ok - fuzz-replay %s: fork: %s\n", h->name, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		for (i = 0; i < n; i++) {
			snprintf(cur, PATH_MAX, "%s", names[i]);
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			if (fz_read(path, &data, &len) < 0) {
				fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
				_exit(3);
			}
			h->one(data, len);
			free(data);
		}
		cur[0] = 0;
		exit(0); /* atexit handlers, and LeakSanitizer's check */
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		printf("ok - fuzz-replay %s: %zu inputs\n", h->name, n);
	else if (WIFSIGNALED(status))
		printf("not ok - fuzz-replay %s: %s/%s: killed by signal %d\n", h->name, dir,
		    cur[0] ? cur : "(after the last input)", WTERMSIG(status));
	else
		printf("not ok - fuzz-replay %s: %s/%s: exit status %d (sanitizer report above)\n",
		    h->name, dir, cur[0] ? cur : "(after the last input)", WEXITSTATUS(status));
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	fflush(stdout);
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	const char *top = "tests/fuzz";
	char *cur = mmap(NULL, PATH_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int i = 1, bad = 0, any = 0;

	if (cur == MAP_FAILED)
		return 2;
	if (argc > 2 && !strcmp(argv[1], "-d"))
		top = argv[2], i = 3;
	for (; i < argc; i++, any = 1) {
		const struct fz_harness *h = fz_find(argv[i]);

		if (!h) {
			printf("not ok - fuzz-replay %s: no such harness\n", argv[i]);
			bad++;
			continue;
		}
		bad += fz_replay(h, top, cur);
	}
	for (i = 0; !any && i < (int)LEN(fz_harnesses); i++)
		bad += fz_replay(&fz_harnesses[i], top, cur);
	return bad ? 1 : 0;
}
#endif
