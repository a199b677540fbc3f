/* Unit and differential tests for inflate.c.
 *   gcc -O1 -g -fsanitize=address,undefined test_inflate.c -lz -o test_inflate
 * Prints ok / not ok lines, exits 1 on any failure. zlib is used only here,
 * as the reference. */
#define SANDBOX_NO_MAIN
#include "../../sandbox.c"

#include <stdlib.h>
#include <zlib.h>

#include "tap.h"

/* ---- buffers ---- */

struct tbuf {
	unsigned char *p;
	size_t n, cap;
};

static void buf_add(struct tbuf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void buf_byte(struct tbuf *b, unsigned c)
{
	unsigned char x = (unsigned char)c;

	buf_add(b, &x, 1);
}

static void buf_le32(struct tbuf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		buf_byte(b, v >> (8 * i) & 255);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* ---- our decoder, fed in chunks ---- */

static struct inf_state st;
static char last_err[256];

/* chunk 0: random chunk sizes 1..300. Returns 0 or -1 (message in last_err). */
static int ours(const unsigned char *in, size_t n, int gzip, size_t chunk,
		struct tbuf *out)
{
	size_t off = 0;
	int r;

	out->n = 0;
	last_err[0] = 0;
	inf_init(&st, gzip);
	for (;;) {
		size_t c = chunk ? chunk : 1 + rnd() % 300, m;
		const unsigned char *p = in + off, *o;
		size_t on;
		int eof;

		if (c > n - off)
			c = n - off;
		m = c;
		eof = off + c == n;
		do {
			r = inf_run(&st, &p, &m, eof, &o, &on);
			if (on > INF_LIMIT + INF_SLACK)
				return snprintf(last_err, sizeof last_err,
						"piece too large"), -1;
			if (r >= 0)
				buf_add(out, o, on);
		} while (r == INF_OUT);
		if (r < 0) {
			snprintf(last_err, sizeof last_err, "%s", sb_error());
			return -1;
		}
		if (r == INF_MORE && eof) {
			snprintf(last_err, sizeof last_err, "MORE at eof");
			return -1;
		}
		off = (size_t)(p - in);
		if (r == INF_END)
			return 0;
		if (m != 0) {
			snprintf(last_err, sizeof last_err, "MORE with input left");
			return -1;
		}
	}
}

/* ---- zlib reference ---- */

static int ref(const unsigned char *in, size_t n, int gzip, struct tbuf *out)
{
	unsigned char tmp[1 << 15];
	z_stream z;
	int r = Z_OK, ended = 0;

	out->n = 0;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, gzip ? 31 : -15) != Z_OK)
		abort();
	z.next_in = (unsigned char *)in;
	z.avail_in = (unsigned)n;
	for (;;) {
		if (ended) {
			if (!gzip || z.avail_in == 0)
				break;
			inflateReset(&z);	/* another member */
			ended = 0;
		}
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		r = inflate(&z, Z_NO_FLUSH);
		buf_add(out, tmp, sizeof tmp - z.avail_out);
		if (r == Z_STREAM_END)
			ended = 1;
		else if (r != Z_OK || (z.avail_in == 0 && z.avail_out != 0))
			break;
	}
	inflateEnd(&z);
	return ended ? 0 : -1;
}

static void zcompress(const unsigned char *in, size_t n, int gzip, int level,
		      int wbits, int mem, int strategy, struct tbuf *out)
{
	unsigned char tmp[1 << 15];
	z_stream z;
	int r;

	out->n = 0;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, level, Z_DEFLATED, gzip ? wbits + 16 : -wbits, mem,
			 strategy) != Z_OK)
		abort();
	z.next_in = (unsigned char *)in;
	z.avail_in = (unsigned)n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		r = deflate(&z, Z_FINISH);
		buf_add(out, tmp, sizeof tmp - z.avail_out);
	} while (r == Z_OK);
	if (r != Z_STREAM_END)
		abort();
	deflateEnd(&z);
}

/* ---- bit writer for hand-made streams ---- */

struct bw {
	struct tbuf b;
	uint64_t acc;
	int cnt;
};

static void bw_bits(struct bw *w, uint32_t v, int n)
{
	w->acc |= (uint64_t)v << w->cnt;
	w->cnt += n;
	while (w->cnt >= 8) {
		buf_byte(&w->b, w->acc & 255);
		w->acc >>= 8;
		w->cnt -= 8;
	}
}

/* Huffman codes go MSB first. */
static void bw_code(struct bw *w, uint32_t code, int len)
{
	uint32_t r = 0;

	for (int i = 0; i < len; i++)
		r |= (code >> i & 1) << (len - 1 - i);
	bw_bits(w, r, len);
}

/* A final dynamic block's header: BFINAL 1, BTYPE 2, then the counts as
 * stored (HLIT - 257, HDIST - 1, HCLEN - 4). */
static void bw_dynamic(struct bw *w, unsigned hlit, unsigned hdist, unsigned hclen)
{
	bw_bits(w, 1, 1);
	bw_bits(w, 2, 2);
	bw_bits(w, hlit, 5);
	bw_bits(w, hdist, 5);
	bw_bits(w, hclen, 4);
}

