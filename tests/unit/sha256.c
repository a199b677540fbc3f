/*
 * Unit tests for sha256.c.  Every backend usable on this CPU is run against
 * the FIPS 180-2 vectors and against the portable (BearSSL) backend over
 * random lengths, split points and misalignments.
 *
 * Test-only hooks (environment):
 *   SHA_TEST_EXPECT=<name>  fail unless sha_init picks that backend (used to
 *                           check run-time detection under qemu -cpu ...)
 *   SHA_TEST_SEED=<n>       seed for the random tests
 *   SHA_TEST_HWCAP_CLEAR=<mask>, SHA_TEST_HWCAP2_CLEAR=<mask>
 *                           only in a build linked with
 *                           -DSHA_TEST_WRAP_GETAUXVAL -Wl,--wrap=getauxval:
 *                           clear these bits in what getauxval reports, to
 *                           see detection fail where qemu has no CPU model
 *                           without SHA2 (qemu 7.2 aarch64)
 */
#define SANDBOX_NO_MAIN
#include "../../sandbox.c"

#ifdef SHA_TEST_WRAP_GETAUXVAL
#include <stdlib.h>

unsigned long __real_getauxval(unsigned long type);
unsigned long __wrap_getauxval(unsigned long type);

unsigned long __wrap_getauxval(unsigned long type)
{
	unsigned long v = __real_getauxval(type);
	const char *clr = NULL;

	if (type == AT_HWCAP)
		clr = getenv("SHA_TEST_HWCAP_CLEAR");
	else if (type == AT_HWCAP2)
		clr = getenv("SHA_TEST_HWCAP2_CLEAR");
	if (clr)
		v &= ~strtoul(clr, NULL, 0);
	return v;
}
#endif

#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static void to_hex(const uint8_t d[32], char out[65])
{
	char t[72];

	sha_hex(d, t);
	memcpy(out, t + 7, 65);
}

static void hash_with(const struct sha_backend *b, const void *p, size_t n,
                      uint8_t out[32])
{
	struct sha_ctx c;

	sha_init_with(&c, b);
	sha_update(&c, p, n);
	sha_final(&c, out);
}

/* Feeds p[0..n) in random pieces, including empty ones. */
static void hash_split(const struct sha_backend *b, const uint8_t *p, size_t n,
                       uint8_t out[32])
{
	struct sha_ctx c;
	size_t off = 0;

	sha_init_with(&c, b);
	while (off < n) {
		size_t k;

		switch (rng() & 3) {
		case 0: k = rng_below(4); break;
		case 1: k = rng_below(130); break;
		case 2: k = 64 * rng_below(5); break;
		default: k = rng_below(n - off + 1); break;
		}
		if (k > n - off)
			k = n - off;
		sha_update(&c, p + off, k);
		off += k;
	}
	sha_final(&c, out);
}

static const struct sha_backend *portable(void)
{
	return &sha_backends[sizeof sha_backends / sizeof sha_backends[0] - 1];
}

struct vector {
	const char *msg;
	size_t repeat;
	const char *hex;
};

/* FIPS 180-2 Appendix B (B.1, B.2, B.3), the empty message, and the
 * 896-bit two-block message from the NIST examples. */
static const struct vector vectors[] = {
	{ "abc", 1,
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "a", 1000000,
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ "", 1,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 1,
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};

static void test_vectors(const struct sha_backend *b)
{
	size_t i, r;

	for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		const struct vector *v = &vectors[i];
		size_t len = strlen(v->msg);
		struct sha_ctx c;
		uint8_t d[32];
		char hex[65];

		/* whole pieces */
		sha_init_with(&c, b);
		for (r = 0; r < v->repeat; r++)
			sha_update(&c, v->msg, len);
		sha_final(&c, d);
		to_hex(d, hex);
		check(strcmp(hex, v->hex) == 0, "%s: FIPS vector %zu (%zu x %zu bytes)",
		      b->name, i, v->repeat, len);

		/* byte at a time */
		if (v->repeat == 1) {
			sha_init_with(&c, b);
			for (r = 0; r < len; r++)
				sha_update(&c, v->msg + r, 1);
			sha_final(&c, d);
			to_hex(d, hex);
			check(strcmp(hex, v->hex) == 0,
			      "%s: FIPS vector %zu byte by byte", b->name, i);
		}
	}

	/* one million 'a' in one call, crossing many whole blocks at once */
	{
		static uint8_t big[1000000];
		uint8_t d[32];
		char hex[65];

		memset(big, 'a', sizeof big);
		hash_with(b, big, sizeof big, d);
		to_hex(d, hex);
		check(strcmp(hex, vectors[2].hex) == 0,
		      "%s: FIPS vector 2 in one update", b->name);
	}
}

