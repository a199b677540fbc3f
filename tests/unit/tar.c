/* test_tar.c: unit tests for the tar_ section (tar.c).
 *
 *   musl-gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation \
 *       -Wno-unused-function -O1 -g -static \
 *       test_tar.c -o test_tar && ./test_tar [corpus-dir]
 *
 * Needs root (devices, chown, trusted.* xattrs). Archives are built in
 * memory by the small builder below. Every case runs twice: with openat2
 * and with the path_walk fallback. Extraction goes into SCRATCH/t; SCRATCH
 * also holds "outside" (victims for escapes) and a sentinel, and after
 * every case the listing of SCRATCH minus t, ctimes included, must be
 * what it was. With a directory argument, each test archive is also
 * written there (seeds for fuzz_tar).
 */
#define SANDBOX_NO_MAIN
#include "../../sandbox.c"

#include <ftw.h>
#include <sys/wait.h>

static int failed, ntests;
static char scratch[256], target[300], outside[300];
static const char *corpus_dir;
static int walk_mode; /* 1: path_walk instead of openat2 */

/* What the scratch filesystem and the machine allow: user xattrs (tmpfs
 * has them from Linux 6.6), GNU tar to compare with. A check that needs
 * what is missing says skip, with the reason, instead of failing. */
static const char *no_xattrs, *no_gnu_tar;

static void skipped(const char *why, const char *fmt, ...)
{
	va_list ap;

	printf("skip - [%s] ", walk_mode ? "walk" : "openat2");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(": %s\n", why);
	fflush(stdout);
}

#define ok_if(need, cond, ...) ((need) ? skipped((need), __VA_ARGS__) : ok((cond), __VA_ARGS__))

static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	ntests++;
	if (!cond)
		failed++;
	printf("%s - [%s] ", cond ? "ok" : "not ok", walk_mode ? "walk" : "openat2");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---- the archive builder ---- */

struct ar {
	unsigned char *p;
	size_t len, cap;
};

static void ar_put(struct ar *a, const void *p, size_t n)
{
	if (a->len + n > a->cap) {
		a->cap = (a->len + n) * 2 + 4096;
		a->p = realloc(a->p, a->cap);
		if (!a->p)
			abort();
	}
	memcpy(a->p + a->len, p, n);
	a->len += n;
}

static void ar_pad(struct ar *a)
{
	static const unsigned char z[512];

	ar_put(a, z, -a->len & 511);
}

struct h {
	const char *name, *link, *prefix;
	int magic;              /* 0 POSIX ustar, 1 GNU, 2 none (v7) */
	char type;
	unsigned mode;
	long long uid, gid, mtime;
	unsigned long long size;
	unsigned maj, min;
	int b256;               /* size, uid and mtime in base-256 */
	int bad_sum;
};

static void oct(unsigned char *f, size_t n, unsigned long long v)
{
	snprintf((char *)f, n, "%0*llo", (int)n - 1, v);
}

static void b256(unsigned char *f, size_t n, long long v)
{
	size_t i, sh;

	for (i = 0; i < n; i++) {
		sh = 8 * (n - 1 - i);
		f[i] = sh >= 64 ? (v < 0 ? 0xff : 0) : (unsigned char)(v >> sh);
	}
	f[0] = v < 0 ? 0xff : 0x80;
}

static void ar_hdr(struct ar *a, const struct h *h)
{
	unsigned char b[512];
	unsigned sum = 0;
	int i;

	memset(b, 0, sizeof b);
	memcpy(b, h->name, strlen(h->name) < 100 ? strlen(h->name) : 100);
	oct(b + 100, 8, h->mode ? h->mode : 0644);
	if (h->b256) {
		b256(b + 108, 8, h->uid);
		b256(b + 124, 12, (long long)h->size);
		b256(b + 136, 12, h->mtime);
	} else {
		oct(b + 108, 8, (unsigned long long)h->uid);
		oct(b + 124, 12, h->size);
		oct(b + 136, 12, (unsigned long long)h->mtime);
	}
	oct(b + 116, 8, (unsigned long long)h->gid);
	b[156] = (unsigned char)h->type;
	if (h->link)
		memcpy(b + 157, h->link, strlen(h->link) < 100 ? strlen(h->link) : 100);
	if (h->magic == 0)
		memcpy(b + 257, "ustar\0" "00", 8);
	else if (h->magic == 1)
		memcpy(b + 257, "ustar  \0", 8);
	if (h->magic != 2) {
		oct(b + 329, 8, h->maj);
		oct(b + 337, 8, h->min);
	}
	if (h->prefix)
		memcpy(b + 345, h->prefix, strlen(h->prefix));
	memset(b + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum + (h->bad_sum ? 1 : 0));
	ar_put(a, b, 512);
}

static void ar_entry(struct ar *a, const char *name, char type, unsigned mode,
    const char *link, const void *data, size_t n)
{
	struct h h = { .name = name, .type = type, .mode = mode, .link = link,
		.size = n, .mtime = 1000000000 };

	ar_hdr(a, &h);
	if (n) {
		ar_put(a, data, n);
		ar_pad(a);
	}
}

static void ar_file(struct ar *a, const char *name, const char *s)
{
	ar_entry(a, name, '0', 0644, NULL, s, strlen(s));
}

static void ar_dir(struct ar *a, const char *name)
{
	ar_entry(a, name, '5', 0755, NULL, NULL, 0);
}

static void ar_sym(struct ar *a, const char *name, const char *to)
{
	ar_entry(a, name, '2', 0777, to, NULL, 0);
}

static void ar_link(struct ar *a, const char *name, const char *to)
{
	ar_entry(a, name, '1', 0644, to, NULL, 0);
}

/* pax header with records given as key, value (strings) until NULL */
static void ar_pax_rec(struct ar *r, const char *key, const void *val, size_t vn)
{
	size_t body = strlen(key) + vn + 3, n = body + 1, t;
	char num[24];

	for (;;) {
		t = body + (size_t)snprintf(num, sizeof num, "%zu", n);
		if (t == n)
			break;
		n = t;
	}
	snprintf(num, sizeof num, "%zu ", n);
	ar_put(r, num, strlen(num));
	ar_put(r, key, strlen(key));
	ar_put(r, "=", 1);
	ar_put(r, val, vn);
	ar_put(r, "\n", 1);
}

static void ar_pax_raw(struct ar *a, char type, const void *p, size_t n)
{
	struct h h = { .name = "PaxHeaders/x", .type = type, .size = n };

	ar_hdr(a, &h);
	ar_put(a, p, n);
	ar_pad(a);
}

static void ar_pax(struct ar *a, char type, ...)
{
	struct ar r = { 0 };
	const char *k, *v;
	va_list ap;

	va_start(ap, type);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		ar_pax_rec(&r, k, v, strlen(v));
	}
	va_end(ap);
	ar_pax_raw(a, type, r.p, r.len);
	free(r.p);
}

static void ar_gnu(struct ar *a, char type, const char *name)
{
	struct h h = { .name = "././@LongLink", .type = type, .magic = 1,
		.size = strlen(name) + 1 };

	ar_hdr(a, &h);
	ar_put(a, name, strlen(name) + 1);
	ar_pad(a);
}

static void ar_end(struct ar *a)
{
	static const unsigned char z[1024];

	ar_put(a, z, sizeof z);
}

/* ---- helpers ---- */