static void bw_flush(struct bw *w)
{
	if (w->cnt)
		bw_bits(w, 0, 8 - w->cnt);
}

static void fixed_sym(struct bw *w, unsigned sym)
{
	if (sym < 144)
		bw_code(w, 0x30 + sym, 8);
	else if (sym < 256)
		bw_code(w, 0x190 + sym - 144, 9);
	else if (sym < 280)
		bw_code(w, sym - 256, 7);
	else
		bw_code(w, 0xc0 + sym - 280, 8);
}

static void stored_block(struct bw *w, int final, const unsigned char *p,
			 unsigned n)
{
	bw_bits(w, final, 1);
	bw_bits(w, 0, 2);
	bw_flush(w);
	bw_bits(w, n, 16);
	bw_bits(w, ~n & 0xffff, 16);
	buf_add(&w->b, p, n);
}

/* A match of len (3..258) at dist (1..32768) in a fixed block. */
static void fixed_match(struct bw *w, unsigned len, unsigned dist)
{
	unsigned i;

	for (i = 28; inf_len_base[i] > len; i--)
		;
	fixed_sym(w, 257 + i);
	bw_bits(w, len - inf_len_base[i], inf_sym_info(INF_K_LL, 257 + i) & 255);
	for (i = 29; inf_dist_base[i] > dist; i--)
		;
	bw_code(w, i, 5);
	bw_bits(w, dist - inf_dist_base[i], inf_sym_info(INF_K_D, i) & 255);
}

static void gz_wrap(struct tbuf *out, const unsigned char *deflate, size_t n,
		    const unsigned char *data, size_t dn)
{
	static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

	buf_add(out, head, 10);
	buf_add(out, deflate, n);
	buf_le32(out, inf_crc32(0, data, dn));
	buf_le32(out, (uint32_t)dn);
}

/* ---- test helpers ---- */

static struct tbuf o1, o2;

static int same(const struct tbuf *a, const struct tbuf *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

/* Decodes whole, in random chunks and byte by byte; all must agree. */
static int decode_all_ways(const unsigned char *in, size_t n, int gzip,
			   struct tbuf *out, char *err)
{
	int r1 = ours(in, n, gzip, n ? n : 1, out);
	char e1[256];

	strcpy(e1, last_err);
	struct tbuf *o = out == &o1 ? &o2 : &o1;
	int r2 = ours(in, n, gzip, 0, o);

	if (r2 != r1 || strcmp(e1, last_err) || (r1 == 0 && !same(o, out)))
		return strcpy(err, "random chunks differ"), -2;
	r2 = ours(in, n, gzip, 1, o);
	if (r2 != r1 || strcmp(e1, last_err) || (r1 == 0 && !same(o, out)))
		return strcpy(err, "byte by byte differs"), -2;
	strcpy(err, e1);
	return r1;
}

static void expect_ok(const char *name, const unsigned char *in, size_t n,
		      int gzip, const unsigned char *want, size_t wn)
{
	struct tbuf out = {0};
	char err[256];
	int r = decode_all_ways(in, n, gzip, &out, err);

	check(r == 0 && out.n == wn && (wn == 0 || !memcmp(out.p, want, wn)),
	      "%s (%s, %zu bytes)", name, r ? err : "decoded", out.n);
	free(out.p);
}

static void expect_err(const char *name, const unsigned char *in, size_t n,
		       int gzip, const char *msg)
{
	struct tbuf out = {0};
	char err[256];
	int r = decode_all_ways(in, n, gzip, &out, err);

	check(r == -1 && strcmp(err, msg) == 0, "%s: \"%s\"", name, err);
	free(out.p);
}

/* ---- tests ---- */

static void test_crc(void)
{
	unsigned char b[5000];
	int i, bad = 0;

	inf_crc_init();
	check(inf_crc32(0, "123456789", 9) == 0xcbf43926, "crc32 check value");
	check(inf_crc32(0, "", 0) == 0, "crc32 of nothing");
	for (i = 0; i < (int)sizeof b; i++)
		b[i] = (unsigned char)rnd();
	for (i = 0; i < 3000; i++) {
		size_t off = rnd() % 64, len = rnd() % (sizeof b - 64);
		uint32_t seed = rnd();

		if (i < 300)
			len = (size_t)i;
		if (inf_crc32(seed, b + off, len) !=
		    (uint32_t)crc32(seed, b + off, (unsigned)len) ||
		    ~inf_crc_sw(~seed, b + off, len) != inf_crc32(seed, b + off, len))
			bad++;
	}
	check(bad == 0, "crc32 equals zlib's and the table code, 3000 lengths/offsets (hw path %s)",
	      inf_crc_hw ? "on" : "off");
}

static void test_vectors(void)
{
	static const unsigned char empty_fixed[] = {0x03, 0x00};
	static const unsigned char empty_stored[] = {0x01, 0x00, 0x00, 0xff, 0xff};
	/* gzip -n of an empty file */
	static const unsigned char empty_gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
	};
	/* printf 'hello\n' | gzip -n (fixed block) */
	static const unsigned char hello_gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
		0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20, 0x30,
		0x3a, 0x36, 0x06, 0x00, 0x00, 0x00
	};
	static const char text[] =
		"It was the best of times, it was the worst of times, it was the "
		"age of wisdom, it was the age of foolishness, it was the epoch "
		"of belief, it was the epoch of incredulity, it was the season "
		"of Light, it was the season of Darkness, it was the spring of "
		"hope, it was the winter of despair.";
	struct tbuf z = {0};

	expect_ok("raw: empty fixed block", empty_fixed, 2, 0, NULL, 0);
	expect_ok("raw: empty stored block", empty_stored, 5, 0, NULL, 0);
	expect_ok("gzip: empty member", empty_gz, sizeof empty_gz, 1, NULL, 0);
	expect_ok("gzip: hello (known bytes)", hello_gz, sizeof hello_gz, 1,
		  (const unsigned char *)"hello\n", 6);
	zcompress((const unsigned char *)text, sizeof text, 0, 0, 15, 8,
		  Z_DEFAULT_STRATEGY, &z);
	check(z.n > 0 && (z.p[0] & 6) == 0, "zlib level 0 gives a stored block");
	expect_ok("raw: stored block", z.p, z.n, 0, (const unsigned char *)text,
		  sizeof text);
	zcompress((const unsigned char *)text, sizeof text, 0, 9, 15, 8, Z_FIXED, &z);
	check((z.p[0] & 6) == 2, "zlib Z_FIXED gives a fixed block");
	expect_ok("raw: fixed block", z.p, z.n, 0, (const unsigned char *)text,
		  sizeof text);
	zcompress((const unsigned char *)text, sizeof text, 0, 9, 15, 8,
		  Z_DEFAULT_STRATEGY, &z);
	check((z.p[0] & 6) == 4, "zlib level 9 gives a dynamic block");
	expect_ok("raw: dynamic block", z.p, z.n, 0, (const unsigned char *)text,
		  sizeof text);
	zcompress((const unsigned char *)text, sizeof text, 1, 9, 15, 8,
		  Z_DEFAULT_STRATEGY, &z);
	expect_ok("gzip: dynamic block", z.p, z.n, 1, (const unsigned char *)text,
		  sizeof text);
	free(z.p);
}