/* Every length across the padding boundaries, against BearSSL. */
static void test_lengths(const struct sha_backend *b, const uint8_t *data)
{
	size_t n;
	int bad = 0;

	for (n = 0; n <= 300 && !bad; n++) {
		uint8_t want[32], got[32];

		hash_with(portable(), data, n, want);
		hash_with(b, data, n, got);
		if (memcmp(want, got, 32) != 0)
			bad = 1;
	}
	check(!bad, "%s: lengths 0..300 agree with bearssl%s", b->name,
	      bad ? " (first mismatch shown by n)" : "");
	if (bad)
		printf("# mismatch at length %zu\n", n - 1);
}

static void test_random(const struct sha_backend *b, const uint8_t *data,
                        size_t cap, int rounds)
{
	int i, bad = 0;

	for (i = 0; i < rounds && !bad; i++) {
		size_t off = rng_below(64);
		size_t n;
		uint8_t want[32], got[32];

		switch (i & 3) {
		case 0: n = rng_below(256); break;
		case 1: n = rng_below(8192); break;
		case 2: n = rng_below(cap - 64); break;
		default: n = cap - 64 - rng_below(64); break;
		}
		hash_with(portable(), data + off, n, want);
		hash_split(b, data + off, n, got);
		if (memcmp(want, got, 32) != 0) {
			bad = 1;
			printf("# mismatch: offset %zu length %zu\n", off, n);
		}
	}
	check(!bad, "%s: %d random lengths/splits/offsets agree with bearssl one-shot",
	      b->name, rounds);
}

static void test_chain(void)
{
	static const char *l1 = "sha256:f2cb0ecef392f2a630fa1205b874ab2e2aedf96de04d0b8838e4e728e28142da";
	static const char *l2 = "sha256:a9f6b7c7101b86ffaa53dc29638e577dabf5b24150577a59199d8554d7ce2921";
	static const char *want = "sha256:bbb9cccab59a16cb6da78f8879e9d07a19e3a8d49010ab9c98a2c348fa116c87";
	uint8_t ids[2][32], out[32];
	char hex[72];

	check(sha_parse(l1, strlen(l1), ids[0]) == 0 &&
	      sha_parse(l2, strlen(l2), ids[1]) == 0, "chain: parse diff ids");
	/* in place, as a caller walking the layers would use it */
	memcpy(out, ids[0], 32);
	sha_chain_step(out, ids[1], out);
	sha_hex(out, hex);
	check(strcmp(hex, want) == 0, "chain: sha_chain_step in place");

}

/* Builds "<prefix><64 good hex digits>" and then damages it. */
#define GOOD_HEX "0123456789abcdef00ff10a0b1c2d3e4f5a6b7c8d9eaf0badc0ffee00face123"