static int rm_cb(const char *p, const struct stat *st, int t, struct FTW *f)
{
	(void)st, (void)t, (void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *p)
{
	nftw(p, rm_cb, 64, FTW_DEPTH | FTW_PHYS);
}

/* A listing of the tree at path: one line per entry, sorted, with type,
 * mode, owner, size, mtime, link target, a content checksum, xattrs;
 * with ctimes when ctime. Entries named skip (at the top) left out. */
static void list_rec(struct ar *out, int dfd, const char *rel, int ctime,
    const char *skip)
{
	struct dirent **v;
	char fdp[64];
	int n, i;

	snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", dfd);
	n = scandir(fdp, &v, NULL, alphasort);
	for (i = 0; i < n; i++) {
		const char *nm = v[i]->d_name;
		char path[PATH_MAX], line[PATH_MAX + 1024], lnk[PATH_MAX] = "",
		    xl[4096], val[256];
		unsigned sum = 0;
		struct stat st;
		ssize_t xn;
		int fd;

		if (!strcmp(nm, ".") || !strcmp(nm, "..") || (skip && !*rel &&
		    !strcmp(nm, skip))) {
			free(v[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", nm);
		fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW);
		if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlinkat(dfd, nm, lnk, sizeof lnk - 1);
			lnk[k < 0 ? 0 : k] = 0;
		}
		xl[0] = 0;
		if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			fd = openat(dfd, nm, O_RDONLY | O_NOFOLLOW);
			if (fd >= 0) {
				char names[4096], *p;
				ssize_t ln = flistxattr(fd, names, sizeof names);

				char *xs[64];
				int nx = 0, ix;

				for (p = names; ln > 0 && p < names + ln && nx < 64; p += strlen(p) + 1)
					xs[nx++] = p;
				qsort(xs, (size_t)nx, sizeof *xs, tar_w_namecmp);
				for (ix = 0; ix < nx; ix++) {
					p = xs[ix];
					xn = fgetxattr(fd, p, val, sizeof val);
					snprintf(xl + strlen(xl), sizeof xl - strlen(xl), " %s=%zd:",
					    p, xn);
					for (ssize_t j = 0; j < xn; j++)
						snprintf(xl + strlen(xl), sizeof xl - strlen(xl), "%02x",
						    (unsigned char)val[j]);
				}
				if (S_ISREG(st.st_mode)) {
					unsigned char b[4096];
					ssize_t k;

					while ((k = read(fd, b, sizeof b)) > 0)
						for (ssize_t j = 0; j < k; j++)
							sum = sum * 31 + b[j];
				}
				close(fd);
			}
		}
		snprintf(line, sizeof line, "%s %o %u:%u %lld %lld.%09ld %u:%u nl%u ->%s sum%08x%s",
		    path, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		    major(st.st_rdev), minor(st.st_rdev), S_ISDIR(st.st_mode) ? 0 :
		    (unsigned)st.st_nlink, lnk, sum, xl);
		if (ctime)
			snprintf(line + strlen(line), sizeof line - strlen(line), " c%lld.%09ld",
			    (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		ar_put(out, line, strlen(line));
		ar_put(out, "\n", 1);
		if (S_ISDIR(st.st_mode)) {
			fd = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			if (fd >= 0) {
				list_rec(out, fd, path, ctime, skip);
				close(fd);
			}
		}
		free(v[i]);
	}
	free(v);
}

static char *list(const char *dir, int ctime, const char *skip)
{
	struct ar out = { 0 };
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		list_rec(&out, fd, "", ctime, skip);
		close(fd);
	}
	ar_put(&out, "", 1);
	return (char *)out.p;
}

static char *outside_before;

static void fresh_target(void)
{
	rm_rf(target);
	if (mkdir(target, 0755) < 0) {
		perror(target);
		exit(2);
	}
}

static int case_no;

/* Extracts a into a fresh target, fed in pieces of chunk bytes (0: all). */
static int extract_into(const struct ar *a, unsigned flags, size_t chunk,
    int fresh, struct tar_x *lim)
{
	struct tar_x x;
	size_t i, k;
	int fd, r = 0;

	if (corpus_dir && chunk == 0 && fresh) {
		char p[512];
		FILE *f;

		snprintf(p, sizeof p, "%s/t%03d-%u", corpus_dir, case_no++, flags);
		if ((f = fopen(p, "w"))) {
			fwrite(a->p, 1, a->len, f);
			fclose(f);
		}
	}
	if (fresh)
		fresh_target();
	fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	tar_x_init(&x, fd, flags);
	if (lim) {
		x.max_file = lim->max_file;
		x.max_entries = lim->max_entries;
		x.max_pax = lim->max_pax;
		x.max_dirmem = lim->max_dirmem;
		x.max_total = lim->max_total;
	}
	err_buf[0] = 0;
	for (i = 0; i < a->len && r == 0; i += k) {
		k = chunk && chunk < a->len - i ? chunk : a->len - i;
		r = tar_x_feed(&x, a->p + i, k);
	}
	if (r == 0)
		r = tar_x_end(&x);
	tar_x_free(&x);
	close(fd);
	return r;
}

static int extract(const struct ar *a, unsigned flags)
{
	return extract_into(a, flags, 0, 1, NULL);
}

static int outside_same(void)
{
	char *now = list(scratch, 1, "t");
	int same = !strcmp(now, outside_before);

	if (!same)
		fprintf(stderr, "outside changed:\n--- before\n%s--- after\n%s", outside_before, now);
	free(now);
	return same;
}

static int exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", target, rel);
	return lstat(p, &st) == 0;
}

static struct stat lst(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	memset(&st, 0, sizeof st);
	snprintf(p, sizeof p, "%s/%s", target, rel);
	lstat(p, &st);
	return st;
}

static char *content(const char *rel)
{
	static char buf[8192];
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(p, sizeof p, "%s/%s", target, rel);
	buf[0] = 0;
	if ((fd = open(p, O_RDONLY | O_NOFOLLOW)) < 0)
		return buf;
	n = read(fd, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	close(fd);
	return buf;
}

static char *linkof(const char *rel)
{
	static char buf[PATH_MAX];
	char p[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof p, "%s/%s", target, rel);
	n = readlink(p, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static ssize_t xattr(const char *rel, const char *name, char *v, size_t n)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s", target, rel);
	return lgetxattr(p, name, v, n);
}

static int err_has(const char *s)
{
	return strstr(sb_error(), s) != NULL;
}

/* Runs a hostile archive in every mode: must not touch anything outside
 * the target; want_err: 1 must fail, 0 must succeed, -1 either. The
 * error must name the entry when want_name. */
static void hostile(const char *what, const struct ar *a, int want_err,
    const char *want_msg)
{
	static const unsigned modes[] = { 0, TAR_OVERLAY, TAR_APPLY };
	size_t i;

	for (i = 0; i < LEN(modes); i++) {
		int r = extract(a, modes[i] | TAR_OWNERS);
		int good = want_err < 0 || (r < 0) == want_err;

		if (want_msg && r < 0)
			good = good && err_has(want_msg);
		ok(good && outside_same(), "hostile %s (flags %u): %s", what, modes[i],
		    r < 0 ? sb_error() : "extracted");
	}
}

/* ---- the tests ---- */

static void t_types(void)
{
	struct ar a = { 0 };
	struct h h = { 0 };
	struct stat st;

	ar_dir(&a, "d/");
	ar_file(&a, "d/f", "hello\n");
	ar_sym(&a, "d/s", "f");
	ar_link(&a, "d/l", "d/f");
	h = (struct h){ .name = "d/c", .type = '3', .mode = 0620, .maj = 4, .min = 5 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "d/b", .type = '4', .mode = 0660, .maj = 7, .min = 9 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "d/p", .type = '6', .mode = 0640 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "d/seven", .type = '7', .mode = 0600, .size = 3 };
	ar_hdr(&a, &h);
	ar_put(&a, "abc", 3);
	ar_pad(&a);
	h = (struct h){ .name = "d/old", .type = 0, .mode = 0604, .size = 2 };
	ar_hdr(&a, &h);
	ar_put(&a, "xy", 2);
	ar_pad(&a);
	h = (struct h){ .name = "v7file", .type = 0, .magic = 2, .size = 2, .mode = 0644 };
	ar_hdr(&a, &h);
	ar_put(&a, "v7", 2);
	ar_pad(&a);
	h = (struct h){ .name = "v7dir/", .type = 0, .magic = 2, .mode = 0750 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "gnu", .type = '0', .magic = 1, .size = 1, .uid = 7, .gid = 8 };
	ar_hdr(&a, &h);
	ar_put(&a, "g", 1);
	ar_pad(&a);
	h = (struct h){ .name = "suid", .type = '0', .mode = 04755, .uid = 1000, .gid = 1000 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "sgid", .type = '0', .mode = 02711, .uid = 1000, .gid = 50 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "sticky/", .type = '5', .mode = 01777, .mtime = 12345 };
	ar_hdr(&a, &h);
	ar_end(&a);
	ok(extract(&a, TAR_OWNERS) == 0, "all entry types extract: %s", sb_error());
	ok(!strcmp(content("d/f"), "hello\n") && S_ISREG(lst("d/f").st_mode) &&
	    (lst("d/f").st_mode & 07777) == 0644 && lst("d/f").st_mtime == 1000000000,
	    "regular file content, mode, mtime");
	ok(S_ISLNK(lst("d/s").st_mode) && !strcmp(linkof("d/s"), "f") &&
	    lst("d/s").st_mtime == 1000000000, "symlink and its mtime");
	ok(lst("d/l").st_ino == lst("d/f").st_ino && lst("d/f").st_nlink == 2, "hardlink");
	st = lst("d/c");
	ok(S_ISCHR(st.st_mode) && major(st.st_rdev) == 4 && minor(st.st_rdev) == 5 &&
	    (st.st_mode & 07777) == 0620, "char device 4,5 mode 0620");
	st = lst("d/b");
	ok(S_ISBLK(st.st_mode) && major(st.st_rdev) == 7 && minor(st.st_rdev) == 9,
	    "block device 7,9");
	ok(S_ISFIFO(lst("d/p").st_mode) && (lst("d/p").st_mode & 07777) == 0640, "fifo");
	ok(!strcmp(content("d/seven"), "abc") && !strcmp(content("d/old"), "xy"),
	    "types '7' and NUL are regular files");
	ok(!strcmp(content("v7file"), "v7") && S_ISDIR(lst("v7dir").st_mode) &&
	    (lst("v7dir").st_mode & 07777) == 0750, "v7 header file and dir/");
	ok(lst("gnu").st_uid == 7 && lst("gnu").st_gid == 8 && !strcmp(content("gnu"), "g"),
	    "GNU magic header, owner");
	ok((lst("suid").st_mode & 07777) == 04755 && lst("suid").st_uid == 1000,
	    "setuid kept after chown");
	ok((lst("sgid").st_mode & 07777) == 02711 && lst("sgid").st_gid == 50, "setgid");
	ok((lst("sticky").st_mode & 07777) == 01777 && lst("sticky").st_mtime == 12345,
	    "sticky dir, deferred mtime");
	ok(lst("d").st_mtime == 1000000000, "dir mtime set after its entries");
	free(a.p);
}

static void t_pax(void)
{
	struct ar a = { 0 }, r = { 0 };
	char longname[400], longlink[600], v[64];
	static const unsigned char cap[20] = { 0, 0, 0, 2, 0, 0x20, 0, 0 };
	struct h h;
	int i;

	for (i = 0; i < 300; i++)
		longname[i] = 'a' + i % 26;
	memcpy(longname + 100, "/", 1);
	memcpy(longname + 200, "/", 1);
	longname[300] = 0;
	for (i = 0; i < 500; i++)
		longlink[i] = 'L';
	longlink[500] = 0;
	ar_pax(&a, 'x', "path", longname, "mtime", "1234567890.123456789",
	    "uid", "3000000", "gid", "4000000", "atime", "1.5", "comment", "hi", NULL);
	ar_file(&a, "short-ignored", "pax");
	ar_pax(&a, 'x', "linkpath", longlink, "mtime", "-1.25", NULL);
	ar_sym(&a, "longlink", "ignored");
	ar_pax_rec(&r, "SCHILY.xattr.user.bin", "a\0b\nc=", 6);
	ar_pax_rec(&r, "SCHILY.xattr.security.capability", cap, sizeof cap);
	ar_pax_rec(&r, "SCHILY.xattr.security.selinux", "x", 1);
	ar_pax_rec(&r, "SCHILY.xattr.trusted.other", "x", 1);
	ar_pax_rec(&r, "LIBARCHIVE.xattr.user.x", "eA==", 4);
	ar_pax_rec(&r, "size", "5", 1);
	ar_pax_raw(&a, 'x', r.p, r.len);
	h = (struct h){ .name = "xf", .type = '0', .size = 999 }; /* pax size wins */
	ar_hdr(&a, &h);
	ar_put(&a, "12345", 5);
	ar_pad(&a);
	ar_pax(&a, 'x', "SCHILY.xattr.user.d", "dirattr", NULL);
	ar_dir(&a, "xd");
	/* ustar prefix */
	h = (struct h){ .name = "name-part", .prefix = "prefix/part", .type = '0' };
	ar_hdr(&a, &h);
	/* GNU long names */
	ar_gnu(&a, 'L', "gnu/long/name/that/is/longer/than/one/hundred/bytes/"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/file");
	ar_gnu(&a, 'K', longlink);
	ar_sym(&a, "x", "y");
	/* base-256 */
	h = (struct h){ .name = "b256", .type = '0', .size = 3, .uid = 5000000, .b256 = 1,
		.mtime = -100 };
	ar_hdr(&a, &h);
	ar_put(&a, "b25", 3);
	ar_pad(&a);
	/* global: mtime and uid for what follows, 'x' overrides */
	ar_pax(&a, 'g', "mtime", "777", "uid", "42", "path", "ignored-global", NULL);
	ar_file(&a, "g1", "1");
	ar_pax(&a, 'x', "mtime", "888", NULL);
	ar_file(&a, "g2", "2");
	ar_end(&a);
	ok(extract(&a, TAR_OWNERS) == 0, "pax archive extracts: %s", sb_error());
	ok(!strcmp(content(longname), "pax") && !exists("short-ignored"), "pax path");
	ok(lst(longname).st_mtime == 1234567890 &&
	    lst(longname).st_mtim.tv_nsec == 123456789, "pax mtime with fraction");
	ok(lst(longname).st_uid == 3000000 && lst(longname).st_gid == 4000000,
	    "pax uid/gid beyond octal");
	ok(!strcmp(linkof("longlink"), longlink), "pax linkpath 500 bytes");
	ok(lst("longlink").st_mtime == -2 && lst("longlink").st_mtim.tv_nsec == 750000000,
	    "negative fractional mtime -1.25");
	ok(!strcmp(content("xf"), "12345") && lst("xf").st_size == 5, "pax size overrides header");
	ok_if(no_xattrs, xattr("xf", "user.bin", v, sizeof v) == 6 && !memcmp(v, "a\0b\nc=", 6),
	    "binary user xattr");
	ok(xattr("xf", "security.capability", v, sizeof v) == 20, "security.capability set");
	ok(xattr("xf", "security.selinux", v, sizeof v) < 0 &&
	    xattr("xf", "trusted.other", v, sizeof v) < 0 &&
	    xattr("xf", "user.x", v, sizeof v) < 0, "other xattrs left out");
	ok_if(no_xattrs, xattr("xd", "user.d", v, sizeof v) == 7, "dir xattr");
	ok(exists("prefix/part/name-part"), "ustar prefix");
	ok(!strcmp(linkof("gnu/long/name/that/is/longer/than/one/hundred/bytes/"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/file"), longlink),
	    "GNU L and K");
	ok(!strcmp(content("b256"), "b25") && lst("b256").st_uid == 5000000 &&
	    lst("b256").st_mtime == -100, "base-256 size, uid, negative mtime");
	ok(lst("g1").st_mtime == 777 && lst("g1").st_uid == 42 && !exists("ignored-global"),
	    "global mtime/uid apply, global path ignored");
	ok(lst("g2").st_mtime == 888 && lst("g2").st_uid == 42, "x overrides g");
	free(a.p);
	free(r.p);
}

static void t_replace(void)
{
	struct ar a = { 0 };
	struct h h;

	ar_file(&a, "f", "one");
	ar_file(&a, "f", "two");
	ar_file(&a, "fd", "file");
	ar_dir(&a, "fd/");
	ar_file(&a, "fd/in", "x");
	ar_dir(&a, "df/");
	ar_file(&a, "df/in", "x");
	ar_dir(&a, "df/sub/");
	ar_file(&a, "df", "now a file");
	ar_dir(&a, "dd/");
	ar_file(&a, "dd/keep", "k");
	h = (struct h){ .name = "dd/", .type = '5', .mode = 0700, .mtime = 4242 };
	ar_hdr(&a, &h);
	ar_sym(&a, "sf", "/etc/passwd");
	ar_file(&a, "sf", "file over symlink");
	ar_file(&a, "fs", "x");
	ar_sym(&a, "fs", "target");
	ar_file(&a, "h1", "shared");
	ar_link(&a, "h2", "h1");
	ar_file(&a, "h2", "new h2");
	ar_file(&a, "self", "self");
	ar_link(&a, "self", "self");
	ar_sym(&a, "sd", "fd");
	ar_dir(&a, "sd/");
	ar_file(&a, "sd/x", "real");
	ar_pax(&a, 'x', "SCHILY.xattr.user.one", "1", "SCHILY.xattr.user.two", "2", NULL);
	ar_dir(&a, "xa/");
	ar_pax(&a, 'x', "SCHILY.xattr.user.two", "II", NULL);
	ar_dir(&a, "xa/");
	ar_end(&a);
	ok(extract(&a, 0) == 0, "replacement archive: %s", sb_error());
	ok(!strcmp(content("f"), "two"), "file replaces file");
	ok(S_ISDIR(lst("fd").st_mode) && exists("fd/in"), "dir replaces file");
	ok(S_ISREG(lst("df").st_mode) && !strcmp(content("df"), "now a file"),
	    "file replaces dir and its contents");
	ok(exists("dd/keep") && (lst("dd").st_mode & 07777) == 0700 &&
	    lst("dd").st_mtime == 4242, "dir over dir keeps contents, last metadata wins");
	ok(S_ISREG(lst("sf").st_mode), "file replaces symlink");
	ok(S_ISLNK(lst("fs").st_mode), "symlink replaces file");
	ok(!strcmp(content("h1"), "shared") && !strcmp(content("h2"), "new h2"),
	    "replacing one name of a hardlink leaves the other");
	ok(!strcmp(content("self"), "self"), "hardlink to itself is a no-op");
	ok(S_ISDIR(lst("sd").st_mode) && S_ISREG(lst("sd/x").st_mode) &&
	    !exists("fd/x"), "dir replaces symlink (not followed)");
	{
		char v[8];

		ok_if(no_xattrs, xattr("xa", "user.one", v, sizeof v) < 0 &&
		    xattr("xa", "user.two", v, sizeof v) == 2,
		    "dir over dir: the later entry's xattrs, only those");
	}
	free(a.p);
}

static void t_dirs(void)
{
	struct ar a = { 0 };
	struct h h;

	h = (struct h){ .name = "ro/", .type = '5', .mode = 0555, .mtime = 100 };
	ar_hdr(&a, &h);
	h = (struct h){ .name = "ro/sub/", .type = '5', .mode = 010000, .mtime = 200 };
	ar_hdr(&a, &h);
	ar_file(&a, "ro/f", "in a 0555 dir");
	ar_file(&a, "implicit/parent/file", "x");
	h = (struct h){ .name = "./", .type = '5', .mode = 0751, .mtime = 300 };
	ar_hdr(&a, &h);
	ar_end(&a);
	ok(extract(&a, 0) == 0, "dirs: %s", sb_error());
	ok((lst("ro").st_mode & 07777) == 0555 && lst("ro").st_mtime == 100 &&
	    exists("ro/f"), "0555 dir gets its mode at the end");
	ok((lst("ro/sub").st_mode & 07777) == 0 && lst("ro/sub").st_mtime == 200,
	    "mode 0 dir");
	ok(S_ISDIR(lst("implicit/parent").st_mode), "missing parents are made");
	ok((lst(".").st_mode & 07777) == 0751 && lst(".").st_mtime == 300,
	    "./ entry sets the root's metadata");
	chmod(target, 0755);
	free(a.p);
}

static void t_overlay(void)
{
	struct ar a = { 0 };
	char v[8];
	struct stat st;

	ar_dir(&a, "d/");
	ar_file(&a, "d/.wh.gone", "");
	ar_file(&a, "d/.wh..wh..opq", "");
	ar_file(&a, "d/kept", "k");
	ar_file(&a, "o/.wh..wh..opq", ""); /* before its dir */
	ar_dir(&a, "o/");
	ar_file(&a, ".wh..wh.plnk", "");
	ar_file(&a, "e/x", "x");
	ar_file(&a, "e/.wh.x", "");       /* replaces x, same layer: later wins */
	ar_file(&a, "new/.wh.y", "");      /* parent made */
	ar_end(&a);
	ok(extract(&a, TAR_OVERLAY) == 0, "overlay whiteouts: %s", sb_error());
	st = lst("d/gone");
	ok(S_ISCHR(st.st_mode) && st.st_rdev == 0 && !exists("d/.wh.gone"),
	    ".wh.NAME becomes a 0/0 char device");
	ok(xattr("d", TAR_OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y' &&
	    !exists("d/.wh..wh..opq") && exists("d/kept"), "opaque dir xattr");
	ok(xattr("o", TAR_OPAQUE_XATTR, v, sizeof v) == 1, "opaque marker before its dir");
	ok(!exists(".wh..wh.plnk") && !exists("plnk"), "AUFS .wh..wh. names skipped");
	ok(S_ISCHR(lst("e/x").st_mode), "whiteout after a same-layer file replaces it");
	ok(S_ISCHR(lst("new/y").st_mode), "whiteout in a missing dir");
	free(a.p);

	/* the same archive without the flag: literal files */
	a = (struct ar){ 0 };
	ar_file(&a, "d/.wh.gone", "");
	ar_end(&a);
	ok(extract(&a, 0) == 0 && exists("d/.wh.gone"), "no flag: whiteouts are files");
	free(a.p);
}

/* An "earlier layer" in the target, then a layer applied on it. */
static void lower(void)
{
	struct ar a = { 0 };

	ar_file(&a, "a/old1", "1");
	ar_file(&a, "a/old2/x", "x");
	ar_file(&a, "a/-early", "e");
	ar_file(&a, "b", "b");
	ar_file(&a, "c/d", "d");
	ar_file(&a, "c/e/f", "f");
	ar_file(&a, "keep/k", "k");
	ar_file(&a, "w/x", "x");
	ar_file(&a, "hl", "hard");
	ar_end(&a);
	if (extract(&a, TAR_APPLY) < 0)
		ok(0, "lower layer: %s", sb_error());
	free(a.p);
}

static void t_apply(void)
{
	struct ar a = { 0 };
	int r;

	lower();
	ar_file(&a, "a/-new", "this layer, before the marker");
	ar_file(&a, "a/old2/y", "this layer, in an old dir");
	ar_dir(&a, "a/");
	ar_file(&a, "a/.wh..wh..opq", "");
	ar_file(&a, "a/zz", "after the marker");
	ar_file(&a, ".wh.b", "");
	ar_file(&a, "c/new", "this layer");
	ar_file(&a, ".wh.c", "");
	ar_file(&a, ".wh.nothing", "");
	ar_file(&a, "nodir/.wh.x", "");
	ar_file(&a, "w/y", "mine");
	ar_file(&a, "w/.wh.y", ""); /* same layer: the spec says y stays */
	ar_link(&a, "hl2", "hl");  /* to an earlier layer's file */
	ar_end(&a);
	r = extract_into(&a, TAR_APPLY, 0, 0, NULL);
	ok(r == 0, "apply layer: %s", sb_error());
	ok(!exists("a/old1") && !exists("a/old2/x") && !exists("a/-early"),
	    "opaque dir emptied of earlier layers");
	ok(exists("a/-new") && exists("a/zz") && exists("a/old2/y"),
	    "opaque keeps this layer's entries in any order");
	ok(!exists("b"), ".wh.b removes b");
	ok(S_ISDIR(lst("c").st_mode) && exists("c/new") && !exists("c/d") &&
	    !exists("c/e"), "whiteout of a dir keeps what this layer put in it");
	ok(exists("keep/k") && exists("w/x") && exists("w/y"),
	    "unrelated entries stay; same-layer whiteout does not remove");
	ok(lst("hl2").st_ino == lst("hl").st_ino, "hardlink to an earlier layer's file");
	free(a.p);

	/* 1-byte feeding of the same */
	lower();
	a = (struct ar){ 0 };
	ar_file(&a, "a/-new", "n");
	ar_file(&a, "a/.wh..wh..opq", "");
	ar_file(&a, ".wh.keep", "");
	ar_end(&a);
	ok(extract_into(&a, TAR_APPLY, 1, 0, NULL) == 0 && exists("a/-new") &&
	    !exists("a/old1") && !exists("keep"), "apply, 1-byte feeding");
	free(a.p);

	/* opaque root */
	lower();
	a = (struct ar){ 0 };
	ar_file(&a, "top", "t");
	ar_file(&a, ".wh..wh..opq", "");
	ar_end(&a);
	ok(extract_into(&a, TAR_APPLY, 0, 0, NULL) == 0 && exists("top") &&
	    !exists("a") && !exists("keep"), "opaque root");
	free(a.p);
}

/* Whole vs 1-byte vs odd-sized feeding give the same tree. */
static void t_chunking(void)
{
	static const size_t chunks[] = { 1, 7, 511, 512, 513, 4096, 65536 };
	struct ar a = { 0 };
	char big[70000], *want, *got;
	size_t i;

	for (i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 23);
	big[sizeof big - 1] = 0;
	ar_dir(&a, "x/");
	ar_file(&a, "x/big", big);
	ar_pax(&a, 'x', "path", "x/paxname", "SCHILY.xattr.user.k", "v", NULL);
	ar_file(&a, "ignored", "p");
	ar_gnu(&a, 'L', "x/gnulong");
	ar_file(&a, "ignored", "g");
	ar_sym(&a, "x/s", "big");
	ar_link(&a, "x/h", "x/big");
	ar_file(&a, "x/empty", "");
	ar_file(&a, "x/.wh.gone", "");
	ar_file(&a, "x/y/.wh..wh..opq", "");
	ar_dir(&a, "x/y/");
	ar_end(&a);
	memset(big, 0, 3000); /* record padding after the end */
	ar_put(&a, big, 3000);
	extract_into(&a, TAR_OVERLAY, 0, 1, NULL);
	want = list(target, 0, NULL);
	for (i = 0; i < LEN(chunks); i++) {
		int r = extract_into(&a, TAR_OVERLAY, chunks[i], 1, NULL);

		got = list(target, 0, NULL);
		ok(r == 0 && !strcmp(want, got), "feeding %zu bytes at a time = whole", chunks[i]);
		if (r || strcmp(want, got))
			fprintf(stderr, "%s\n--- whole\n%s--- chunked\n%s", sb_error(), want, got);
		free(got);
	}
	free(want);
	free(a.p);
}

static void t_end(void)
{
	struct ar a = { 0 };
	static const unsigned char z[512];
	size_t n;

	ok(extract(&a, 0) < 0 && err_has("truncated"), "empty input: %s", sb_error());
	ar_end(&a);
	ok(extract(&a, 0) == 0, "only the end blocks");
	a.len = 512;
	ok(extract(&a, 0) == 0, "a lone zero block ends it");
	a.len = 0;
	ar_file(&a, "f", "x");
	n = a.len;
	ok(extract(&a, 0) < 0 && err_has("truncated"), "no end blocks: %s", sb_error());
	ar_put(&a, z, 512);
	ar_file(&a, "g", "x");
	ar_end(&a);
	ok(extract(&a, 0) < 0 && err_has("zero block"), "zero block then a header: %s",
	    sb_error());
	a.len = n - 100;
	ok(extract(&a, 0) < 0 && err_has("truncated in entry \"f\""),
	    "truncated in data: %s", sb_error());
	a.len = n - 512 + 1; /* in the padding */
	ok(extract(&a, 0) < 0 && err_has("truncated"), "truncated in padding: %s", sb_error());
	a.len = 300;
	ok(extract(&a, 0) < 0 && err_has("truncated"), "truncated in a header: %s",
	    sb_error());
	a.len = 0;
	ar_pax(&a, 'x', "path", "p", NULL);
	ar_end(&a);
	ok(extract(&a, 0) < 0 && err_has("after an extended header"),
	    "pax header then the end: %s", sb_error());
	a.len = 0;
	ar_pax(&a, 'x', "path", "p", NULL);
	a.len -= 100;
	ok(extract(&a, 0) < 0, "truncated pax: %s", sb_error());
	free(a.p);
}

static void t_hostile(void)
{
	struct ar a = { 0 };
	char abs_out[400], abs_pw[400], name[5000];
	struct h h;
	int i;

	snprintf(abs_out, sizeof abs_out, "%s", outside);
	snprintf(abs_pw, sizeof abs_pw, "%s/passwd", outside);

	ar_file(&a, "../x", "escape");
	ar_end(&a);
	hostile("../x", &a, 1, "entry \"../x\": the path has a \"..\" component");
	a.len = 0;
	ar_file(&a, "a/../../outside/passwd", "escape");
	ar_end(&a);
	hostile("a/../../outside/passwd", &a, 1, "\"..\"");
	a.len = 0;
	ar_file(&a, abs_pw, "contained");
	ar_file(&a, "/abs", "contained");
	ar_end(&a);
	hostile("absolute paths", &a, 0, NULL);
	ok(exists(abs_pw + 1) && exists("abs"), "absolute paths are made relative");

	/* symlink, then write through it */
	a.len = 0;
	ar_sym(&a, "a", abs_out);
	ar_file(&a, "a/passwd", "through an absolute symlink");
	ar_end(&a);
	hostile("a -> /abs/outside, a/passwd", &a, -1, NULL);
	a.len = 0;
	ar_dir(&a, abs_out + 1); /* exists inside: the write lands there */
	ar_sym(&a, "a", abs_out);
	ar_file(&a, "a/passwd", "contained");
	ar_end(&a);
	hostile("a -> /abs/outside (existing inside), a/passwd", &a, 0, NULL);
	ok(!strcmp(content(abs_pw + 1), "contained"), "the write stayed inside");
	a.len = 0;
	ar_sym(&a, "a", "../../../../../../../../..");
	ar_file(&a, "a/x", "x");
	ar_sym(&a, "b", "../outside");
	ar_file(&a, "b/passwd", "x");
	ar_end(&a);
	hostile("a -> ../../.., a/x", &a, -1, NULL);
	a.len = 0;
	ar_sym(&a, "a", "../../../../../../../../..");
	ar_file(&a, "a/x", "x");
	ar_end(&a);
	extract(&a, 0);
	ok(exists("x") && S_ISREG(lst("x").st_mode), "a -> ../../.. contained at the root");
	a.len = 0;
	ar_sym(&a, "c1", "c2");
	ar_sym(&a, "c2", "c3/..");
	ar_dir(&a, "c3/");
	ar_sym(&a, "c3/up", "../../../..");
	ar_file(&a, "c1/c3/up/c3/up/passwd", "chained");
	ar_sym(&a, "loop", "loop");
	ar_end(&a);
	hostile("chained symlinks", &a, -1, NULL);
	a.len = 0;
	ar_sym(&a, "loop", "loop2");
	ar_sym(&a, "loop2", "loop");
	ar_file(&a, "loop/x", "x");
	ar_end(&a);
	hostile("symlink loop", &a, 1, NULL);
	a.len = 0;
	ar_sym(&a, "p", abs_pw);
	ar_file(&a, "p", "replace the symlink, not write through it");
	ar_sym(&a, "q", "../outside/passwd");
	ar_dir(&a, "q/");
	ar_sym(&a, "r", abs_pw);
	ar_link(&a, "r", "p");
	ar_sym(&a, "s", abs_out);
	ar_entry(&a, "s", '6', 0644, NULL, NULL, 0);
	ar_end(&a);
	hostile("last component symlink to outside", &a, 0, NULL);
	a.len = 0;
	ar_sym(&a, "d", abs_out);
	ar_dir(&a, "d/");
	ar_file(&a, "d/passwd", "in a real dir now");
	ar_end(&a);
	hostile("symlink replaced by a dir", &a, 0, NULL);
	ok(S_ISDIR(lst("d").st_mode) && exists("d/passwd"), "dir replaced the symlink");
	a.len = 0;
	h = (struct h){ .name = "dd/", .type = '5', .mode = 0777, .mtime = 5 };
	ar_hdr(&a, &h);
	ar_sym(&a, "dd", abs_out);
	h = (struct h){ .name = "de/", .type = '5', .mode = 0777, .mtime = 5 };
	ar_hdr(&a, &h);
	ar_sym(&a, "de", "../outside");
	ar_end(&a);
	hostile("dir metadata deferred, dir replaced by symlink to outside", &a, 0, NULL);
	a.len = 0;
	ar_dir(&a, "dz/");
	ar_sym(&a, "dz", abs_out);
	ar_file(&a, "dz/passwd", "x");
	ar_end(&a);
	hostile("dir replaced by symlink, then written through", &a, -1, NULL);

	/* hardlinks */
	a.len = 0;
	ar_link(&a, "l", "../outside/passwd");
	ar_end(&a);
	hostile("hardlink ../outside/passwd", &a, 1, "\"..\"");
	a.len = 0;
	ar_link(&a, "l", abs_pw);
	ar_end(&a);
	hostile("hardlink /abs/outside/passwd", &a, 1, "does not exist");
	a.len = 0;
	ar_sym(&a, "s", abs_out);
	ar_link(&a, "l", "s/passwd");
	ar_end(&a);
	hostile("hardlink through a symlink to outside", &a, 1, "does not exist");
	a.len = 0;
	ar_sym(&a, "s", abs_pw);
	ar_link(&a, "l", "s");
	ar_file(&a, "l", "write to the link");
	ar_link(&a, "m", "s");
	ar_file(&a, "s", "write to the symlink's name");
	ar_end(&a);
	hostile("hardlink to a symlink pointing outside", &a, 0, NULL);
	a.len = 0;
	ar_sym(&a, "s", abs_pw);
	ar_link(&a, "l", "s");
	ar_end(&a);
	extract(&a, 0);
	ok(S_ISLNK(lst("l").st_mode) && lst("l").st_ino == lst("s").st_ino,
	    "a hardlink to a symlink links the symlink itself");
	a.len = 0;
	ar_dir(&a, "dir/");
	ar_link(&a, "l", "dir");
	ar_end(&a);
	hostile("hardlink to a directory", &a, 1, "hardlink to a directory");
	a.len = 0;
	ar_link(&a, "l", "missing");
	ar_end(&a);
	hostile("hardlink to a missing file", &a, 1, "does not exist");
	a.len = 0;
	ar_link(&a, "l", "");
	ar_end(&a);
	hostile("hardlink to the root", &a, 1, NULL);

	/* devices */
	a.len = 0;
	h = (struct h){ .name = "mem", .type = '3', .maj = 1, .min = 1 };
	ar_hdr(&a, &h);
	ar_end(&a);
	ok(extract(&a, TAR_NO_DEVICES) < 0 && err_has("entry \"mem\": device nodes are not allowed"),
	    "TAR_NO_DEVICES refuses char devices: %s", sb_error());
	a.len = 0;
	h = (struct h){ .name = "sda", .type = '4', .maj = 8, .min = 0 };
	ar_hdr(&a, &h);
	ar_end(&a);
	ok(extract(&a, TAR_NO_DEVICES) < 0, "TAR_NO_DEVICES refuses block devices");
	a.len = 0;
	h = (struct h){ .name = "fifo", .type = '6' };
	ar_hdr(&a, &h);
	ar_file(&a, ".wh.x", "");
	ar_end(&a);
	ok(extract(&a, TAR_NO_DEVICES | TAR_OVERLAY) == 0 && S_ISFIFO(lst("fifo").st_mode) &&
	    S_ISCHR(lst("x").st_mode), "TAR_NO_DEVICES allows fifos and whiteouts");

	/* headers and numbers */
	a.len = 0;
	h = (struct h){ .name = "bad", .type = '0', .bad_sum = 1 };
	ar_hdr(&a, &h);
	ar_end(&a);
	hostile("bad checksum", &a, 1, "bad header checksum");
	a.len = 0;
	h = (struct h){ .name = "PaxHeaders/x", .type = 'x', .size = 0xffffffffull };
	ar_hdr(&a, &h);
	ar_end(&a);
	hostile("pax header of 4 GB", &a, 1, "pax header of 4294967295 bytes");
	a.len = 0;
	h = (struct h){ .name = "huge", .type = '0', .size = 1ull << 62, .b256 = 1 };
	ar_hdr(&a, &h);
	ar_end(&a);
	hostile("file of 2^62 bytes", &a, 1, "exceeds the limit");
	a.len = 0;
	ar_pax(&a, 'x', "size", "99999999999999999999999", NULL);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax size overflow", &a, 1, "bad pax size");
	a.len = 0;
	ar_pax(&a, 'x', "uid", "4294967295", NULL);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax uid -1", &a, 1, "bad pax uid");
	a.len = 0;
	ar_pax_raw(&a, 'x', "99 path=x\n", 10);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax record longer than the header", &a, 1, "malformed pax record");
	a.len = 0;
	ar_pax_raw(&a, 'x', "0 path=x\n", 9);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax record length 0", &a, 1, "malformed pax");
	a.len = 0;
	ar_pax_raw(&a, 'x', "9 path=x\n\0\0", 11);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax trailing garbage", &a, 1, "malformed pax");
	a.len = 0;
	ar_pax_raw(&a, 'x', "11 path=x\nX", 11);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax record length off by one", &a, 1, "malformed pax");
	a.len = 0;
	ar_pax_raw(&a, 'x', "12 path=a\0b\n", 12);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("NUL in a pax path", &a, 1, "bad pax path");
	a.len = 0;
	ar_pax(&a, 'x', "GNU.sparse.size", "100", NULL);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax sparse", &a, 1, "sparse");
	a.len = 0;
	ar_pax(&a, 'x', "path", "p", NULL);
	ar_pax(&a, 'x', "path", "q", NULL);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("two pax headers", &a, 1, "two 'x' headers");
	for (i = 0; i < 4200; i++)
		name[i] = i % 100 == 99 ? '/' : 'n';
	name[4200] = 0;
	a.len = 0;
	ar_gnu(&a, 'L', name);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("GNU long name over PATH_MAX", &a, 1, "GNU long name");
	a.len = 0;
	ar_pax(&a, 'x', "path", name, NULL);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("pax path over PATH_MAX", &a, 1, "bad pax path");
	memset(name, 'n', 300);
	name[300] = 0;
	a.len = 0;
	ar_pax(&a, 'x', "path", name, NULL);
	ar_file(&a, "f", "x");
	ar_end(&a);
	hostile("component over NAME_MAX", &a, 1, "longer than 255");
	a.len = 0;
	h = (struct h){ .name = "sp", .type = 'S' };
	ar_hdr(&a, &h);
	ar_end(&a);
	hostile("GNU sparse", &a, 1, "not supported");
	a.len = 0;
	h = (struct h){ .name = "what", .type = 'Z' };
	ar_hdr(&a, &h);
	ar_end(&a);
	hostile("unknown type", &a, 1, "entry type 0x5a is not supported");
	a.len = 0;
	h = (struct h){ .name = "v7dev", .type = '3', .magic = 2 };
	ar_hdr(&a, &h);
	ar_end(&a);
	hostile("v7 device", &a, 1, "v7 header");
	a.len = 0;
	ar_file(&a, "f", "x");
	memcpy(a.p + 108, "12x4567", 7); /* bad octal uid, checksum fixed below */
	{
		unsigned sum = 0;

		memset(a.p + 148, ' ', 8);
		for (i = 0; i < 512; i++)
			sum += a.p[i];
		snprintf((char *)a.p + 148, 8, "%06o", sum);
	}
	ar_end(&a);
	hostile("bad octal digit", &a, 1, "bad number");
	a.len = 0;
	ar_pax(&a, 'x', "SCHILY.xattr.trusted.overlay.opaque", "y", NULL);
	ar_dir(&a, "forged/");
	ar_end(&a);
	hostile("forged overlay xattr", &a, 1, "xattr trusted.overlay.opaque is not allowed");
	a.len = 0;
	ar_pax(&a, 'x', "SCHILY.xattr.user.overlay.redirect", "/etc", NULL);
	ar_dir(&a, "forged/");
	ar_end(&a);
	hostile("forged userxattr overlay xattr", &a, 1, "not allowed");
	a.len = 0;
	ar_file(&a, "d/.wh.", "");
	ar_end(&a);
	ok(extract(&a, TAR_OVERLAY) < 0 && err_has("bad whiteout name"), "empty whiteout name");
	ok(outside_same(), "outside unchanged");
	a.len = 0;
	ar_file(&a, "d/.wh...", "");
	ar_end(&a);
	ok(extract(&a, TAR_APPLY) < 0 && err_has("bad whiteout"), ".wh... refused");
	a.len = 0;
	ar_file(&a, "f", "x");
	ar_end(&a);
	ok(extract(&a, 0) == 0, "a file in the root");
	a.len = 0;
	ar_sym(&a, "/", "x");
	ar_end(&a);
	hostile("a symlink named /", &a, 1, "root");
	a.len = 0;
	ar_file(&a, "./", "");
	ar_end(&a);
	ok(extract(&a, 0) == 0, "a file named ./ is the root dir (old tars)");
	{
		struct tar_x lim;

		memset(&lim, 0, sizeof lim);
		lim.max_file = 1 << 20;
		lim.max_entries = 5;
		lim.max_pax = 100;
		lim.max_dirmem = 100;
		lim.max_total = 3;
		a.len = 0;
		for (i = 0; i < 6; i++)
			ar_file(&a, "f", "");
		ar_end(&a);
		ok(extract_into(&a, 0, 0, 1, &lim) < 0 && err_has("more than 5 headers"),
		    "entry limit: %s", sb_error());
		a.len = 0;
		ar_pax(&a, 'x', "comment", "0123456789012345678901234567890123456789012345678901"
		    "2345678901234567890123456789012345678901234567890123456789", NULL);
		ar_file(&a, "f", "");
		ar_end(&a);
		ok(extract_into(&a, 0, 0, 1, &lim) < 0 && err_has("limit 100"),
		    "pax limit: %s", sb_error());
		a.len = 0;
		ar_dir(&a, "d1/");
		ar_dir(&a, "d2/");
		ar_dir(&a, "d3/");
		ar_dir(&a, "d4/");
		ar_end(&a);
		ok(extract_into(&a, 0, 0, 1, &lim) < 0 && err_has("too many directories"),
		    "directory memory limit: %s", sb_error());
		a.len = 0;
		ar_file(&a, "f", "ab");
		ar_file(&a, "g", "cd");
		ar_end(&a);
		ok(extract_into(&a, 0, 0, 1, &lim) < 0 && err_has("limit of 3 bytes"),
		    "total size limit: %s", sb_error());
	}

	/* whiteouts aimed outside */
	a.len = 0;
	ar_sym(&a, "s", abs_out);
	ar_file(&a, "s/.wh.passwd", "");
	ar_file(&a, "s/.wh..wh..opq", "");
	ar_sym(&a, "u", "../outside");
	ar_file(&a, "u/.wh.passwd", "");
	ar_file(&a, "u/.wh..wh..opq", "");
	ar_sym(&a, "pw", abs_pw);
	ar_file(&a, ".wh.pw", "");
	ar_end(&a);
	hostile("whiteouts through symlinks", &a, -1, NULL);
	/* an APPLY layer on a tree whose earlier layer planted symlinks */
	a.len = 0;
	ar_sym(&a, "s", abs_out);
	ar_sym(&a, "op/link", abs_out);
	ar_sym(&a, "op/rel", "../../outside");
	ar_end(&a);
	extract(&a, TAR_APPLY);
	a.len = 0;
	ar_file(&a, "op/.wh..wh..opq", "");
	ar_file(&a, ".wh.s", "");
	ar_end(&a);
	ok(extract_into(&a, TAR_APPLY, 0, 0, NULL) == 0 && !exists("op/link") &&
	    !exists("s") && outside_same(), "apply: opaque and whiteout remove symlinks, not targets");
	free(a.p);
}

/* ---- the writer ---- */

struct sink {
	struct ar a;
	int fail_after;
};

static int sink_out(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	ar_put(&s->a, p, n);
	return 0;
}

static int skip_filter(void *ctx, const char *path, const struct stat *st)
{
	(void)ctx, (void)st;
	return strcmp(path, "skip") && strcmp(path, "dir/skipdir") ? 1 : 0;
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Removes from a listing the xattrs tar_write leaves out by design. */
static char *strip_unsupported(char *l)
{
	static const char *const drop[] = { " trusted.x=1:31",
		" trusted.overlay.opaque=1:79", " user.overlay.opaque=1:79" };
	size_t i;
	char *p;

	for (i = 0; i < LEN(drop); i++)
		while ((p = strstr(l, drop[i])))
			memmove(p, p + strlen(drop[i]), strlen(p + strlen(drop[i])) + 1);
	return l;
}

static void t_writer(void)
{
	char src[400], cmd[2000], longn[400], *l1, *l2;
	struct tar_w_opts o = { 0, sink_out, NULL, NULL };
	struct sink s = { { 0 }, 0 }, s2 = { { 0 }, 0 };
	static const unsigned char cap[20] = { 0, 0, 0, 2, 0, 0x20, 0, 0 };
	int fd, i, r;

	snprintf(src, sizeof src, "%s/src", scratch);
	rm_rf(src);
	snprintf(cmd, sizeof cmd,
	    "set -e; mkdir -p %s/dir/sub %s/dir/skipdir; cd %s; echo hi > f; "
	    "printf 'x%%.0s' $(seq 1 5000) > dir/big; ln f hard; ln -s f sym; "
	    "ln -s /very/$(printf 'y%%.0s' $(seq 1 150)) longsym; mkfifo fifo; "
	    "mknod cdev c 1 3; mknod bdev b 8 1; mknod wh c 0 0; chmod 4755 f; "
	    "chown 1234:5678 dir/big; chmod 1777 dir/sub; touch -d @1000 dir/big; "
	    "touch skip dir/skipdir/x; chown 3000000:4000000 dir/sub; "
	    "mkdir opq; find . -exec touch -h -d @1600000000 {} +; touch -d @1000 dir/big; "
	    "setfattr -n trusted.overlay.opaque -v y opq 2>/dev/null || "
	    "python3 -c \"import os; os.setxattr('opq','trusted.overlay.opaque',b'y')\"",
	    src, src, src);
	ok(run(cmd) == 0, "writer: source tree");
	for (i = 0; i < 120; i++)
		longn[i] = 'n';
	longn[120] = 0;
	snprintf(cmd, sizeof cmd, "%s/dir/sub/%s", src, longn);
	close(open(cmd, O_CREAT | O_WRONLY, 0600));
	snprintf(cmd, sizeof cmd, "cd %s && find . -exec touch -h -d @1600000000 {} + && "
	    "touch -d @1000 dir/big", src);
	run(cmd);
	snprintf(cmd, sizeof cmd, "%s/f", src);
	setxattr(cmd, "user.b", "va\0l", 4, 0);
	setxattr(cmd, "user.a", "1", 1, 0);
	setxattr(cmd, "trusted.x", "1", 1, 0);
	setxattr(cmd, "security.capability", cap, sizeof cap, 0);
	snprintf(cmd, sizeof cmd, "%s/opq", src);
	setxattr(cmd, "user.overlay.opaque", "y", 1, 0);

	fd = open(src, O_RDONLY | O_DIRECTORY);
	o.ctx = &s;
	r = tar_write(fd, &o);
	ok(r == 0, "tar_write: %s", r ? sb_error() : "ok");
	o.ctx = &s2;
	tar_write(fd, &o);
	ok(s.a.len == s2.a.len && !memcmp(s.a.p, s2.a.p, s.a.len) && s.a.len % 512 == 0,
	    "writer is deterministic (%zu bytes)", s.a.len);
	if (s.a.len != s2.a.len || memcmp(s.a.p, s2.a.p, s.a.len)) {
		FILE *f = fopen("/tmp/w1.tar", "w");
		fwrite(s.a.p, 1, s.a.len, f);
		fclose(f);
		f = fopen("/tmp/w2.tar", "w");
		fwrite(s2.a.p, 1, s2.a.len, f);
		fclose(f);
	}
	/* read back with our extractor */
	ok(extract(&s.a, TAR_OWNERS) == 0, "own archive extracts: %s", sb_error());
	l1 = strip_unsupported(list(src, 0, "wh"));
	l2 = list(target, 0, "wh");
	ok(!strcmp(l1, l2), "round trip through tar_write and tar_x");
	if (strcmp(l1, l2))
		fprintf(stderr, "--- src\n%s--- extracted\n%s", l1, l2);
	free(l1);
	free(l2);
	ok(S_ISCHR(lst("wh").st_mode), "without TAR_W_OVERLAY a 0/0 device is a device");
	/* GNU tar reads it */
	{
		FILE *f;
		char tf[400];

		snprintf(tf, sizeof tf, "%s/w.tar", scratch);
		f = fopen(tf, "w");
		fwrite(s.a.p, 1, s.a.len, f);
		fclose(f);
		fresh_target();
		snprintf(cmd, sizeof cmd, "tar --xattrs --xattrs-include='*' -xpf %s -C %s",
		    tf, target);
		ok(run(cmd) == 0, "GNU tar extracts tar_write's output");
		l1 = strip_unsupported(list(src, 0, "wh"));
		l2 = list(target, 0, "wh");
		ok(!strcmp(l1, l2), "GNU tar's extraction equals the source");
		if (strcmp(l1, l2))
			fprintf(stderr, "--- src\n%s--- gnu tar\n%s", l1, l2);
		free(l1);
		free(l2);
		unlink(tf);
	}
	/* overlay mode and a filter */
	o.flags = TAR_W_OVERLAY;
	o.filter = skip_filter;
	s.a.len = 0;
	o.ctx = &s;
	ok(tar_write(fd, &o) == 0, "overlay write: %s", sb_error());
	ok(memmem(s.a.p, s.a.len, ".wh.wh", 6) && memmem(s.a.p, s.a.len, "opq/.wh..wh..opq", 16) &&
	    !memmem(s.a.p, s.a.len, "trusted.overlay", 15) &&
	    !memmem(s.a.p, s.a.len, "user.overlay", 12), "whiteouts and opaque markers emitted");
	ok(!memmem(s.a.p, s.a.len, "skip", 4), "filter leaves out a file and a directory");
	/* a lower layer, then this one applied: wh removed, opq emptied */
	fresh_target();
	{
		struct ar low = { 0 };

		ar_file(&low, "wh", "lower");
		ar_file(&low, "opq/lowerfile", "lower");
		ar_end(&low);
		extract_into(&low, TAR_APPLY, 0, 0, NULL);
		free(low.p);
	}
	ok(extract_into(&s.a, TAR_APPLY, 0, 0, NULL) == 0 && !exists("wh") &&
	    !exists("opq/lowerfile") && S_ISDIR(lst("opq").st_mode),
	    "overlay upper -> layer -> applied: %s", sb_error());
	ok(extract(&s.a, TAR_OVERLAY) == 0 && S_ISCHR(lst("wh").st_mode) &&
	    xattr("opq", TAR_OPAQUE_XATTR, cmd, 8) == 1, "overlay upper -> layer -> overlay form");
	close(fd);
	free(s.a.p);
	free(s2.a.p);
	rm_rf(src);
}

static int fail_out(void *ctx, const void *p, size_t n)
{
	(void)ctx, (void)p, (void)n;
	return err_set("sink full");
}

static int fail_filter(void *ctx, const char *path, const struct stat *st)
{
	(void)ctx, (void)st;
	return strcmp(path, "f50") ? 1 : err_set("filter says no");
}

/* Many hardlinks (the table grows), and failures of out and filter. */
static void t_writer_links(void)
{
	char src[400], p[500], q[500];
	struct tar_w_opts o = { 0, sink_out, NULL, NULL };
	struct sink s = { { 0 }, 0 };
	int fd, i, same = 1;

	snprintf(src, sizeof src, "%s/links", scratch);
	rm_rf(src);
	mkdir(src, 0755);
	snprintf(p, sizeof p, "%s/d", src);
	mkdir(p, 0755);
	for (i = 0; i < 300; i++) {
		snprintf(p, sizeof p, "%s/f%d", src, i);
		close(open(p, O_CREAT | O_WRONLY, 0644));
		snprintf(q, sizeof q, "%s/d/l%d", src, i);
		link(p, q);
	}
	fd = open(src, O_RDONLY | O_DIRECTORY);
	o.ctx = &s;
	ok(tar_write(fd, &o) == 0, "writer: 300 hardlink pairs");
	ok(extract(&s.a, 0) == 0, "... extract: %s", sb_error());
	for (i = 0; i < 300; i++) {
		snprintf(p, sizeof p, "d/l%d", i);
		snprintf(q, sizeof q, "f%d", i);
		same &= lst(p).st_ino == lst(q).st_ino && lst(q).st_nlink == 2;
	}
	ok(same, "every pair is one inode again");
	o.out = fail_out;
	ok(tar_write(fd, &o) < 0 && err_has("sink full"), "out's failure stops the write: %s",
	    sb_error());
	o.out = sink_out;
	o.filter = fail_filter;
	ok(tar_write(fd, &o) < 0 && err_has("filter says no"), "filter's failure stops it");
	close(fd);
	free(s.a.p);
	rm_rf(src);
}

static void suite(void)
{
	t_types();
	t_pax();
	t_replace();
	t_dirs();
	t_overlay();
	fresh_target();
	t_apply();
	t_chunking();
	t_end();
	t_hostile();
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char p[400];
	FILE *f;

	if (argc > 1)
		corpus_dir = argv[1];
	snprintf(scratch, sizeof scratch, "%s/tartest.XXXXXX", tmp);
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(target, sizeof target, "%s/t", scratch);
	snprintf(outside, sizeof outside, "%s/outside", scratch);
	mkdir(outside, 0755);
	snprintf(p, sizeof p, "%s/passwd", outside);
	f = fopen(p, "w");
	fputs("root:x:0:0\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/sub", outside);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/sentinel", scratch);
	f = fopen(p, "w");
	fputs("sentinel\n", f);
	fclose(f);
	/* what this machine allows, probed before the snapshot below */
	snprintf(p, sizeof p, "%s/probe", tmp);
	if ((f = fopen(p, "w")))
		fclose(f);
	if (setxattr(p, "user.probe", "1", 1, 0) < 0)
		no_xattrs = "no user xattrs on the scratch filesystem";
	unlink(p);
	if (system("tar --version 2>/dev/null | grep -q GNU") != 0)
		no_gnu_tar = "no GNU tar";
	outside_before = list(scratch, 1, "t");

	suite();
	walk_mode = 1;
	path_no_openat2 = 1;
	corpus_dir = NULL;
	suite();
	path_no_openat2 = 0;
	walk_mode = 0;
	if (no_xattrs || no_gnu_tar)
		skipped(no_xattrs ? no_xattrs : no_gnu_tar, "the writer, compared with GNU tar");
	else
		t_writer();
	t_writer_links();

	rm_rf(scratch);
	printf("%d tests, %d failed\n", ntests, failed);
	return failed != 0;
}