static void test_distances(void)
{
	static unsigned char data[32768 + 300];
	struct bw w = {0};
	unsigned i;

	for (i = 0; i < 32768; i++)
		data[i] = (unsigned char)rnd();
	for (i = 0; i < 258; i++)
		data[32768 + i] = data[i];
	/* 32768 bytes stored, then a 258-byte match from exactly 32768 back */
	stored_block(&w, 0, data, 32768 / 2);
	stored_block(&w, 0, data + 32768 / 2, 32768 / 2);
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	fixed_match(&w, 258, 32768);
	fixed_sym(&w, 256);
	bw_flush(&w);
	expect_ok("raw: match at distance 32768", w.b.p, w.b.n, 0, data, 32768 + 258);

	/* one byte less history: too far back */
	w.b.n = 0;
	w.acc = 0;
	w.cnt = 0;
	stored_block(&w, 0, data + 1, 32767);
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	fixed_match(&w, 3, 32768);
	fixed_sym(&w, 256);
	bw_flush(&w);
	expect_err("raw: distance 32768 after 32767 bytes", w.b.p, w.b.n, 0,
		   "deflate: invalid distance too far back");

	/* every distance 1..40 and some lengths, checked against zlib */
	w.b.n = 0;
	w.acc = 0;
	w.cnt = 0;
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	for (i = 0; i < 40; i++)
		fixed_sym(&w, 'a' + i % 26);
	for (i = 1; i <= 40; i++) {
		fixed_match(&w, 3 + (i * 37) % 256, i);
		fixed_match(&w, 258, i);
	}
	fixed_sym(&w, 256);
	bw_flush(&w);
	{
		struct tbuf want = {0};
		int r = ref(w.b.p, w.b.n, 0, &want);

		check(r == 0, "zlib decodes the short-distance stream");
		expect_ok("raw: distances 1..40, overlapping copies", w.b.p, w.b.n, 0,
			  want.p, want.n);
		free(want.p);
	}
	free(w.b.p);
}

/* A dynamic block header sending the code lengths as they are, with a
 * precode of 4 bits for each of the lengths 0..15 (a complete code). */
static void dyn_header(struct bw *w, const unsigned char *lens, unsigned nlen,
		       unsigned ndist, int final)
{
	static const unsigned char order[19] = {
		16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15
	};
	unsigned i;

	bw_bits(w, final, 1);
	bw_bits(w, 2, 2);
	bw_bits(w, nlen - 257, 5);
	bw_bits(w, ndist - 1, 5);
	bw_bits(w, 19 - 4, 4);
	for (i = 0; i < 19; i++)	/* precode: 0..15 have 4 bits, 16-18 none */
		bw_bits(w, order[i] < 16 ? 4 : 0, 3);
	for (i = 0; i < nlen + ndist; i++)
		bw_code(w, lens[i], 4);
}