static void test_hex(void)
{
	static const char *good = "sha256:" GOOD_HEX;
	static const struct {
		const char *prefix;     /* replaces "sha256:" */
		int pos;                /* offset to overwrite, or -1 */
		char ch;
		int dlen;               /* added to the length passed */
		const char *why;        /* expected in the message */
	} bad[] = {
		{ "sha256:", -1, 0, -71, "algorithm" },       /* empty */
		{ "sha256:", -1, 0, -65, "algorithm" },       /* "sha256" */
		{ "sha256:", -1, 0, -64, "0 hex digits" },    /* "sha256:" */
		{ "SHA256:", -1, 0, 0, "algorithm" },
		{ "sha512:", -1, 0, 0, "algorithm" },
		{ "sha256 ", -1, 0, 0, "algorithm" },
		{ " sha256", -1, 0, 0, "algorithm" },
		{ "sha256:", 7 + 10, 'A', 0, "0x41" },        /* upper case */
		{ "sha256:", 7 + 63, 'F', 0, "0x46" },
		{ "sha256:", -1, 0, -1, "63 hex" },
		{ "sha256:", -1, 0, +1, "65 hex" },           /* runs into '\n' */
		{ "sha256:", 7 + 63, 'g', 0, "0x67" },
		{ "sha256:", 7 + 0, ' ', 0, "0x20" },
		{ "sha256:", 7 + 40, '\0', 0, "0x00" },       /* embedded NUL */
		{ "sha256:", 7 + 1, 'x', 0, "0x78" },
		{ "sha256:", 7 + 0, '+', 0, "0x2b" },
		{ "sha256:", 7 + 5, (char)0xc3, 0, "0xc3" },  /* UTF-8 lead byte */
	};
	uint8_t d[32], d2[32];
	char out[72], buf[80];
	size_t i;

	check(strlen(good) == 71, "hex: test digest is 71 characters");
	check(sha_parse(good, strlen(good), d) == 0, "hex: parse good digest");
	check(d[0] == 0x01 && d[7] == 0xef && d[8] == 0x00 && d[9] == 0xff &&
	      d[31] == 0x23, "hex: parsed bytes");
	sha_hex(d, out);
	check(strcmp(out, good) == 0 && strlen(out) == 71, "hex: format round trip");
	for (i = 0; i < 32; i++)
		d[i] = (uint8_t)(i * 37 + 200);
	sha_hex(d, out);
	check(sha_parse(out, 71, d2) == 0 && memcmp(d, d2, 32) == 0,
	      "hex: parse(format(x)) == x");

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r;

		memcpy(buf, bad[i].prefix, 7);
		memcpy(buf + 7, GOOD_HEX "\n", 66);
		if (bad[i].pos >= 0)
			buf[bad[i].pos] = bad[i].ch;
		memset(d2, 0xaa, sizeof d2);
		err_set("unset");
		r = sha_parse(buf, (size_t)(71 + bad[i].dlen), d2);
		check(r == -1 && strstr(sb_error(), bad[i].why) != NULL,
		      "hex: reject #%zu (\"%s\")", i, sb_error());
	}
}

int main(void)
{
	static uint8_t data[1 << 20];
	const char *seed = getenv("SHA_TEST_SEED");
	const char *expect = getenv("SHA_TEST_EXPECT");
	size_t i, nb = sizeof sha_backends / sizeof sha_backends[0];
	int usable = 0;

	if (seed)
		rng_state = strtoull(seed, NULL, 0) | 1;
	printf("# seed %llu, sha_init picks %s\n",
	       (unsigned long long)rng_state, sha_backend_name());
#if defined(AT_HWCAP2)
	printf("# getauxval: AT_HWCAP %#lx AT_HWCAP2 %#lx\n",
	       getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
#endif
	for (i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)rng();

	check(portable()->blocks == NULL && portable()->usable == NULL,
	      "backend table ends with the portable backend");
	if (expect)
		check(strcmp(sha_backend_name(), expect) == 0,
		      "run-time detection picks %s (got %s)", expect, sha_backend_name());

	for (i = 0; i < nb; i++) {
		const struct sha_backend *b = &sha_backends[i];

		if (b->usable && !b->usable()) {
			printf("# backend %s: not supported by this CPU, skipped\n", b->name);
			continue;
		}
		usable++;
		test_vectors(b);
		test_lengths(b, data);
		test_random(b, data, sizeof data, b->blocks ? 2000 : 200);
	}
	check(usable >= 1, "%d backend(s) tested", usable);

	{
		uint8_t a[32], b[32];
		sha_sum(data, 12345, a);
		hash_with(portable(), data, 12345, b);
		check(memcmp(a, b, 32) == 0, "sha_sum (default backend) agrees");
	}
	test_chain();
	test_hex();

	return tap_done();
}