/* Found on real data while writing the decoder: the fast loop left its
 * read-ahead bits above bitcnt, a stored block then copied the input
 * directly and the next pull merged those stale bits into the following
 * block header. Variant 0 is also corpus-regress/stored-after-fast.raw. */
static void stored_after_fast(unsigned nlit, struct tbuf *out, struct tbuf *want)
{
	static const unsigned char ones[8] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	struct bw w = {0};
	unsigned i;

	want->n = 0;
	bw_bits(&w, 0, 1);
	bw_bits(&w, 1, 2);
	for (i = 0; i < nlit; i++) {
		fixed_sym(&w, 'a' + i % 23);
		buf_byte(want, 'a' + i % 23);
	}
	fixed_sym(&w, 256);
	stored_block(&w, 0, ones, 8);
	buf_add(want, ones, 8);
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	for (i = 0; i < 100; i++) {
		fixed_sym(&w, 'A' + i % 19);
		buf_byte(want, 'A' + i % 19);
	}
	fixed_sym(&w, 256);
	bw_flush(&w);
	*out = w.b;
}

static void test_regressions(void)
{
	struct tbuf in = {0}, want = {0}, out = {0};
	unsigned nlit, bad = 0;
	char err[256];

	for (nlit = 0; nlit < 64; nlit++) {
		stored_after_fast(100 + nlit, &in, &want);
		if (decode_all_ways(in.p, in.n, 0, &out, err) != 0 || !same(&out, &want))
			bad++;
		if (nlit == 0 && getenv("WRITE_REGRESS")) {
			FILE *f = fopen(getenv("WRITE_REGRESS"), "wb");

			if (f) {
				fputc(0, f);	/* fuzz_inflate: mode 0, raw */
				fwrite(in.p, 1, in.n, f);
				fclose(f);
			}
		}
		free(in.p);
	}
	check(bad == 0, "raw: stored block right after a fast-loop block, 64 alignments");
	free(want.p);
	free(out.p);
}

static void test_errors(void)
{
	unsigned char lens[320];
	struct bw w = {0};
	struct tbuf g = {0}, z = {0};
	static const char msg[] = "hello, hello, hello, hello";
	unsigned i;

#define RESET() (w.b.n = 0, w.acc = 0, w.cnt = 0)
	expect_err("raw: block type 3", (const unsigned char *)"\x07", 1, 0,
		   "deflate: invalid block type 3");
	expect_err("raw: stored lengths", (const unsigned char *)"\x01\x01\x00\x00\x00",
		   5, 0, "deflate: invalid stored block lengths");
	expect_err("raw: empty input", (const unsigned char *)"", 0, 0,
		   "deflate: truncated input");
	expect_err("raw: stored block cut short",
		   (const unsigned char *)"\x01\x05\x00\xfa\xffhel", 8, 0,
		   "deflate: truncated input");
	expect_err("raw: no final block", (const unsigned char *)"\x02\x00", 2, 0,
		   "deflate: truncated input");

	/* HLIT 287 */
	RESET();
	bw_dynamic(&w, 30, 0, 0);
	bw_flush(&w);
	expect_err("raw: HLIT > 286", w.b.p, w.b.n, 0,
		   "deflate: too many length or distance symbols");
	RESET();
	bw_dynamic(&w, 0, 30, 0);
	bw_flush(&w);
	expect_err("raw: HDIST > 30", w.b.p, w.b.n, 0,
		   "deflate: too many length or distance symbols");

	/* precode: three 1-bit codes (over-subscribed) */
	RESET();
	bw_dynamic(&w, 0, 0, 0);
	bw_bits(&w, 1, 3);
	bw_bits(&w, 1, 3);
	bw_bits(&w, 1, 3);
	bw_bits(&w, 0, 3);
	bw_flush(&w);
	expect_err("raw: over-subscribed precode", w.b.p, w.b.n, 0,
		   "deflate: invalid code lengths set");
	/* precode: one 1-bit code only (incomplete) */
	RESET();
	bw_dynamic(&w, 0, 0, 0);
	bw_bits(&w, 0, 3);
	bw_bits(&w, 0, 3);
	bw_bits(&w, 0, 3);
	bw_bits(&w, 1, 3);
	bw_flush(&w);
	expect_err("raw: incomplete precode", w.b.p, w.b.n, 0,
		   "deflate: invalid code lengths set");
	/* repeat with nothing to repeat: precode 16 and 0 of one bit each */
	RESET();
	bw_dynamic(&w, 0, 0, 0);
	bw_bits(&w, 1, 3);	/* 16 */
	bw_bits(&w, 0, 3);	/* 17 */
	bw_bits(&w, 0, 3);	/* 18 */
	bw_bits(&w, 1, 3);	/* 0 */
	bw_code(&w, 1, 1);	/* 16 first */
	bw_bits(&w, 0, 2);
	bw_flush(&w);
	expect_err("raw: repeat of no length", w.b.p, w.b.n, 0,
		   "deflate: invalid bit length repeat");
	/* repeat running past HLIT + HDIST: 18 (138 zeros) x 3 > 258 */
	RESET();
	bw_dynamic(&w, 0, 0, 0);
	bw_bits(&w, 0, 3);	/* 16 */
	bw_bits(&w, 0, 3);	/* 17 */
	bw_bits(&w, 1, 3);	/* 18 */
	bw_bits(&w, 1, 3);	/* 0 */
	for (i = 0; i < 2; i++) {
		bw_code(&w, 1, 1);
		bw_bits(&w, 127, 7);
	}
	bw_flush(&w);
	expect_err("raw: repeat past the end", w.b.p, w.b.n, 0,
		   "deflate: invalid bit length repeat");

	/* code lengths without an end-of-block code */
	memset(lens, 0, sizeof lens);
	lens['a'] = 1;
	lens['b'] = 1;
	lens[257] = 1;
	RESET();
	dyn_header(&w, lens, 257, 1, 1);
	bw_flush(&w);
	expect_err("raw: no end-of-block code", w.b.p, w.b.n, 0,
		   "deflate: missing end-of-block code");
	/* over-subscribed literal/length code */
	lens[256] = 1;
	RESET();
	dyn_header(&w, lens, 257, 1, 1);
	bw_flush(&w);
	expect_err("raw: over-subscribed lit/len code", w.b.p, w.b.n, 0,
		   "deflate: invalid literal/lengths set");
	/* incomplete literal/length code of two lengths */
	memset(lens, 0, sizeof lens);
	lens['a'] = 1;
	lens[256] = 2;
	RESET();
	dyn_header(&w, lens, 257, 1, 1);
	bw_flush(&w);
	expect_err("raw: incomplete lit/len code", w.b.p, w.b.n, 0,
		   "deflate: invalid literal/lengths set");
	/* incomplete distance code: two codes of 2 bits */
	memset(lens, 0, sizeof lens);
	lens['a'] = 1;
	lens[256] = 2;
	lens[257] = 2;
	lens[258 + 0] = 2;	/* distance codes 0 and 1 of 2 bits */
	lens[258 + 1] = 2;
	RESET();
	dyn_header(&w, lens, 258, 2, 1);
	bw_flush(&w);
	expect_err("raw: incomplete distance code", w.b.p, w.b.n, 0,
		   "deflate: invalid distances set");

	/* one distance code of one bit is allowed; its other half is not */
	memset(lens, 0, sizeof lens);
	lens['a'] = 1;
	lens[256] = 2;
	lens[257] = 2;		/* length 3 */
	lens[258] = 1;		/* distance code 0: distance 1 */
	RESET();
	dyn_header(&w, lens, 258, 1, 1);
	bw_code(&w, 0, 1);	/* a */
	bw_code(&w, 3, 2);	/* 257: length 3 */
	bw_code(&w, 0, 1);	/* distance 1 */
	bw_code(&w, 2, 2);	/* EOB */
	bw_flush(&w);
	expect_ok("raw: single 1-bit distance code", w.b.p, w.b.n, 0,
		  (const unsigned char *)"aaaa", 4);
	RESET();
	dyn_header(&w, lens, 258, 1, 1);
	bw_code(&w, 0, 1);
	bw_code(&w, 3, 2);
	bw_code(&w, 1, 1);	/* the unused half */
	bw_code(&w, 2, 2);
	bw_flush(&w);
	expect_err("raw: unused half of a 1-bit distance code", w.b.p, w.b.n, 0,
		   "deflate: invalid distance code");
	/* no distance codes at all is fine for literal-only blocks */
	memset(lens, 0, sizeof lens);
	lens['a'] = 1;
	lens[256] = 1;
	RESET();
	dyn_header(&w, lens, 257, 1, 1);
	bw_code(&w, 0, 1);
	bw_code(&w, 0, 1);
	bw_code(&w, 1, 1);
	bw_flush(&w);
	expect_ok("raw: literal-only block without distance codes", w.b.p, w.b.n,
		  0, (const unsigned char *)"aa", 2);

	/* fixed code: lit/len 286, distance 30 */
	RESET();
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	fixed_sym(&w, 'x');
	fixed_sym(&w, 286);
	bw_flush(&w);
	expect_err("raw: fixed lit/len symbol 286", w.b.p, w.b.n, 0,
		   "deflate: invalid literal/length code");
	RESET();
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	fixed_sym(&w, 'x');
	fixed_sym(&w, 257);
	bw_code(&w, 30, 5);
	fixed_sym(&w, 256);
	bw_flush(&w);
	expect_err("raw: fixed distance symbol 30", w.b.p, w.b.n, 0,
		   "deflate: invalid distance code");
	RESET();
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	fixed_match(&w, 3, 1);
	fixed_sym(&w, 256);
	bw_flush(&w);
	expect_err("raw: distance before any output", w.b.p, w.b.n, 0,
		   "deflate: invalid distance too far back");
	/* the same in the fast loop: lots of input after the bad match */
	RESET();
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	for (i = 0; i < 10; i++)
		fixed_sym(&w, 'q');
	fixed_match(&w, 100, 11);
	for (i = 0; i < 100; i++)
		fixed_sym(&w, 'q');
	fixed_sym(&w, 256);
	bw_flush(&w);
	expect_err("raw: distance too far back, fast path", w.b.p, w.b.n, 0,
		   "deflate: invalid distance too far back");

	/* gzip container */
	zcompress((const unsigned char *)msg, sizeof msg, 1, 6, 15, 8,
		  Z_DEFAULT_STRATEGY, &z);
	expect_ok("gzip: zlib member", z.p, z.n, 1, (const unsigned char *)msg,
		  sizeof msg);
	g.n = 0;
	buf_add(&g, z.p, z.n);
	g.p[0] = 0x1e;
	expect_err("gzip: bad magic", g.p, g.n, 1, "gzip: not in gzip format");
	g.p[0] = 0x1f;
	g.p[2] = 7;
	expect_err("gzip: method 7", g.p, g.n, 1, "gzip: unknown compression method");
	g.p[2] = 8;
	g.p[3] = 0x20;
	expect_err("gzip: reserved flag", g.p, g.n, 1, "gzip: reserved header flags set");
	g.p[3] = 0;
	g.p[g.n - 8] ^= 1;
	expect_err("gzip: bad crc", g.p, g.n, 1, "gzip: crc32 mismatch");
	{
		/* nocrc: the caller hashes the output, the CRC is not checked */
		static struct inf_state s;
		const unsigned char *p = g.p, *o;
		size_t left = g.n, on, got = 0;
		int r;

		inf_init(&s, 1);
		s.nocrc = 1;
		do {
			r = inf_run(&s, &p, &left, 1, &o, &on);
			got += on;
		} while (r == INF_OUT);
		check(r == INF_END && got == sizeof msg, "gzip: bad crc, nocrc: decoded (%d, %zu bytes)", r, got);
		inf_init(&s, 1);
		check(s.nocrc == 0, "gzip: inf_init clears nocrc");
	}
	g.p[g.n - 8] ^= 1;
	g.p[g.n - 4] ^= 1;
	expect_err("gzip: bad isize", g.p, g.n, 1, "gzip: length mismatch");
	g.p[g.n - 4] ^= 1;
	for (i = 0; i < g.n; i++) {
		char name[64];

		snprintf(name, sizeof name, "gzip: cut to %u bytes", i);
		expect_err(name, g.p, i, 1, "gzip: truncated input");
	}
	buf_byte(&g, 0);
	expect_err("gzip: trailing zero byte", g.p, g.n, 1,
		   "gzip: trailing garbage after the last member");
	g.n--;
	buf_add(&g, "junk", 4);
	expect_err("gzip: trailing junk", g.p, g.n, 1,
		   "gzip: trailing garbage after the last member");
	g.n -= 4;
	buf_byte(&g, 0x1f);
	expect_err("gzip: trailing partial member", g.p, g.n, 1,
		   "gzip: truncated input");
	free(g.p);
	free(z.p);
	free(w.b.p);
}

static void test_header_fields(void)
{
	static const char data[] = "header fields";
	struct tbuf raw = {0}, g = {0};
	uint32_t hcrc;
	int flags;

	zcompress((const unsigned char *)data, sizeof data, 0, 6, 15, 8,
		  Z_DEFAULT_STRATEGY, &raw);
	for (flags = 0; flags < 32; flags++) {
		char name[80];
		size_t i;

		g.n = 0;
		buf_add(&g, "\x1f\x8b\x08", 3);
		buf_byte(&g, (unsigned)flags);
		buf_add(&g, "\x01\x02\x03\x04\x00\x03", 6);
		if (flags & 4) {	/* FEXTRA: 300 bytes */
			buf_byte(&g, 300 & 255);
			buf_byte(&g, 300 >> 8);
			for (i = 0; i < 300; i++)
				buf_byte(&g, (unsigned)i * 7);
		}
		if (flags & 8)
			buf_add(&g, "name.tar", 9);
		if (flags & 16)
			buf_add(&g, "a comment", 10);
		if (flags & 2) {
			hcrc = inf_crc32(0, g.p, g.n);
			buf_byte(&g, hcrc & 255);
			buf_byte(&g, hcrc >> 8 & 255);
		}
		buf_add(&g, raw.p, raw.n);
		buf_le32(&g, inf_crc32(0, data, sizeof data));
		buf_le32(&g, sizeof data);
		snprintf(name, sizeof name, "gzip: header flags %#x", flags);
		expect_ok(name, g.p, g.n, 1, (const unsigned char *)data, sizeof data);
		if (flags == 31) {
			size_t at = g.n - raw.n - 8 - 2;

			g.p[at] ^= 0x40;
			expect_err("gzip: header crc mismatch", g.p, g.n, 1,
				   "gzip: header crc mismatch");
		}
	}
	/* FEXTRA with XLEN 0 */
	g.n = 0;
	buf_add(&g, "\x1f\x8b\x08\x04\0\0\0\0\0\x03\0\0", 12);
	buf_add(&g, raw.p, raw.n);
	buf_le32(&g, inf_crc32(0, data, sizeof data));
	buf_le32(&g, sizeof data);
	expect_ok("gzip: empty FEXTRA", g.p, g.n, 1, (const unsigned char *)data,
		  sizeof data);
	free(raw.p);
	free(g.p);
}

static void test_members(void)
{
	static const char a[] = "first member, ", b[] = "second member";
	struct tbuf z = {0}, all = {0}, want = {0};
	struct bw w = {0};
	int i;

	for (i = 0; i < 3; i++) {
		zcompress((const unsigned char *)(i == 1 ? b : a), i == 1 ? 13 : 14,
			  1, 6, 15, 8, Z_DEFAULT_STRATEGY, &z);
		buf_add(&all, z.p, z.n);
		buf_add(&want, i == 1 ? b : a, i == 1 ? 13 : 14);
	}
	expect_ok("gzip: three members", all.p, all.n, 1, want.p, want.n);
	/* an empty member in between */
	all.n = 0;
	zcompress((const unsigned char *)a, 14, 1, 6, 15, 8, Z_DEFAULT_STRATEGY, &z);
	buf_add(&all, z.p, z.n);
	zcompress((const unsigned char *)"", 0, 1, 6, 15, 8, Z_DEFAULT_STRATEGY, &z);
	buf_add(&all, z.p, z.n);
	zcompress((const unsigned char *)a, 14, 1, 6, 15, 8, Z_DEFAULT_STRATEGY, &z);
	buf_add(&all, z.p, z.n);
	expect_ok("gzip: empty member between two", all.p, all.n, 1,
		  (const unsigned char *)"first member, first member, ", 28);
	/* second member reaching back into the first: refused */
	all.n = 0;
	zcompress((const unsigned char *)a, 14, 1, 6, 15, 8, Z_DEFAULT_STRATEGY, &z);
	buf_add(&all, z.p, z.n);
	bw_bits(&w, 1, 1);
	bw_bits(&w, 1, 2);
	fixed_match(&w, 5, 3);
	fixed_sym(&w, 256);
	bw_flush(&w);
	gz_wrap(&all, w.b.p, w.b.n, (const unsigned char *)"ber, ", 5);
	expect_err("gzip: match into the previous member", all.p, all.n, 1,
		   "gzip: invalid distance too far back");
	free(z.p);
	free(all.p);
	free(want.p);
	free(w.b.p);
}

/* Raw mode stops at the end of the stream and says where that is. */
static void test_raw_end(void)
{
	static const char data[] = "raw deflate followed by other bytes";
	struct tbuf z = {0}, in = {0};
	const unsigned char *p, *o;
	size_t n, on, i, total = 0;
	int r = INF_MORE, ok = 1;

	zcompress((const unsigned char *)data, sizeof data, 0, 6, 15, 8,
		  Z_DEFAULT_STRATEGY, &z);
	buf_add(&in, z.p, z.n);
	buf_add(&in, "TRAILER-TRAILER-TRAILER", 23);
	inf_init(&st, 0);
	p = in.p;
	n = in.n;
	while (r != INF_END) {
		r = inf_run(&st, &p, &n, 1, &o, &on);
		total += on;
		if (r < 0) {
			ok = 0;
			break;
		}
	}
	check(ok && total == sizeof data && p == in.p + z.n && n == 23,
	      "raw: whole buffer: *in left just past the stream");
	/* byte by byte: the exact length from total_in and bitcnt */
	inf_init(&st, 0);
	r = INF_MORE;
	for (i = 0; i < in.n && r != INF_END; i++) {
		p = in.p + i;
		n = 1;
		do
			r = inf_run(&st, &p, &n, i + 1 == in.n, &o, &on);
		while (r == INF_OUT);
		if (r < 0)
			break;
	}
	check(r == INF_END && st.total_in - st.bitcnt / 8 == z.n,
	      "raw: byte by byte: total_in - bitcnt/8 is the stream length");
	free(z.p);
	free(in.p);
}

static void test_api_edges(void)
{
	static const unsigned char hello_gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
		0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20, 0x30,
		0x3a, 0x36, 0x06, 0x00, 0x00, 0x00
	};
	const unsigned char *p = hello_gz, *o;
	size_t n = sizeof hello_gz, on;
	int r;

	inf_init(&st, 1);
	r = inf_run(&st, &p, &n, 0, &o, &on);
	check(r == INF_MORE && n == 0 && on == 6, "gzip: whole member without eof: MORE, output given");
	p = NULL;
	r = inf_run(&st, &p, &n, 1, &o, &on);
	check(r == INF_END && on == 0 && p == NULL, "gzip: then eof with no input (NULL): END");
	r = inf_run(&st, &p, &n, 1, &o, &on);
	check(r == INF_END, "END again after END");
	inf_init(&st, 1);
	p = (const unsigned char *)"\x1f\x8c";
	n = 2;
	r = inf_run(&st, &p, &n, 0, &o, &on);
	check(r == -1, "bad magic fails at once without eof");
	p = hello_gz;
	n = sizeof hello_gz;
	r = inf_run(&st, &p, &n, 1, &o, &on);
	check(r == -1 && !strcmp(sb_error(), "gzip: not in gzip format"),
	      "errors are sticky");
}

/* Many inputs through zlib's deflate at many settings, decoded by us. */
static void make_input(struct tbuf *b, int kind, size_t n)
{
	size_t i;

	b->n = 0;
	for (i = 0; i < n; i++) {
		unsigned c;

		switch (kind) {
		case 0:
			c = rnd();
			break;
		case 1:
			c = "abcdefgh"[rnd() % (1 + i / 5000 % 8)];
			break;
		case 2:
			c = rnd() % 97 < 3 ? rnd() : (i > 40 ? b->p[i - 1 - rnd() % 40] : 'x');
			break;
		case 3:
			c = (i / (1 + rnd() % 300)) & 1 ? 0 : rnd() % 4;
			break;
		default:	/* copies from far back */
			c = i > 33000 && rnd() % 50 ? b->p[i - 32768 + rnd() % 3] : rnd() % 16;
			break;
		}
		buf_byte(b, c);
	}
}

static void test_roundtrip(void)
{
	static const int sizes[] = {0, 1, 2, 100, 1000, 40000, 100000, 300000, 1000000};
	static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED,
					 Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
	struct tbuf in = {0}, z = {0}, out = {0};
	int runs = 0, bad = 0;
	char err[256];

	for (int kind = 0; kind < 5; kind++)
		for (unsigned si = 0; si < sizeof sizes / sizeof *sizes; si++)
			for (int t = 0; t < 3; t++) {
				int gzip = t != 1;
				int level = (int)(rnd() % 10), strat = strategies[rnd() % 5];
				int wbits = t == 2 ? 9 + (int)(rnd() % 7) : 15;
				int r;

				make_input(&in, kind, (size_t)sizes[si]);
				zcompress(in.p, in.n, gzip, level, wbits,
					  1 + (int)(rnd() % 9), strat, &z);
				r = decode_all_ways(z.p, z.n, gzip, &out, err);
				runs++;
				if (r != 0 || !same(&out, &in)) {
					bad++;
					printf("# kind %d size %d gzip %d level %d: %s\n",
					       kind, sizes[si], gzip, level,
					       r ? err : "output differs");
				}
			}
	check(bad == 0, "round trip through zlib's deflate: %d streams, 3 feedings each", runs);
	free(in.p);
	free(z.p);
	free(out.p);
}

/* Real files: compress with zlib, decode with both. */
static void test_files(int argc, char **argv)
{
	struct tbuf in = {0}, z = {0}, out = {0};
	int files = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char tmp[65536];
		size_t got;
		char err[256];

		if (!f)
			continue;
		in.n = 0;
		while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
			buf_add(&in, tmp, got);
		fclose(f);
		for (int level = 1; level <= 9; level += 4) {
			zcompress(in.p, in.n, 1, level, 15, 8, Z_DEFAULT_STRATEGY, &z);
			files++;
			if (decode_all_ways(z.p, z.n, 1, &out, err) != 0 ||
			    !same(&out, &in)) {
				bad++;
				printf("# %s level %d: %s\n", argv[i], level, err);
			}
		}
	}
	if (argc > 1)
		check(bad == 0, "real files round trip: %d streams", files);
	free(in.p);
	free(z.p);
	free(out.p);
}

/* Corrupted streams: our verdict and output must equal zlib's. */
static void test_mutations(void)
{
	struct tbuf in = {0}, z = {0}, a = {0}, b = {0};
	int runs = 0, bad = 0, fails = 0;

	for (int i = 0; i < 4000; i++) {
		int gzip = i & 1, ra, rb, nflip;
		size_t k;

		make_input(&in, i % 5, 1 + rnd() % 5000);
		zcompress(in.p, in.n, gzip, (int)(rnd() % 10), 15, 8,
			  i % 3 ? Z_DEFAULT_STRATEGY : Z_FIXED, &z);
		nflip = 1 + (int)(rnd() % 3);
		for (k = 0; k < (size_t)nflip; k++)
			z.p[rnd() % z.n] ^= (unsigned char)(1u << (rnd() % 8));
		if (rnd() % 4 == 0)
			z.n = rnd() % z.n;
		ra = ours(z.p, z.n, gzip, 0, &a);
		rb = ref(z.p, z.n, gzip, &b);
		runs++;
		fails += ra != 0;
		if (ra != rb || (ra == 0 && !same(&a, &b))) {
			bad++;
			printf("# mutation %d: ours %d (%s) zlib %d\n", i, ra, last_err, rb);
		}
	}
	check(bad == 0, "corrupted streams: same verdict and output as zlib (%d runs, %d rejected)",
	      runs, fails);
	free(in.p);
	free(z.p);
	free(a.p);
	free(b.p);
}

int main(int argc, char **argv)
{
	test_crc();
	test_vectors();
	test_distances();
	test_errors();
	test_regressions();
	test_header_fields();
	test_members();
	test_raw_end();
	test_api_edges();
	test_roundtrip();
	test_mutations();
	test_files(argc, argv);
	free(o1.p);
	free(o2.p);
	return tap_done();
}
