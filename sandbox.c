/* sandbox.c - a container runtime for small devices.
 *
 * One file, static, musl + BearSSL: OCI runtime (namespaces, cgroups,
 * mounts) and, in later sections, the image store and registry client.
 * Usage is in README.md; the embeddable API in sandbox.h.
 *
 * Map: the sections, in dependency order (grep -n '^/\* ===' sandbox.c).
 *   util       errors, formatter, arena, growable buffer, files
 *   path       paths resolved inside a directory tree (openat2, or a walk)
 *   json       parser (a tree in an arena) and writer
 *   sha        SHA-256 (SHA-NI, ARMv8, BearSSL), digests, chainIDs
 *   inf        gzip inflate
 *   zst        zstd decoder
 *   tar        layers in and out, safely: whiteouts, pax, hostile input
 *   ref        image references, normalised as Docker does
 *   http       HTTP/1.1 client over BearSSL: TLS, keep-alive, chunked, redirects
 *   reg        registry API: auth, manifests, platforms, blobs resumed and verified
 *   config     OCI config.json into struct sb_config, validated
 *   cg         cgroup v2, with v1 where v2 lacks a controller; eBPF devices
 *   mnt        paths resolved inside the rootfs, mounts, devices, pivot_root
 *   proc       the container process: rlimits, user, capabilities, fds
 *   store      the image store: blobs, layers by chainID, images.json
 *   images     load, images, rmi, inspect, unpack, export, commit
 *   state      a container's directory, state.json, hooks
 *   tty        process.terminal: the pty, the console socket, the relay
 *   spawn      namespaces, the stages of a start or an exec
 *   lifecycle  run, and what the commands do to a container's state
 *   cli        the OCI commands and options, main
 *
 * Processes: the runtime R forks a helper C, which enters or makes the
 * namespaces and forks I, PID 1 in the new PID namespace; I builds the
 * rootfs and becomes the user's program (or, with --init, its reaper). R
 * is a child subreaper, so I becomes its child when C exits; in the
 * foreground R forwards signals to I and reports its status. `create`
 * leaves I waiting on <state>/start.sock for `start`.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "config.h"
#include "sandbox.h"

#if SB_WITH_TLS
#include <bearssl.h>
#else
#include <bearssl_hash.h>
#endif

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ============================================================ util === */

/* per thread: a layer's tar is written by a thread of its own */
static _Thread_local char err_buf[1024];
static int sb_debug;
static int sb_exit_hint = 125; /* run's status when a start failed */

const char *sb_error(void)
{
	return err_buf;
}

/* A formatter for what sandbox prints: %d %i %u %o %x %X %c %s %p %%, with
 * flags -, 0 and #, width, precision (also as *), and h, l, ll, z. musl's
 * printf would bring its floating-point formatting along (5 KB, and FPU
 * code on soft-float MIPS) even though nothing here prints a double. */
struct fmt_out {
	char *p;
	size_t n, len;
};

static void fmt_put(struct fmt_out *o, const char *s, size_t k)
{
	size_t room = o->n > o->len ? o->n - o->len - 1 : 0;

	if (o->n)
		memcpy(o->p + o->len, s, k < room ? k : room);
	o->len += k;
}

static void fmt_pad(struct fmt_out *o, char c, int k)
{
	while (k-- > 0)
		fmt_put(o, &c, 1);
}

/* One field: sign or prefix, then s (k bytes), padded to width. */
static void fmt_field(struct fmt_out *o, const char *pre, const char *s, size_t k,
    int width, int left, int zero)
{
	int pad = width - (int)(k + strlen(pre));

	if (!left && !zero)
		fmt_pad(o, ' ', pad);
	fmt_put(o, pre, strlen(pre));
	if (!left && zero)
		fmt_pad(o, '0', pad);
	fmt_put(o, s, k);
	if (left)
		fmt_pad(o, ' ', pad);
}

__attribute__((format(printf, 3, 0)))
static int vstrf(char *buf, size_t n, const char *f, va_list ap)
{
	struct fmt_out o = { buf, n, 0 };
	char num[24], *d;
	const char *s;
	unsigned long long u;
	int left, zero, alt, width, prec, lng, base, neg;

	for (; *f; f++) {
		if (*f != '%') {
			fmt_put(&o, f, 1);
			continue;
		}
		left = zero = alt = width = lng = neg = 0;
		prec = -1;
		for (f++; *f == '-' || *f == '0' || *f == '#'; f++)
			*f == '-' ? (left = 1) : *f == '0' ? (zero = 1) : (alt = 1);
		if (*f == '*')
			width = va_arg(ap, int), f++;
		for (; *f >= '0' && *f <= '9'; f++)
			width = width * 10 + (*f - '0');
		if (*f == '.') {
			prec = 0;
			if (*++f == '*')
				prec = va_arg(ap, int), f++;
			for (; *f >= '0' && *f <= '9'; f++)
				prec = prec * 10 + (*f - '0');
		}
		for (; *f == 'l' || *f == 'z' || *f == 'h'; f++)
			lng += *f == 'l' ? 1 : *f == 'z' ? 3 : 0;
		switch (*f) {
		case 'c':
			num[0] = (char)va_arg(ap, int);
			fmt_field(&o, "", num, 1, width, left, 0);
			continue;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			fmt_field(&o, "", s, prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s),
			    width, left, 0);
			continue;
		case 'd': case 'i':
			{
				long long v = lng >= 3 ? (long long)va_arg(ap, ssize_t) : lng == 2 ?
				    va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);

				neg = v < 0;
				u = neg ? 0 - (unsigned long long)v : (unsigned long long)v;
			}
			base = 10;
			break;
		case 'u': case 'x': case 'X': case 'p': case 'o':
			u = *f == 'p' ? (uintptr_t)va_arg(ap, void *) : lng >= 3 ? va_arg(ap, size_t) :
			    lng == 2 ? va_arg(ap, unsigned long long) :
			    lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			base = *f == 'u' ? 10 : *f == 'o' ? 8 : 16;
			break;
		case '%':
			fmt_put(&o, "%", 1);
			continue;
		default:
			return -1;
		}
		d = num + sizeof num;
		do
			*--d = "0123456789abcdef0123456789ABCDEF"[u % (unsigned)base + (*f == 'X' ? 16 : 0)];
		while (u /= (unsigned)base);
		fmt_field(&o, neg ? "-" : *f == 'p' || (alt && *f == 'x') ? "0x" :
		    alt && *f == 'X' ? "0X" : alt && *f == 'o' ? "0" : "", d,
		    (size_t)(num + sizeof num - d), width, left, zero);
	}
	if (n)
		buf[o.len < n ? o.len : n - 1] = 0;
	return (int)o.len;
}

__attribute__((format(printf, 3, 4)))
static int strf(char *buf, size_t n, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vstrf(buf, n, f, ap);
	va_end(ap);
	return r;
}

/* Prints to a descriptor (1: stdout, 2: stderr), in one write. */
__attribute__((format(printf, 2, 3)))
static void say(int fd, const char *f, ...)
{
	char small[1024], *p = small;
	va_list ap;
	int n;

	va_start(ap, f);
	n = vstrf(small, sizeof small, f, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof small && (p = malloc((size_t)n + 1))) {
		va_start(ap, f);
		vstrf(p, (size_t)n + 1, f, ap);
		va_end(ap);
	} else if (!p || p == small) {
		p = small;
		n = n >= (int)sizeof small ? (int)sizeof small - 1 : n;
	}
	while (write(fd, p, (size_t)n) < 0 && errno == EINTR)
		;
	if (p != small)
		free(p);
}

static int err_vset(int errnum, const char *fmt, va_list ap)
{
	char tmp[sizeof err_buf];
	int n;

	/* fmt may name err_buf itself (err_ctx), so format into a copy */
	n = vstrf(tmp, sizeof tmp, fmt, ap);
	if (n < 0)
		n = 0;
	if (errnum && (size_t)n < sizeof tmp)
		strf(tmp + n, sizeof tmp - n, ": %s", strerror(errnum));
	memcpy(err_buf, tmp, sizeof err_buf);
	return -1;
}

/* Sets the message; returns -1 so that `return err_set(...)` reads well. */
static int err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(0, fmt, ap);
	va_end(ap);
	return -1;
}

/* Like err_set, then ": " and the text of errno. errno is kept. */
static int err_sys(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	err_vset(e, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

/* Puts context in front of the current message: "layer 2: " + message. */
static int err_ctx(const char *fmt, ...)
{
	char old[sizeof err_buf], pre[256];
	va_list ap;

	memcpy(old, err_buf, sizeof old);
	va_start(ap, fmt);
	vstrf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	return err_set("%s: %s", pre, old);
}

__attribute__((format(printf, 1, 2)))
static void dbg(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!sb_debug)
		return;
	va_start(ap, fmt);
	vstrf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(2, "sandbox: debug: %s\n", msg);
}

/* An arena: many small allocations freed at once (a parsed config). */
struct arena_blk {
	struct arena_blk *next;
	size_t used, size;
	max_align_t data[];
};

struct arena {
	struct arena_blk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_blk *b = a->head;
	size_t al = sizeof(max_align_t);
	void *p;

	n = (n + al - 1) / al * al;
	if (!b || b->size - b->used < n) {
		size_t sz = n > 16384 ? n : 16384;

		b = malloc(sizeof *b + sz);
		if (!b) {
			err_set("out of memory");
			return NULL;
		}
		b->size = sz;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

static void arena_free(struct arena *a)
{
	struct arena_blk *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

/* A growable byte buffer. Allocation failure is sticky in `oom` and
 * checked once at the end, which keeps the writers short. */
struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static int buf_grow(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (b->cap - b->len > n)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_put(struct buf *b, const void *s, size_t n)
{
	if (buf_grow(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vstrf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vstrf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void write_str(int fd, const char *s)
{
	write_all(fd, s, strlen(s));
}

/* Writes s to an existing file (cgroup, proc and sysfs files), in one
 * write(2): those files take one value per call. */
static int write_file_at(int dirfd, const char *path, const char *s)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t n = strlen(s);
	ssize_t w;

	if (fd < 0)
		return err_sys("open %s", path);
	w = write(fd, s, n);
	if (w < 0 || (size_t)w != n) {
		if (w >= 0)
			errno = EIO;
		err_sys("write %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_file(const char *path, const char *s)
{
	return write_file_at(AT_FDCWD, path, s);
}

/* Reads a whole small file into a malloc'd NUL-terminated string. */
static char *read_file_at(int dirfd, const char *path, size_t max, size_t *lenp)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct buf b = {0};
	char tmp[4096];
	ssize_t r;

	if (fd < 0) {
		err_sys("open %s", path);
		return NULL;
	}
	buf_put(&b, "", 0);
	while ((r = read(fd, tmp, sizeof tmp)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_sys("read %s", path);
			goto fail;
		}
		if (b.len + (size_t)r > max) {
			err_set("%s: larger than %zu bytes", path, max);
			goto fail;
		}
		buf_put(&b, tmp, (size_t)r);
	}
	if (b.oom) {
		err_set("%s: out of memory", path);
		goto fail;
	}
	close(fd);
	if (lenp)
		*lenp = b.len;
	return b.p;
fail:
	close(fd);
	buf_free(&b);
	return NULL;
}

static char *read_file(const char *path, size_t max, size_t *lenp)
{
	return read_file_at(AT_FDCWD, path, max, lenp);
}

/* mkdir -p; existing directories are fine. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX], *p;

	if (strlen(path) >= sizeof tmp)
		return err_set("%s: path too long", path);
	strcpy(tmp, path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return err_sys("mkdir %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return err_sys("mkdir %s", tmp);
	return 0;
}

/* snprintf for paths: one that does not fit is an error, never cut short. */
static int pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vstrf(buf, n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n) {
		errno = ENAMETOOLONG;
		return err_set("path too long: %.80s...", buf);
	}
	return 0;
}

/* Writes a file by temporary name and rename, so that a reader sees the
 * old file or the new one and never half of one; with durable, fsync
 * before the rename too, so that a crash leaves one of them on disk. The
 * runtime's state needs no fsync: it lives in /run and means nothing
 * after a crash, as its processes are gone (and an fsync on a disk costs
 * a container start some 0.3 ms each). */
static int replace_file(const char *path, const void *data, size_t len, mode_t mode, int durable)
{
	char tmp[PATH_MAX + 8];
	int fd;

	if (pathf(tmp, sizeof tmp, "%s.tmp", path) < 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return err_sys("create %s", tmp);
	if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		err_sys("write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		err_sys("install %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

#if SB_WITH_IMAGES /* used by the image store alone */
static int install_file(const char *path, const void *data, size_t len, mode_t mode)
{
	return replace_file(path, data, len, mode, 1);
}
#endif

static int state_file(const char *path, const void *data, size_t len, mode_t mode)
{
	return replace_file(path, data, len, mode, 0);
}

/* The decimal digits at s, saturating at 2^64-1; *end after them. */
static unsigned long long dec(const char *s, const char **end)
{
	unsigned long long v = 0, d;

	for (; *s >= '0' && *s <= '9'; s++) {
		d = (unsigned long long)(*s - '0');
		v = v > (ULLONG_MAX - d) / 10 ? ULLONG_MAX : v * 10 + d;
	}
	if (end)
		*end = s;
	return v;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#if SB_WITH_SECCOMP /* the syscall table's numbers */
/* A decimal or 0x-hexadecimal number at s, like strtoul(s, end, 0). */
static unsigned long long num(const char *s, const char **end)
{
	unsigned long long v = 0;
	int h;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return dec(s, end);
	for (s += 2; (h = hexval((unsigned char)*s)) >= 0; s++)
		v = v << 4 | (unsigned)h;
	if (end)
		*end = s;
	return v;
}
#endif

#if SB_WITH_SECCOMP || SB_WITH_IMAGES
/* Shell sort with Ciura's gaps, for arrays of pointers (qsort would add
 * 2 KB to the binary); cmp takes pointers to the elements, as qsort's. */
static void sort_ptrs(void *base, size_t n, int (*cmp)(const void *, const void *))
{
	static const uint16_t gaps[] = {
		44842, 19930, 8858, 3937, 1750, 701, 301, 132, 57, 23, 10, 4, 1
	};
	void **v = base, *t;
	size_t g, h, i, j;

	for (g = 0; g < LEN(gaps); g++)
		for (h = gaps[g], i = h; i < n; i++) {
			for (t = v[i], j = i; j >= h && cmp(&v[j - h], &t) > 0; j -= h)
				v[j] = v[j - h];
			v[j] = t;
		}
}
#endif

/* Parses a whole decimal number in [min, max]. */
static int parse_ll(const char *s, long long min, long long max, long long *out)
{
	const char *end;
	unsigned long long u;
	int neg = *s == '-';
	long long v;

	s += neg || *s == '+';
	if (*s < '0' || *s > '9')
		return -1;
	u = dec(s, &end);
	if (*end || u > (unsigned long long)LLONG_MAX + neg)
		return -1;
	v = neg ? (long long)(0 - u) : (long long)u;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A size with an optional k, m or g (powers of 1024), or -1. */
static int parse_size(const char *s, long long *out)
{
	char num[32];
	size_t n = strlen(s);
	int shift = 0;

	if (n && strchr("kKmMgG", s[n - 1])) {
		shift = strchr("kK", s[n - 1]) ? 10 : strchr("mM", s[n - 1]) ? 20 : 30;
		n--;
	}
	if (n >= sizeof num)
		return -1;
	memcpy(num, s, n);
	num[n] = 0;
	if (parse_ll(num, -1, LLONG_MAX >> shift, out) < 0)
		return -1;
	if (*out > 0)
		*out <<= shift;
	return 0;
}

/* Sizes for people, in integers: 1.5MB, 230MB, 2.1GB. */
#if SB_WITH_IMAGES /* used by the image store alone */
static const char *human_size(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	uint64_t scale = 1;
	size_t u = 0;

	while (u + 1 < LEN(units) && n >= scale * 1000)
		scale *= 1000, u++;
	if (u && n / scale < 10)
		strf(out, len, "%llu.%llu%s", (unsigned long long)(n / scale),
		    (unsigned long long)(n % scale * 10 / scale), units[u]);
	else
		strf(out, len, "%llu%s", (unsigned long long)(n / scale), units[u]);
	return out;
}
#endif

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ============================================================ path === */

/* Paths inside a directory tree, resolved as if the tree were "/": no
 * "..", absolute path or symlink in it can lead out. openat2 with
 * RESOLVE_IN_ROOT where the kernel has it (5.6), an equivalent walk one
 * component at a time with O_NOFOLLOW where not. Used for the rootfs's
 * mount destinations and for every entry an image layer writes. */

struct sb_open_how {
	uint64_t flags, mode, resolve;
};
#define SB_RESOLVE_NO_MAGICLINKS 0x02
#define SB_RESOLVE_NO_SYMLINKS 0x04
#define SB_RESOLVE_IN_ROOT 0x10

static int path_no_openat2; /* set when the kernel lacks it (ENOSYS) */

static const char *fd_path(int fd, char *buf, size_t n)
{
	strf(buf, n, "/proc/self/fd/%d", fd);
	return buf;
}

/* The walk for kernels without openat2: one component at a time with
 * O_NOFOLLOW, symlinks expanded by hand and restarted at rootfd when
 * absolute, ".." never above rootfd. */
static int path_walk(int rootfd, const char *path, int no_symlinks)
{
	char rest[PATH_MAX], link[PATH_MAX], comp[NAME_MAX + 1];
	int stack[128], depth = 0, cur, fd, links = 0, i;
	struct stat st;
	size_t n;
	ssize_t ln;
	char *p;

	if (strlen(path) >= sizeof rest)
		return errno = ENAMETOOLONG, -1;
	strcpy(rest, path);
	if ((cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	for (p = rest; ; ) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		p += n;
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (depth) {
				close(cur);
				cur = stack[--depth];
			}
			continue;
		}
		if ((fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
			goto fail;
		if (fstat(fd, &st) < 0) {
			close(fd);
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			if (no_symlinks || ++links > 40) {
				close(fd);
				errno = ELOOP;
				goto fail;
			}
			ln = readlinkat(fd, "", link, sizeof link - 1);
			close(fd);
			if (ln < 0)
				goto fail;
			link[ln] = 0;
			if (strlen(link) + strlen(p) + 2 > sizeof rest) {
				errno = ENAMETOOLONG;
				goto fail;
			}
			memmove(rest + strlen(link), p, strlen(p) + 1);
			memcpy(rest, link, strlen(link));
			p = rest;
			if (link[0] == '/') {
				while (depth)
					close(stack[--depth]);
				close(cur);
				if ((cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
					return -1;
			}
			continue;
		}
		if (depth == (int)LEN(stack)) {
			close(fd);
			errno = ELOOP;
			goto fail;
		}
		stack[depth++] = cur;
		cur = fd;
	}
	for (i = 0; i < depth; i++)
		close(stack[i]);
	return cur;
fail:
	i = errno;
	while (depth)
		close(stack[--depth]);
	close(cur);
	errno = i;
	return -1;
}

/* An O_PATH descriptor for path inside the tree at rootfd, resolved as if
 * rootfd were "/". Sets errno and returns -1 on failure. */
static int path_resolve(int rootfd, const char *path, int no_symlinks)
{
	struct sb_open_how how = { O_PATH | O_CLOEXEC, 0,
		SB_RESOLVE_IN_ROOT | SB_RESOLVE_NO_MAGICLINKS };
	int fd;

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	if (no_symlinks)
		how.resolve |= SB_RESOLVE_NO_SYMLINKS;
	if (!path_no_openat2) {
		do
			fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
		while (fd < 0 && errno == EAGAIN);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		path_no_openat2 = 1;
	}
	return path_walk(rootfd, path, no_symlinks);
}

/* Like path_resolve, creating what is missing: directories on the way and,
 * at the end, a directory or (file set) an empty file. Each component is
 * created in its resolved parent, so creation cannot escape either. */
static int path_mkpath(int rootfd, const char *path, int file, int no_symlinks)
{
	char buf[PATH_MAX];
	size_t i, start = 0, len;
	int fd, parent, r;

	if (strlen(path) >= sizeof buf)
		return errno = ENAMETOOLONG, -1;
	while (*path == '/')
		path++;
	strcpy(buf, path);
	len = strlen(buf);
	while (len && buf[len - 1] == '/')
		buf[--len] = 0;
	if (!len)
		return path_resolve(rootfd, "/", no_symlinks);
	for (i = 0; i <= len; i++) {
		if (buf[i] != '/' && buf[i])
			continue;
		if (i == start) { /* "//" */
			start = i + 1;
			continue;
		}
		buf[i] = 0;
		fd = path_resolve(rootfd, buf, no_symlinks);
		if (fd < 0 && errno == ENOENT) {
			if (start)
				buf[start - 1] = 0;
			parent = path_resolve(rootfd, start ? buf : "/", no_symlinks);
			if (start)
				buf[start - 1] = '/';
			if (parent < 0)
				return -1;
			if (file && i == len) {
				r = openat(parent, buf + start, O_WRONLY | O_CREAT | O_EXCL |
				    O_NOFOLLOW | O_CLOEXEC, 0644);
				if (r >= 0)
					close(r);
			} else {
				r = mkdirat(parent, buf + start, 0755);
			}
			close(parent);
			if (r < 0 && errno != EEXIST)
				return -1;
			/* EEXIST here and ENOENT next: a dangling symlink */
			fd = path_resolve(rootfd, buf, no_symlinks);
		}
		if (fd < 0)
			return -1;
		if (i == len)
			return fd;
		close(fd);
		buf[i] = '/';
		start = i + 1;
	}
	return errno = EINVAL, -1;
}

/* ============================================================ json === */

/* A JSON document is parsed into a tree of struct json in an arena.
 * Strict RFC 8259: UTF-8 validated, no duplicate keys (a document that
 * says two things is refused rather than guessed at), nesting bounded.
 * Numbers stay integers: the magnitude in `u` with a sign, when they have
 * no fraction or exponent and fit 64 bits; otherwise only their text. */
enum json_type {
	JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING,
	JSON_ARRAY, JSON_OBJECT
};

struct json {
	enum json_type type;
	const char *key;            /* member name, inside an object */
	const char *str;            /* string value, or a number's text */
	size_t len;                 /* of str */
	uint64_t u;                 /* number: magnitude */
	int neg, isint;             /* number: sign, integral and in range */
	struct json *child, *next;
	size_t n;                   /* elements or members */
};

struct json_parser {
	const char *s, *p, *end;
	struct arena *a;
	int depth;
};

static struct json *json_value(struct json_parser *jp);

static void *json_fail(struct json_parser *jp, const char *what)
{
	const char *q;
	int line = 1, col = 1;

	for (q = jp->s; q < jp->p && q < jp->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	err_set("json: line %d column %d: %s", line, col, what);
	return NULL;
}

static void json_ws(struct json_parser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
	    *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static long json_hex4(struct json_parser *jp)
{
	long v = 0;
	int i, h;

	if (jp->end - jp->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hexval((unsigned char)jp->p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	jp->p += 4;
	return v;
}

static size_t utf8_put(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3f));
	o[2] = (char)(0x80 | (c >> 6 & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_valid(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	unsigned long c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

static int json_escape(struct json_parser *jp, char *o, size_t *olen)
{
	long c, lo;
	char e;

	if (jp->p >= jp->end)
		return -1;
	e = *jp->p++;
	switch (e) {
	case '"': case '\\': case '/': o[(*olen)++] = e; return 0;
	case 'b': o[(*olen)++] = '\b'; return 0;
	case 'f': o[(*olen)++] = '\f'; return 0;
	case 'n': o[(*olen)++] = '\n'; return 0;
	case 'r': o[(*olen)++] = '\r'; return 0;
	case 't': o[(*olen)++] = '\t'; return 0;
	case 'u':
		if ((c = json_hex4(jp)) < 0)
			return -1;
		if (c >= 0xdc00 && c <= 0xdfff)
			return -1;
		if (c >= 0xd800 && c <= 0xdbff) {
			if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u')
				return -1;
			jp->p += 2;
			if ((lo = json_hex4(jp)) < 0xdc00 || lo > 0xdfff)
				return -1;
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
		}
		*olen += utf8_put(o + *olen, (unsigned long)c);
		return 0;
	}
	return -1;
}

/* Parses a string at jp->p (on the opening quote) into the arena. An
 * escaped string never grows when decoded, so the raw length bounds it. */
static char *json_string(struct json_parser *jp, size_t *lenp)
{
	const char *start = ++jp->p, *q;
	size_t olen = 0, n;
	char *o;

	for (q = start; q < jp->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < jp->end)
			q++;
	if (q >= jp->end)
		return json_fail(jp, "unterminated string");
	if (!(o = arena_alloc(jp->a, (size_t)(q - start) + 1)))
		return NULL;
	while (*jp->p != '"') {
		unsigned char c = (unsigned char)*jp->p;

		if (c < 0x20)
			return json_fail(jp, "control character in string");
		if (c == '\\') {
			jp->p++;
			if (json_escape(jp, o, &olen) < 0)
				return json_fail(jp, "bad escape in string");
			continue;
		}
		if (!(n = utf8_valid((const unsigned char *)jp->p,
		    (const unsigned char *)jp->end)))
			return json_fail(jp, "invalid UTF-8 in string");
		memcpy(o + olen, jp->p, n);
		olen += n;
		jp->p += n;
	}
	jp->p++;
	o[olen] = 0;
	*lenp = olen;
	return o;
}

static int json_number(struct json_parser *jp, struct json *v)
{
	const char *start = jp->p;
	uint64_t u = 0;
	int over = 0, frac = 0;

	if (jp->p < jp->end && *jp->p == '-')
		v->neg = 1, jp->p++;
	if (jp->p >= jp->end || !isdigit((unsigned char)*jp->p))
		return -1;
	if (*jp->p == '0' && jp->p + 1 < jp->end && isdigit((unsigned char)jp->p[1]))
		return -1;
	while (jp->p < jp->end && isdigit((unsigned char)*jp->p)) {
		unsigned d = (unsigned)(*jp->p++ - '0');

		if (u > (UINT64_MAX - d) / 10)
			over = 1;
		u = u * 10 + d;
	}
	if (jp->p < jp->end && *jp->p == '.') {
		frac = 1;
		if (++jp->p >= jp->end || !isdigit((unsigned char)*jp->p))
			return -1;
		while (jp->p < jp->end && isdigit((unsigned char)*jp->p))
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		frac = 1;
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jp->p >= jp->end || !isdigit((unsigned char)*jp->p))
			return -1;
		while (jp->p < jp->end && isdigit((unsigned char)*jp->p))
			jp->p++;
	}
	v->type = JSON_NUMBER;
	v->u = u;
	v->isint = !over && !frac;
	v->str = arena_strndup(jp->a, start, (size_t)(jp->p - start));
	v->len = (size_t)(jp->p - start);
	return v->str ? 0 : -1;
}

static int json_literal(struct json_parser *jp, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n))
		return -1;
	jp->p += n;
	return 0;
}

static struct json *json_member_find(const struct json *obj, const char *key,
    size_t klen)
{
	struct json *m;

	for (m = obj->child; m; m = m->next)
		if (strlen(m->key) == klen && !memcmp(m->key, key, klen))
			return m;
	return NULL;
}

/* Members or elements of a container, after its opening bracket. */
static int json_items(struct json_parser *jp, struct json *v, char close)
{
	struct json **tail = &v->child, *item;
	const char *key = NULL;
	size_t klen = 0;

	json_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			json_ws(jp);
			if (jp->p >= jp->end || *jp->p != '"')
				return json_fail(jp, "expected a member name"), -1;
			if (!(key = json_string(jp, &klen)))
				return -1;
			if (strlen(key) != klen)
				return json_fail(jp, "NUL in member name"), -1;
			if (json_member_find(v, key, klen))
				return json_fail(jp, "duplicate member name"), -1;
			json_ws(jp);
			if (jp->p >= jp->end || *jp->p++ != ':')
				return json_fail(jp, "expected ':'"), -1;
		}
		if (!(item = json_value(jp)))
			return -1;
		item->key = key;
		*tail = item;
		tail = &item->next;
		v->n++;
		json_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return 0;
		}
		return json_fail(jp, close == '}' ? "expected ',' or '}'" :
		    "expected ',' or ']'"), -1;
	}
}

static struct json *json_value(struct json_parser *jp)
{
	struct json *v;

	json_ws(jp);
	if (jp->p >= jp->end)
		return json_fail(jp, "unexpected end of input");
	if (!(v = arena_alloc(jp->a, sizeof *v)))
		return NULL;
	switch (*jp->p) {
	case '{':
	case '[':
		if (++jp->depth > SB_JSON_MAX_DEPTH)
			return json_fail(jp, "nested too deeply");
		v->type = *jp->p == '{' ? JSON_OBJECT : JSON_ARRAY;
		jp->p++;
		if (json_items(jp, v, v->type == JSON_OBJECT ? '}' : ']') < 0)
			return NULL;
		jp->depth--;
		return v;
	case '"':
		v->type = JSON_STRING;
		return (v->str = json_string(jp, &v->len)) ? v : NULL;
	case 't':
		v->type = JSON_TRUE;
		return json_literal(jp, "true") ? json_fail(jp, "bad literal") : v;
	case 'f':
		v->type = JSON_FALSE;
		return json_literal(jp, "false") ? json_fail(jp, "bad literal") : v;
	case 'n':
		v->type = JSON_NULL;
		return json_literal(jp, "null") ? json_fail(jp, "bad literal") : v;
	}
	if (json_number(jp, v) < 0)
		return json_fail(jp, "unexpected character");
	return v;
}

/* Parses a whole document; trailing non-space is an error. */
static struct json *json_parse(struct arena *a, const char *text, size_t len)
{
	struct json_parser jp = { text, text, text + len, a, 0 };
	struct json *v;

	if (!(v = json_value(&jp)))
		return NULL;
	json_ws(&jp);
	if (jp.p != jp.end)
		return json_fail(&jp, "trailing characters after the value");
	return v;
}

static struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	return json_member_find(obj, key, strlen(key));
}

/* JSON string output: quotes, backslashes and control characters escaped;
 * other bytes (UTF-8) as they are. */
static void json_put_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			buf_put(b, e, 2);
		} else if (c < 0x20) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			buf_put(b, e, 6);
		} else {
			buf_put(b, s, 1);
		}
	}
	buf_put(b, "\"", 1);
}

#if SB_WITH_IMAGES
/* ============================================================= sha === */

/*
 * sha256: SHA-256 (FIPS 180-4) for content-addressed image layers, and the
 * Docker/OCI digest helpers built on it.
 *
 *   struct sha_ctx c;
 *   sha_init(&c);                      picks the fastest backend this CPU has
 *   sha_update(&c, buf, n);            any number of times, any split
 *   sha_final(&c, out32);              c must be sha_init'ed again before reuse
 *   sha_sum(buf, n, out32);            one shot
 *   sha_hex(d32, out72);               "sha256:" + 64 lowercase hex + NUL
 *   sha_parse(s, n, d32);              0, or -1 (error buffer set) unless s[0..n)
 *                                      is exactly "sha256:" + 64 lowercase hex
 *   sha_chain_step(prev, diff, out);   one chainID step (see below)
 *   sha_backend_name();                "sha-ni", "armv8-sha2", "bearssl"
 *
 * Backends, chosen at run time by the first sha_init (cached, see sha_pick):
 *   x86_64   SHA-NI        cpuid leaf 7 EBX bit 29 (+ SSSE3, SSE4.1)
 *   aarch64  ARMv8 SHA2    getauxval(AT_HWCAP) & HWCAP_SHA2
 *   armv7    ARMv8 SHA2    getauxval(AT_HWCAP2) & HWCAP2_SHA2, i.e. an armhf
 *                          binary on an ARMv8 core with the crypto extension
 *   anything  BearSSL br_sha256 (portable, always compiled; riscv64, mipsel,
 *                          and cores without the extension, e.g. Raspberry
 *                          Pi 3/4 Cortex-A53/A72)
 * The accelerated functions carry target attributes, so the binary is still
 * built for the baseline ISA and runs on CPUs without the extension.
 *
 * Limits: messages below 2^61 bytes (FIPS 180-4 length field).  The context
 * is 120 bytes (x86_64, aarch64, armhf) and nothing is allocated; sha_final
 * leaves it spent.
 */


#if defined(__x86_64__)
#include <immintrin.h>
#include <cpuid.h>
#define SHA_FAST 1
#elif defined(__aarch64__) && defined(__ARM_NEON) && \
	defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
	(!defined(__clang__) || defined(__ARM_FEATURE_SHA2) || \
	 defined(__ARM_FEATURE_CRYPTO))
/* clang before 16 declares the SHA2 intrinsics only when the whole file is
 * built with +crypto (no per-function target), so clang needs -march=..+crypto */
#include <arm_neon.h>
#include <sys/auxv.h>
#define SHA_FAST 1
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7 && \
	defined(__ARM_PCS_VFP) && \
	defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
	(!defined(__clang__) || defined(__ARM_FEATURE_CRYPTO))
/* armhf (hard-float ABI) only: with -mfloat-abi=soft gcc may not touch the
 * NEON registers, even inside a function with an fpu= target. */
#include <arm_neon.h>
#include <sys/auxv.h>
#define SHA_FAST 1
#else
#define SHA_FAST 0
#endif

/* No optimize("O2") on the block functions: measured on x86_64 it changed
 * nothing (the loops are intrinsics; gcc -Os and -O2 emit the same schedule)
 * and cost 52 bytes.  See NOTES.md. */

typedef void sha_blocks_fn(uint32_t h[8], const uint8_t *p, size_t nblocks);

/* Caller-owned.  The BearSSL context serves the portable backend whole; the
 * accelerated ones keep their own state, so BearSSL's private fields are
 * never touched. */
struct sha_ctx {
	sha_blocks_fn *blocks;          /* NULL: BearSSL does everything */
	union {
		br_sha256_context br;
#if SHA_FAST
		struct {
			uint32_t h[8];
			uint64_t len;           /* bytes so far */
			uint8_t buf[64];
		} f;
#endif
	} u;
};

#if SHA_FAST
static const uint32_t sha_k[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t sha_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};
#endif

#if defined(__x86_64__)
/*
 * SHA-NI keeps the state as two vectors, ABEF and CDGH (Intel's "SHA
 * Extensions" paper, 2013).  Each loop turn is four rounds: sha256rnds2 does
 * two, taking W+K from the low half of its third operand.  The message
 * schedule runs four words ahead; the last three turns compute words that are
 * never used, which costs less than the branch that would skip them.  The
 * rounds loop is left rolled: sha256rnds2 latency bounds the speed, and the
 * rolled form is a quarter of the size of the unrolled one.
 */
__attribute__((target("sha,sse4.1")))
static void sha_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	                                     0x0405060700010203ULL);
	__m128i st0, st1, t, m0, m1, m2, m3, w, save0, save1;
	int i;

	t = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);   /* DCBA */
	st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]); /* HGFE */
	t = _mm_shuffle_epi32(t, 0xB1);                 /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);             /* EFGH */
	st0 = _mm_alignr_epi8(t, st1, 8);               /* ABEF */
	st1 = _mm_blend_epi16(st1, t, 0xF0);            /* CDGH */

	while (nblocks--) {
		save0 = st0;
		save1 = st1;
		m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 0)), bswap);
		m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), bswap);
		m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), bswap);
		m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), bswap);
		for (i = 0; i < 16; i++) {
			w = _mm_add_epi32(m0, _mm_load_si128((const __m128i *)(const void *)&sha_k[4 * i]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, w);
			st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(w, 0x0E));
			t = _mm_sha256msg1_epu32(m0, m1);
			t = _mm_add_epi32(t, _mm_alignr_epi8(m3, m2, 4));
			t = _mm_sha256msg2_epu32(t, m3);
			m0 = m1;
			m1 = m2;
			m2 = m3;
			m3 = t;
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
		p += 64;
	}

	t = _mm_shuffle_epi32(st0, 0x1B);               /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);             /* DCHG */
	st0 = _mm_blend_epi16(t, st1, 0xF0);            /* DCBA */
	st1 = _mm_alignr_epi8(st1, t, 8);               /* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&h[0], st0);
	_mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

static int sha_have_shani(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1;
}
#endif

#if SHA_FAST && (defined(__aarch64__) || defined(__arm__))
/*
 * ARMv8 SHA2: sha256h/sha256h2 do four rounds on ABCD/EFGH, sha256su0/su1
 * extend the schedule by four words.  The same intrinsics exist for AArch64
 * and for AArch32 (A32/T32 encodings of the ARMv8 crypto extension).
 */
#if defined(__clang__)
#define SHA_ARM_TARGET          /* whole file built with +crypto, see above */
#elif defined(__aarch64__)
#define SHA_ARM_TARGET __attribute__((target("+crypto")))
#else
#define SHA_ARM_TARGET __attribute__((target("arch=armv8-a,fpu=crypto-neon-fp-armv8")))
#endif

SHA_ARM_TARGET
static void sha_blocks_armv8(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	uint32x4_t abcd, efgh, abcd0, efgh0, m0, m1, m2, m3, w, t;
	int i;

	abcd = vld1q_u32(&h[0]);
	efgh = vld1q_u32(&h[4]);
	while (nblocks--) {
		abcd0 = abcd;
		efgh0 = efgh;
		m0 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 0)));
		m1 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16)));
		m2 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 32)));
		m3 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 48)));
		for (i = 0; i < 16; i++) {
			w = vaddq_u32(m0, vld1q_u32(&sha_k[4 * i]));
			t = abcd;
			abcd = vsha256hq_u32(abcd, efgh, w);
			efgh = vsha256h2q_u32(efgh, t, w);
			t = vsha256su1q_u32(vsha256su0q_u32(m0, m1), m2, m3);
			m0 = m1;
			m1 = m2;
			m2 = m3;
			m3 = t;
		}
		abcd = vaddq_u32(abcd, abcd0);
		efgh = vaddq_u32(efgh, efgh0);
		p += 64;
	}
	vst1q_u32(&h[0], abcd);
	vst1q_u32(&h[4], efgh);
}

static int sha_have_armv8(void)
{
#if defined(__aarch64__)
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif
	return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#else
#ifndef HWCAP2_SHA2
#define HWCAP2_SHA2 (1 << 3)
#endif
	return (getauxval(AT_HWCAP2) & HWCAP2_SHA2) != 0;
#endif
}
#endif

struct sha_backend {
	const char *name;
	sha_blocks_fn *blocks;          /* NULL: BearSSL */
	int (*usable)(void);            /* NULL: always */
};

/* Best first; the last entry is the portable one and is always usable. */
static const struct sha_backend sha_backends[] = {
#if defined(__x86_64__)
	{ "sha-ni", sha_blocks_shani, sha_have_shani },
#elif SHA_FAST
	{ "armv8-sha2", sha_blocks_armv8, sha_have_armv8 },
#endif
	{ "bearssl", NULL, NULL },
};

/*
 * The one piece of global state: the detected backend, cached because cpuid
 * is intercepted by hypervisors and gVisor-like sandboxes (measured: 34 us
 * per detection on the build host, against 0.13 us for hashing "abc").  Racing
 * threads store the same value; the relaxed atomics only keep that defined.
 */
static const struct sha_backend *sha_best;

static const struct sha_backend *sha_pick(void)
{
	const struct sha_backend *b = __atomic_load_n(&sha_best, __ATOMIC_RELAXED);

	if (b)
		return b;
	for (b = sha_backends; b->usable && !b->usable(); b++)
		;
	__atomic_store_n(&sha_best, b, __ATOMIC_RELAXED);
	return b;
}

/* Tests force a backend through this; sha_init is the public way in. */
static void sha_init_with(struct sha_ctx *c, const struct sha_backend *b)
{
	c->blocks = b->blocks;
#if SHA_FAST
	if (c->blocks) {
		memcpy(c->u.f.h, sha_iv, sizeof sha_iv);
		c->u.f.len = 0;
		return;
	}
#endif
	br_sha256_init(&c->u.br);
}

static void sha_init(struct sha_ctx *c)
{
	sha_init_with(c, sha_pick());
}

static const char *sha_backend_name(void)
{
	return sha_pick()->name;
}

#if SHA_FAST
static void sha_update_fast(struct sha_ctx *c, const uint8_t *p, size_t n)
{
	size_t used = (size_t)(c->u.f.len & 63), take;

	c->u.f.len += n;
	if (used) {
		take = 64 - used < n ? 64 - used : n;
		memcpy(c->u.f.buf + used, p, take);
		p += take;
		n -= take;
		if (used + take < 64)
			return;
		c->blocks(c->u.f.h, c->u.f.buf, 1);
	}
	if (n >= 64) {
		c->blocks(c->u.f.h, p, n / 64);
		p += n & ~(size_t)63;
		n &= 63;
	}
	if (n)
		memcpy(c->u.f.buf, p, n);
}

static void sha_final_fast(struct sha_ctx *c, uint8_t out[32])
{
	uint64_t bits = c->u.f.len << 3;
	size_t used = (size_t)(c->u.f.len & 63);
	uint8_t *buf = c->u.f.buf;
	int i;

	/* FIPS 180-4 5.1.1: 0x80, zeros to 56 mod 64, 64-bit big-endian length */
	buf[used++] = 0x80;
	if (used > 56) {
		memset(buf + used, 0, 64 - used);
		c->blocks(c->u.f.h, buf, 1);
		used = 0;
	}
	memset(buf + used, 0, 56 - used);
	for (i = 0; i < 8; i++)
		buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	c->blocks(c->u.f.h, buf, 1);
	for (i = 0; i < 8; i++) {
		uint32_t v = c->u.f.h[i];
		out[4 * i + 0] = (uint8_t)(v >> 24);
		out[4 * i + 1] = (uint8_t)(v >> 16);
		out[4 * i + 2] = (uint8_t)(v >> 8);
		out[4 * i + 3] = (uint8_t)v;
	}
}
#endif

static void sha_update(struct sha_ctx *c, const void *data, size_t n)
{
	if (n == 0)
		return;
#if SHA_FAST
	if (c->blocks) {
		sha_update_fast(c, data, n);
		return;
	}
#endif
	br_sha256_update(&c->u.br, data, n);
}

static void sha_final(struct sha_ctx *c, uint8_t out[32])
{
#if SHA_FAST
	if (c->blocks) {
		sha_final_fast(c, out);
		return;
	}
#endif
	br_sha256_out(&c->u.br, out);
}

static void sha_sum(const void *data, size_t n, uint8_t out[32])
{
	struct sha_ctx c;

	sha_init(&c);
	sha_update(&c, data, n);
	sha_final(&c, out);
}

static void sha_hex(const uint8_t d[32], char out[72])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hx[d[i] >> 4];
		out[8 + 2 * i] = hx[d[i] & 15];
	}
	out[71] = 0;
}

/*
 * OCI image-spec descriptor.md: the sha256 encoded part must match
 * /[a-f0-9]{64}/; upper case is refused so that one digest has one spelling
 * (content stores compare and name files by the string).
 */
static int sha_parse(const char *s, size_t n, uint8_t out[32])
{
	size_t i;

	if (n < 7 || memcmp(s, "sha256:", 7) != 0)
		return err_set("digest: algorithm is not sha256");
	if (n != 71)
		return err_set("digest: %zu hex digits, want 64", n - 7);
	for (i = 0; i < 64; i++) {
		unsigned char ch = (unsigned char)s[7 + i];
		unsigned v;

		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v = ch - 'a' + 10;
		else
			return err_set("digest: bad hex digit 0x%02x at offset %zu",
			               ch, 7 + i);
		if (i & 1)
			out[i / 2] = (uint8_t)(out[i / 2] | v);
		else
			out[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

/*
 * Docker/OCI image-spec config.md, "Layer ChainID":
 *   ChainID(L1) = DiffID(L1)
 *   ChainID(L1..Ln) = SHA256(ChainID(L1..Ln-1) + " " + DiffID(Ln))
 * with both digests in their "sha256:<hex>" text form.
 */
static void sha_chain_step(const uint8_t prev[32], const uint8_t diff[32],
                           uint8_t out[32])
{
	char text[72 + 72];

	sha_hex(prev, text);
	text[71] = ' ';
	sha_hex(diff, text + 72);
	sha_sum(text, 71 + 1 + 71, out);
}

#endif /* SB_WITH_IMAGES */

#if SB_WITH_IMAGES
/* ============================================================= inf === */

/* gzip (RFC 1952) and raw deflate (RFC 1951) */
/*
 * Streaming, bounded memory, no allocation: the caller owns a struct
 * inf_state, 77,744 bytes on x86_64 with the default INF_OUTSIZE (32 KiB).
 *
 *   void inf_init(struct inf_state *s, int gzip);   gzip=0: raw deflate
 *   int  inf_run(struct inf_state *s, const unsigned char **in, size_t *inlen,
 *                int eof, const unsigned char **out, size_t *outlen);
 *   uint32_t inf_crc32(uint32_t crc, const void *p, size_t n);  crc32(0,..)
 *
 * inf_run takes what it can of *in (advancing *in, *inlen; any chunk size,
 * one byte is fine) and decodes into the state's own buffer. Output is not
 * copied: *out points into that buffer, *outlen bytes, valid until the next
 * call; every return may carry output, errors included (discard it then).
 * eof=1 says *in holds the last of the input. Returns
 *   INF_MORE  all input used, feed more (never with eof=1: that is an error)
 *   INF_OUT   output area full: consume *out, call again with the rest of *in
 *   INF_END   stream complete
 *   -1        error, message in sb_error() ("gzip: crc32 mismatch"); sticky
 * The loop a caller runs:
 *   do { r = inf_run(s, &p, &n, eof, &o, &on); if (r < 0) fail; use(o, on);
 *   } while (r == INF_OUT);   then read more if r == INF_MORE
 *
 * Buffer: buf = 32 KiB history | INF_OUTSIZE output area | INF_SLACK. Every
 * symbol is decoded straight to its place after the history; once the
 * output area is full and handed out (pieces of at most 64 KiB + 288), the
 * next call slides the last 32 KiB down (one 32 KiB memcpy per INF_OUTSIZE
 * bytes) so matches never wrap. A larger INF_OUTSIZE measured no faster.
 *
 * gzip: all header fields parsed (FEXTRA, FNAME, FCOMMENT skipped, FHCRC
 * checked, reserved flags refused); CRC-32 and ISIZE checked per member
 * (the CRC not when s->nocrc, set after inf_init: the caller hashes the
 * output against a digest);
 * concatenated members decoded as one stream. Anything after the last
 * member that is not another member is refused ("trailing garbage"), zero
 * padding included. Raw deflate: INF_END leaves *in just past the stream
 * when it ends in the current chunk; the exact length is always
 * s->total_in - s->bitcnt / 8.
 * Limits: like zlib, HLIT > 286 and HDIST > 30 are refused.
 *
 * Speed: a 64-bit bit buffer refilled a word at a time, one-lookup tables of
 * 11 (lit/len) and 8 (distance) bits with subtables for longer codes, and a
 * fast loop (inf_fast) used while 16 input bytes and a whole match of output
 * room are in hand; the careful per-symbol path handles the edges.
 * inf_fast and the CRC are built with optimize("O2") under gcc.
 *
 * Global state: the CRC slicing table (8 KiB) and the CPU feature flag are
 * filled once by the first inf_init (idempotent; call it once before
 * starting threads if threads ever decode concurrently).
 */

#if defined(__GNUC__) && !defined(__clang__)
#define INF_HOT __attribute__((optimize("O2")))
#else
#define INF_HOT
#endif

#define INF_WSIZE 32768u		/* RFC 1951: distances reach 32768 back */
#ifndef INF_OUTSIZE
#define INF_OUTSIZE 32768u
#endif
#define INF_LIMIT (INF_WSIZE + INF_OUTSIZE)
/* A symbol is started only below INF_LIMIT; two literals plus a 258-byte
 * match rounded up to 8-byte stores end within this slack. */
#define INF_SLACK 288u
#define INF_FAST_IN 16			/* two 8-byte refills */

#define INF_LL_BITS 11
#define INF_LL_SIZE 2342		/* zlib's "enough 288 11 15" */
#define INF_D_BITS 8
#define INF_D_SIZE 402			/* "enough 32 8 15" */
#define INF_PRE_BITS 7

/* Table entry: bits 0-7 the bits to drop: code length plus extra bits (root
 * bits for a subtable pointer); 8-11 code length (subtable index bits);
 * 12-15 flags; 16-31 value (literal, base length or distance, subtable
 * offset). Dropping code and extra bits in one shift keeps the hot loop's
 * dependency chain short. */
#define INF_E_SUB 0x1000u
#define INF_E_EOB 0x2000u
#define INF_E_BAD 0x4000u
#define INF_E_LIT 0x8000u
#define INF_MASK(n) ((1u << (n)) - 1)

enum { INF_MORE = 1, INF_OUT, INF_END };	/* 0: internal, keep going */
enum { INF_K_PRE, INF_K_LL, INF_K_D };
enum { INF_SYM_OK, INF_SYM_EOB, INF_SYM_SHORT };

/* The gzip header states are in field order (see inf_gz_next). */
enum {
	INF_S_GZHEAD, INF_S_GZXLEN, INF_S_GZEXTRA, INF_S_GZNAME,
	INF_S_GZCOMMENT, INF_S_GZHCRC, INF_S_BLOCK, INF_S_STOREDLEN,
	INF_S_STORED, INF_S_COUNTS, INF_S_PRECODE, INF_S_LENS, INF_S_HUFF,
	INF_S_GZCRC, INF_S_GZSIZE, INF_S_GZNEXT, INF_S_END, INF_S_ERROR
};

struct inf_state {
	uint64_t total_in, total_out;	/* all members */
	const unsigned char *in, *in_end;	/* the current call's input */
	uint64_t bitbuf;		/* bits above bitcnt are zero */
	unsigned bitcnt;
	unsigned state, count, members, flags, nlen, ndist, ncode;
	unsigned char gzip, eof, final, fixed;
	unsigned char nocrc;		/* the caller checks a digest of the output */
	uint32_t crc, size, hcrc;	/* member CRC and ISIZE; header CRC */
	unsigned pos, floor, start, crcpos;	/* indexes into buf */
	const char *why;
	unsigned char lens[288 + 32];
	uint32_t ll[INF_LL_SIZE], dt[INF_D_SIZE], pre[1u << INF_PRE_BITS];
	unsigned char buf[INF_LIMIT + INF_SLACK];
};

/* ---- CRC-32 (the gzip trailer) ---- */

static uint32_t inf_crc_tab[8][256];
static int inf_crc_hw;

static uint32_t inf_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t inf_le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
#else
	return (uint64_t)inf_le32(p) | (uint64_t)inf_le32(p + 4) << 32;
#endif
}

/* Slicing-by-8 on the raw (not inverted) register. */
static INF_HOT uint32_t inf_crc_sw(uint32_t c, const unsigned char *p, size_t n)
{
	const uint32_t (*t)[256] = inf_crc_tab;

	for (; n >= 8; p += 8, n -= 8) {
		uint32_t a = inf_le32(p) ^ c, b = inf_le32(p + 4);

		c = t[7][a & 255] ^ t[6][a >> 8 & 255] ^ t[5][a >> 16 & 255] ^
		    t[4][a >> 24] ^ t[3][b & 255] ^ t[2][b >> 8 & 255] ^
		    t[1][b >> 16 & 255] ^ t[0][b >> 24];
	}
	for (; n; n--)
		c = t[0][(c ^ *p++) & 255] ^ c >> 8;
	return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/*
 * PCLMULQDQ folding (Intel, "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ"): a 128-bit lane followed by D bits equals, mod P, its
 * low half times x^(D+32) plus its high half times x^(D-32) in the
 * bit-reflected domain; the constants are those powers mod P, reflected and
 * shifted left by one. The folded 16 bytes are then a message with the same
 * CRC, finished by the table code.
 */
#define INF_CLMUL_FOLD(x, k) _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), \
					   _mm_clmulepi64_si128(x, k, 0x11))

__attribute__((target("pclmul,sse2"))) INF_HOT
static uint32_t inf_crc_clmul(uint32_t c, const unsigned char *p, size_t n)
{
	const __m128i k512 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
	const __m128i k128 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
	__m128i x0, x1, x2, x3;
	unsigned char tmp[16];

	x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p),
			   _mm_cvtsi32_si128((int)c));
	x1 = _mm_loadu_si128((const __m128i *)(p + 16));
	x2 = _mm_loadu_si128((const __m128i *)(p + 32));
	x3 = _mm_loadu_si128((const __m128i *)(p + 48));
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		x0 = _mm_xor_si128(INF_CLMUL_FOLD(x0, k512),
				   _mm_loadu_si128((const __m128i *)p));
		x1 = _mm_xor_si128(INF_CLMUL_FOLD(x1, k512),
				   _mm_loadu_si128((const __m128i *)(p + 16)));
		x2 = _mm_xor_si128(INF_CLMUL_FOLD(x2, k512),
				   _mm_loadu_si128((const __m128i *)(p + 32)));
		x3 = _mm_xor_si128(INF_CLMUL_FOLD(x3, k512),
				   _mm_loadu_si128((const __m128i *)(p + 48)));
	}
	x0 = _mm_xor_si128(INF_CLMUL_FOLD(x0, k128), x1);
	x0 = _mm_xor_si128(INF_CLMUL_FOLD(x0, k128), x2);
	x0 = _mm_xor_si128(INF_CLMUL_FOLD(x0, k128), x3);
	for (; n >= 16; p += 16, n -= 16)
		x0 = _mm_xor_si128(INF_CLMUL_FOLD(x0, k128),
				   _mm_loadu_si128((const __m128i *)p));
	_mm_storeu_si128((__m128i *)tmp, x0);
	return inf_crc_sw(inf_crc_sw(0, tmp, 16), p, n);
}

static int inf_crc_probe(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_PCLMUL);
}
#define INF_CRC_HW_MIN 64
#define inf_crc_hw_run inf_crc_clmul

#elif defined(__aarch64__) && defined(__GNUC__)
#include <arm_acle.h>
#include <sys/auxv.h>

#ifdef __clang__
#define INF_CRC_TARGET __attribute__((target("crc")))
#define inf_crc32x __builtin_arm_crc32d
#define inf_crc32b __builtin_arm_crc32b
#else
#define INF_CRC_TARGET __attribute__((target("+crc")))
#define inf_crc32x __crc32d
#define inf_crc32b __crc32b
#endif

/* ARMv8 CRC32X/CRC32B compute exactly the gzip polynomial, reflected. */
INF_CRC_TARGET INF_HOT
static uint32_t inf_crc_arm(uint32_t c, const unsigned char *p, size_t n)
{
	for (; n >= 8; p += 8, n -= 8)
		c = inf_crc32x(c, inf_le64(p));
	for (; n; n--)
		c = inf_crc32b(c, *p++);
	return c;
}

static int inf_crc_probe(void)
{
	return (getauxval(AT_HWCAP) & (1ul << 7)) != 0;	/* HWCAP_CRC32 */
}
#define INF_CRC_HW_MIN 8
#define inf_crc_hw_run inf_crc_arm

#else
static int inf_crc_probe(void)
{
	return 0;
}
#define INF_CRC_HW_MIN ((size_t)-1)
#define inf_crc_hw_run inf_crc_sw
#endif

static void inf_crc_init(void)
{
	unsigned i, k;

	if (inf_crc_tab[0][128])	/* built: crc of 0x80 is the polynomial */
		return;
	for (i = 0; i < 256; i++) {
		uint32_t c = i;

		for (k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
		inf_crc_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			inf_crc_tab[k][i] = inf_crc_tab[k - 1][i] >> 8 ^
				inf_crc_tab[0][inf_crc_tab[k - 1][i] & 255];
	inf_crc_hw = inf_crc_probe();
}

static uint32_t inf_crc32(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	if (inf_crc_hw && n >= INF_CRC_HW_MIN)
		return ~inf_crc_hw_run(~crc, p, n);
	return ~inf_crc_sw(~crc, p, n);
}

/* ---- Huffman tables ---- */

static const uint16_t inf_len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258
};
static const uint16_t inf_dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
	16385, 24577
};

/* What a symbol decodes to, less its code length: value, flags, and the
 * extra bit count in the low byte. Symbols 286-287 and 30-31 take part in
 * the fixed code but must not occur (RFC 1951 3.2.6). */
static uint32_t inf_sym_info(int kind, unsigned sym)
{
	if (kind == INF_K_PRE)
		return (uint32_t)sym << 16;
	if (kind == INF_K_D) {
		if (sym >= 30)
			return INF_E_BAD;
		return (uint32_t)inf_dist_base[sym] << 16 | (sym < 4 ? 0 : sym / 2 - 1);
	}
	if (sym < 256)
		return INF_E_LIT | sym << 16;
	if (sym == 256)
		return INF_E_EOB;
	if (sym >= 286)
		return INF_E_BAD;
	sym -= 257;
	return (uint32_t)inf_len_base[sym] << 16 |
	       (sym < 8 || sym == 28 ? 0 : (sym - 4) / 4);
}

/* The next canonical code, kept bit-reversed (deflate sends codes MSB
 * first into an LSB-first stream): add one from the top bit down. */
static unsigned inf_rev_next(unsigned rev, unsigned len)
{
	unsigned bit = 1u << (len - 1);

	while (rev & bit)
		bit >>= 1;
	return bit ? (rev & (bit - 1)) | bit : 0;
}

/* Index bits of the subtable that starts with a code of length len: deep
 * enough to hold every code sharing its root prefix. Codes come in
 * canonical order, so those are the next ones, shortest first. */
static unsigned inf_subbits(const unsigned *count, unsigned len, unsigned placed,
			    unsigned root, unsigned max)
{
	unsigned sb = len - root;
	int left = (1 << sb) - (int)(count[len] - placed);

	while (left > 0 && root + sb < max) {
		sb++;
		left = 2 * left - (int)count[root + sb];
	}
	return sb;
}

/*
 * Builds the decoding table for n code lengths. Over-subscribed codes are
 * refused; incomplete ones too, except (as zlib does) a lit/len or distance
 * code with at most one 1-bit code, whose missing half decodes as invalid.
 */
static int inf_build(uint32_t *t, unsigned bits, unsigned size,
		     const unsigned char *lens, unsigned n, int kind)
{
	unsigned count[16] = {0}, next[16], i, len, max = 0, k = 0, rev = 0;
	unsigned filled = 2, used = 1u << bits, prefix = ~0u, sub = 0, sb = 0;
	unsigned short sorted[288];
	int left = 1;

	for (i = 0; i < n; i++)
		count[lens[i]]++;
	for (len = 1; len <= 15; len++) {
		left = 2 * left - (int)count[len];
		if (left < 0)
			return -1;
		if (count[len])
			max = len;
	}
	if (left > 0) {
		if (kind == INF_K_PRE || max > 1)
			return -1;
		t[0] = t[1] = INF_E_BAD | 1 << 8 | 1;
	}
	next[1] = 0;
	for (len = 1; len < 15; len++)
		next[len + 1] = next[len] + count[len];
	for (i = 0; i < n; i++)
		if (lens[i])
			sorted[next[lens[i]]++] = (unsigned short)i;
	/* Codes up to the root length: one entry each in a table of 2^len,
	 * doubled by copying before the next length (the copies are the
	 * don't-care bits above a short code). */
	for (len = 1; len <= bits; len++) {
		unsigned c;

		if (len > 1) {
			memcpy(t + filled, t, filled * sizeof *t);
			filled *= 2;
		}
		for (c = 0; c < count[len]; c++, k++) {
			t[rev] = inf_sym_info(kind, sorted[k]) + (len << 8) + len;
			rev = inf_rev_next(rev, len);
		}
	}
	/* Longer codes: a subtable per root prefix, filled with a stride. */
	for (len = bits + 1; len <= max; len++) {
		unsigned c, j;

		for (c = 0; c < count[len]; c++, k++) {
			uint32_t e = inf_sym_info(kind, sorted[k]) +
				     ((len - bits) << 8) + len - bits;

			if ((rev & INF_MASK(bits)) != prefix) {
				prefix = rev & INF_MASK(bits);
				sb = inf_subbits(count, len, c, bits, max);
				if (used + (1u << sb) > size)
					return -1;	/* cannot happen: see *_SIZE */
				sub = used;
				used += 1u << sb;
				t[prefix] = INF_E_SUB | sub << 16 | sb << 8 | bits;
			}
			for (j = rev >> bits; j < 1u << sb; j += 1u << (len - bits))
				t[sub + j] = e;
			rev = inf_rev_next(rev, len);
		}
	}
	return 0;
}

static void inf_build_fixed(struct inf_state *s)
{
	unsigned char *l = s->lens;

	memset(l, 8, 144);
	memset(l + 144, 9, 112);
	memset(l + 256, 7, 24);
	memset(l + 280, 8, 8);
	memset(l + 288, 5, 32);
	inf_build(s->ll, INF_LL_BITS, INF_LL_SIZE, l, 288, INF_K_LL);
	inf_build(s->dt, INF_D_BITS, INF_D_SIZE, l + 288, 32, INF_K_D);
	s->fixed = 1;
}

/* ---- bits ---- */

static int inf_fail(struct inf_state *s, const char *why)
{
	s->why = why;
	return -1;
}

/* Out of input: wait for more, unless there is no more. */
static int inf_starve(struct inf_state *s)
{
	return s->eof ? inf_fail(s, "truncated input") : INF_MORE;
}

static int inf_pull(struct inf_state *s)
{
	if (s->in == s->in_end)
		return 0;
	s->bitbuf |= (uint64_t)*s->in++ << s->bitcnt;
	s->bitcnt += 8;
	return 1;
}

/* n <= 56 */
static int inf_need(struct inf_state *s, unsigned n)
{
	while (s->bitcnt < n)
		if (!inf_pull(s))
			return 0;
	return 1;
}

static void inf_drop(struct inf_state *s, unsigned n)
{
	s->bitbuf >>= n;
	s->bitcnt -= n;
}

static uint32_t inf_take(struct inf_state *s, unsigned n)
{
	uint32_t v = (uint32_t)(s->bitbuf & (((uint64_t)1 << n) - 1));

	inf_drop(s, n);
	return v;
}

static void inf_align(struct inf_state *s)
{
	inf_drop(s, s->bitcnt & 7);
}

/* ---- decoding ---- */

static const unsigned char inf_period[8] = {0, 0, 8, 9, 8, 10, 12, 14};

/* Writes len bytes from dist back, in 8-byte stores that may run up to 7
 * bytes past the end (INF_SLACK). Short distances are first grown to a
 * period of at least 8 bytes, a multiple of dist. */
static inline INF_HOT unsigned char *inf_copy(unsigned char *out, unsigned dist,
					      unsigned len)
{
	const unsigned char *src = out - dist;
	unsigned char *end = out + len;

	if (dist >= 8) {
		/* Most matches are short: 40 bytes without a loop test. */
		memcpy(out, src, 8);
		memcpy(out + 8, src + 8, 8);
		memcpy(out + 16, src + 16, 8);
		memcpy(out + 24, src + 24, 8);
		memcpy(out + 32, src + 32, 8);
		for (out += 40, src += 40; out < end; out += 8, src += 8)
			memcpy(out, src, 8);
	} else if (dist == 1) {
		uint64_t v = 0x0101010101010101ull * src[0];

		do {
			memcpy(out, &v, 8);
			out += 8;
		} while (out < end);
	} else {
		unsigned i, p = inf_period[dist];

		for (i = 0; i < 8; i++)
			out[i] = src[i];
		for (out += 8; out < end; out += 8)
			memcpy(out, out - p, 8);
	}
	return end;
}

/* In inf_fast only the low 6 bits of bc count: whole entries are
 * subtracted from it (their low byte is the length), saving a mask. */
#define INF_REFILL() (bb |= inf_le64(in) << (bc & 63), \
		      in += 7 - (bc >> 3 & 7), bc |= 56)
#define INF_DROP(n) (bb >>= (n), bc -= (n))
#define INF_DROPE(e) (bb >>= (e) & 63, bc -= (e))

/*
 * The hot loop, run while INF_FAST_IN bytes of input and room for a whole
 * match remain. One refill leaves >= 56 bits: enough for a length and a
 * distance with their extra bits (48), or four literals from the main table
 * (<= 11 bits each) and the lookup after them. At most two refills run per
 * turn. Returns 1 at the end of the block, 0 at an edge, -1 on error.
 */
static INF_HOT int inf_fast(struct inf_state *s)
{
	const unsigned char *in = s->in, *in_lim = s->in_end - INF_FAST_IN;
	unsigned char *out = s->buf + s->pos, *out_lim = s->buf + INF_LIMIT;
	const unsigned char *lo = s->buf + s->floor;
	const uint32_t *ll = s->ll, *dt = s->dt;
	uint64_t bb = s->bitbuf;
	unsigned bc = s->bitcnt;
	int r = 0;
	uint32_t e, d;

	/* The next lit/len entry is looked up before each refill: a refill
	 * only adds bits above the ones the lookup uses, so the two overlap. */
	INF_REFILL();
	e = ll[bb & INF_MASK(INF_LL_BITS)];
	while (in <= in_lim && out < out_lim) {
		uint64_t saved;
		unsigned len, dist;

		if (e & INF_E_LIT) {
			INF_DROPE(e);
			*out++ = (unsigned char)(e >> 16);
			e = ll[bb & INF_MASK(INF_LL_BITS)];
			if (e & INF_E_LIT) {
				INF_DROPE(e);
				*out++ = (unsigned char)(e >> 16);
				e = ll[bb & INF_MASK(INF_LL_BITS)];
				if (e & INF_E_LIT) {
					INF_DROPE(e);
					*out++ = (unsigned char)(e >> 16);
					e = ll[bb & INF_MASK(INF_LL_BITS)];
					if (e & INF_E_LIT) {
						INF_DROPE(e);
						*out++ = (unsigned char)(e >> 16);
						e = ll[bb & INF_MASK(INF_LL_BITS)];
					}
					INF_REFILL();
					continue;
				}
			}
			INF_REFILL();
		}
		if (e & INF_E_SUB) {
			INF_DROP(INF_LL_BITS);
			e = ll[(e >> 16) + (bb & INF_MASK(e >> 8 & 15))];
			if (e & INF_E_LIT) {
				INF_DROPE(e);
				*out++ = (unsigned char)(e >> 16);
				INF_REFILL();
				e = ll[bb & INF_MASK(INF_LL_BITS)];
				continue;
			}
		}
		if (e & (INF_E_EOB | INF_E_BAD)) {
			if (e & INF_E_BAD) {
				r = inf_fail(s, "invalid literal/length code");
				break;
			}
			INF_DROPE(e);
			r = 1;
			break;
		}
		saved = bb;
		INF_DROPE(e);
		len = (e >> 16) + (((unsigned)saved & INF_MASK(e & 31)) >> (e >> 8 & 15));
		d = dt[bb & INF_MASK(INF_D_BITS)];
		if (d & INF_E_SUB) {
			INF_DROP(INF_D_BITS);
			d = dt[(d >> 16) + (bb & INF_MASK(d >> 8 & 15))];
		}
		if (d & INF_E_BAD) {
			r = inf_fail(s, "invalid distance code");
			break;
		}
		saved = bb;
		INF_DROPE(d);
		dist = (d >> 16) + (((unsigned)saved & INF_MASK(d & 31)) >> (d >> 8 & 15));
		if (dist > (size_t)(out - lo)) {
			r = inf_fail(s, "invalid distance too far back");
			break;
		}
		INF_REFILL();
		e = ll[bb & INF_MASK(INF_LL_BITS)];
		out = inf_copy(out, dist, len);
	}
	s->in = in;
	bc &= 63;
	s->bitbuf = bb & (((uint64_t)1 << bc) - 1);	/* drop read-ahead bits */
	s->bitcnt = bc;
	s->pos = (unsigned)(out - s->buf);
	return r;
}

/*
 * One symbol (with its distance) decoded only if all of its bits are in the
 * bit buffer, so running out of input mid-symbol loses nothing: the caller
 * pulls a byte and tries again. Missing bits (zero) may steer the lookup,
 * but an entry is used only when its length fits in bitcnt.
 */
static int inf_symbol(struct inf_state *s)
{
	uint64_t bb = s->bitbuf;
	unsigned bc = s->bitcnt, n, m, t, pre = 0, len, dist;
	uint32_t e = s->ll[bb & INF_MASK(INF_LL_BITS)], d;

	if (e & INF_E_SUB) {
		pre = INF_LL_BITS;
		e = s->ll[(e >> 16) + ((unsigned)(bb >> pre) & INF_MASK(e >> 8 & 15))];
	}
	n = pre + (e >> 8 & 15);	/* code */
	m = pre + (e & 255);		/* code and extra bits */
	if (n > bc)
		return INF_SYM_SHORT;
	if (e & INF_E_LIT) {
		s->buf[s->pos++] = (unsigned char)(e >> 16);
		inf_drop(s, n);
		return INF_SYM_OK;
	}
	if (e & INF_E_BAD)
		return inf_fail(s, "invalid literal/length code");
	if (e & INF_E_EOB) {
		inf_drop(s, n);
		return INF_SYM_EOB;
	}
	if (m > bc)
		return INF_SYM_SHORT;
	len = (e >> 16) + ((unsigned)(bb >> n) & INF_MASK(m - n));
	d = s->dt[(bb >> m) & INF_MASK(INF_D_BITS)];
	pre = 0;
	if (d & INF_E_SUB) {
		pre = INF_D_BITS;
		d = s->dt[(d >> 16) + ((unsigned)(bb >> (m + pre)) &
				       INF_MASK(d >> 8 & 15))];
	}
	n = m + pre + (d >> 8 & 15);
	t = m + pre + (d & 255);
	if (n > bc)
		return INF_SYM_SHORT;
	if (d & INF_E_BAD)
		return inf_fail(s, "invalid distance code");
	if (t > bc)
		return INF_SYM_SHORT;
	dist = (d >> 16) + ((unsigned)(bb >> n) & INF_MASK(t - n));
	if (dist > s->pos - s->floor)
		return inf_fail(s, "invalid distance too far back");
	inf_copy(s->buf + s->pos, dist, len);
	s->pos += len;
	inf_drop(s, t);
	return INF_SYM_OK;
}

static void inf_end_block(struct inf_state *s)
{
	s->state = !s->final ? INF_S_BLOCK : s->gzip ? INF_S_GZCRC : INF_S_END;
}

/* Returns 0 at the end of the block, else what inf_run returns. */
static int inf_huff(struct inf_state *s)
{
	for (;;) {
		int r;

		if (s->pos >= INF_LIMIT)
			return INF_OUT;
		if (s->in_end - s->in >= INF_FAST_IN) {
			r = inf_fast(s);
			if (r < 0)
				return r;
			if (r > 0)
				break;
			continue;
		}
		r = inf_symbol(s);
		if (r < 0)
			return r;
		if (r == INF_SYM_EOB)
			break;
		if (r == INF_SYM_SHORT && !inf_pull(s))
			return inf_starve(s);
	}
	inf_end_block(s);
	return 0;
}

static int inf_stored(struct inf_state *s)
{
	while (s->count) {
		size_t n = s->in_end - s->in;

		if (s->pos >= INF_LIMIT)
			return INF_OUT;
		if (s->bitcnt) {	/* byte-aligned leftovers first */
			s->buf[s->pos++] = (unsigned char)inf_take(s, 8);
			s->count--;
			continue;
		}
		if (!n)
			return inf_starve(s);
		if (n > s->count)
			n = s->count;
		if (n > INF_LIMIT - s->pos)
			n = INF_LIMIT - s->pos;
		memcpy(s->buf + s->pos, s->in, n);
		s->pos += (unsigned)n;
		s->in += n;
		s->count -= (unsigned)n;
	}
	inf_end_block(s);
	return 0;
}

static int inf_block_header(struct inf_state *s)
{
	unsigned type;

	if (!inf_need(s, 3))
		return inf_starve(s);
	s->final = (unsigned char)inf_take(s, 1);
	type = inf_take(s, 2);
	if (type == 0) {
		s->state = INF_S_STOREDLEN;
	} else if (type == 1) {
		if (!s->fixed)
			inf_build_fixed(s);
		s->state = INF_S_HUFF;
	} else if (type == 2) {
		s->state = INF_S_COUNTS;
	} else {
		return inf_fail(s, "invalid block type 3");
	}
	return 0;
}

static int inf_stored_len(struct inf_state *s)
{
	uint32_t v;

	inf_align(s);
	if (!inf_need(s, 32))
		return inf_starve(s);
	v = inf_take(s, 32);
	if ((v & 0xffff) != (~v >> 16 & 0xffff))
		return inf_fail(s, "invalid stored block lengths");
	s->count = v & 0xffff;
	s->state = INF_S_STORED;
	return 0;
}

static int inf_counts(struct inf_state *s)
{
	if (!inf_need(s, 14))
		return inf_starve(s);
	s->nlen = 257 + inf_take(s, 5);
	s->ndist = 1 + inf_take(s, 5);
	s->ncode = 4 + inf_take(s, 4);
	if (s->nlen > 286 || s->ndist > 30)
		return inf_fail(s, "too many length or distance symbols");
	s->count = 0;
	s->state = INF_S_PRECODE;
	return 0;
}

static int inf_precode(struct inf_state *s)
{
	static const unsigned char order[19] = {
		16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15
	};

	for (; s->count < s->ncode; s->count++) {
		if (!inf_need(s, 3))
			return inf_starve(s);
		s->lens[order[s->count]] = (unsigned char)inf_take(s, 3);
	}
	for (; s->count < 19; s->count++)
		s->lens[order[s->count]] = 0;
	if (inf_build(s->pre, INF_PRE_BITS, 1u << INF_PRE_BITS, s->lens, 19,
		      INF_K_PRE) < 0)
		return inf_fail(s, "invalid code lengths set");
	s->count = 0;
	s->state = INF_S_LENS;
	return 0;
}

static int inf_lens(struct inf_state *s)
{
	unsigned total = s->nlen + s->ndist;

	while (s->count < total) {
		uint32_t e = s->pre[s->bitbuf & INF_MASK(INF_PRE_BITS)];
		unsigned n = e & 255, sym = e >> 16, x, rep;
		unsigned char v = 0;

		x = sym == 16 ? 2 : sym == 17 ? 3 : sym == 18 ? 7 : 0;
		if (n + x > s->bitcnt) {
			if (!inf_pull(s))
				return inf_starve(s);
			continue;
		}
		inf_drop(s, n);
		if (sym < 16) {
			s->lens[s->count++] = (unsigned char)sym;
			continue;
		}
		rep = inf_take(s, x) + (sym == 18 ? 11 : 3);
		if (sym == 16) {
			if (!s->count)
				return inf_fail(s, "invalid bit length repeat");
			v = s->lens[s->count - 1];
		}
		if (rep > total - s->count)
			return inf_fail(s, "invalid bit length repeat");
		memset(s->lens + s->count, v, rep);
		s->count += rep;
	}
	if (!s->lens[256])
		return inf_fail(s, "missing end-of-block code");
	s->fixed = 0;
	if (inf_build(s->ll, INF_LL_BITS, INF_LL_SIZE, s->lens, s->nlen,
		      INF_K_LL) < 0)
		return inf_fail(s, "invalid literal/lengths set");
	if (inf_build(s->dt, INF_D_BITS, INF_D_SIZE, s->lens + s->nlen,
		      s->ndist, INF_K_D) < 0)
		return inf_fail(s, "invalid distances set");
	s->state = INF_S_HUFF;
	return 0;
}

/* ---- gzip container ---- */

static void inf_member_start(struct inf_state *s)
{
	s->state = s->gzip ? INF_S_GZHEAD : INF_S_BLOCK;
	s->count = 0;
	s->crc = s->size = s->hcrc = 0;
	s->floor = s->crcpos = s->pos;
	s->final = 0;
}

/* The next optional header field after state st that FLG says is there. */
static unsigned inf_gz_next(unsigned st, unsigned flags)
{
	if (st < INF_S_GZXLEN && (flags & 4))
		return INF_S_GZXLEN;
	if (st < INF_S_GZNAME && (flags & 8))
		return INF_S_GZNAME;
	if (st < INF_S_GZCOMMENT && (flags & 16))
		return INF_S_GZCOMMENT;
	if (st < INF_S_GZHCRC && (flags & 2))
		return INF_S_GZHCRC;
	return INF_S_BLOCK;
}

static int inf_gz_byte(struct inf_state *s, unsigned *b)
{
	unsigned char c;

	if (!inf_need(s, 8))
		return 0;
	c = (unsigned char)inf_take(s, 8);
	s->hcrc = inf_crc32(s->hcrc, &c, 1);
	*b = c;
	return 1;
}

static int inf_gz_header(struct inf_state *s)
{
	const char *garbage = s->members ? "trailing garbage after the last member"
					 : "not in gzip format";
	unsigned b = 0, st = s->state;

	for (;;) {
		if (st == INF_S_GZHCRC ? !inf_need(s, 16) : !inf_gz_byte(s, &b))
			return inf_starve(s);
		switch (st) {
		case INF_S_GZHEAD:
			if ((s->count == 0 && b != 0x1f) || (s->count == 1 && b != 0x8b))
				return inf_fail(s, garbage);
			if (s->count == 2 && b != 8)
				return inf_fail(s, "unknown compression method");
			if (s->count == 3 && (b & 0xe0))
				return inf_fail(s, "reserved header flags set");
			if (s->count == 3)
				s->flags = b;
			if (++s->count < 10)
				continue;
			break;
		case INF_S_GZXLEN:
			s->ncode = s->count ? s->ncode | b << 8 : b;	/* XLEN, LE */
			if (++s->count < 2)
				continue;
			s->count = s->ncode;
			st = s->state = INF_S_GZEXTRA;
			if (s->count)
				continue;
			break;
		case INF_S_GZEXTRA:
			if (--s->count)
				continue;
			break;
		case INF_S_GZNAME:
		case INF_S_GZCOMMENT:
			if (b)
				continue;
			break;
		case INF_S_GZHCRC:
			if (inf_take(s, 16) != (s->hcrc & 0xffff))
				return inf_fail(s, "header crc mismatch");
			break;
		}
		s->count = 0;
		st = s->state = inf_gz_next(st, s->flags);
		if (st == INF_S_BLOCK)
			return 0;
	}
}

/* Brings the member's CRC and size up to the output decoded so far. */
static void inf_account(struct inf_state *s)
{
	unsigned n = s->pos - s->crcpos;

	if (!s->nocrc)
		s->crc = inf_crc32(s->crc, s->buf + s->crcpos, n);
	s->size += n;
	s->crcpos = s->pos;
}

static int inf_gz_trailer(struct inf_state *s)
{
	inf_account(s);
	inf_align(s);
	if (!inf_need(s, 32))
		return inf_starve(s);
	if (s->state == INF_S_GZCRC) {
		if (inf_take(s, 32) != s->crc && !s->nocrc)
			return inf_fail(s, "crc32 mismatch");
		s->state = INF_S_GZSIZE;
		if (!inf_need(s, 32))
			return inf_starve(s);
	}
	if (inf_take(s, 32) != s->size)
		return inf_fail(s, "length mismatch");
	s->members++;
	s->state = INF_S_GZNEXT;
	return 0;
}

/* After a member: another one, the end, or wait to learn which. */
static int inf_gz_next_member(struct inf_state *s)
{
	if (s->bitcnt || s->in < s->in_end) {
		inf_member_start(s);
		return 0;
	}
	if (!s->eof)
		return INF_MORE;
	s->state = INF_S_END;
	return INF_END;
}

/* ---- driver ---- */

static void inf_init(struct inf_state *s, int gzip)
{
	inf_crc_init();
	s->total_in = s->total_out = 0;
	s->bitbuf = 0;
	s->bitcnt = 0;
	s->members = 0;
	s->gzip = gzip != 0;
	s->nocrc = 0;
	s->fixed = 0;
	s->pos = s->start = 0;
	s->why = "";
	inf_member_start(s);
}

/* Keeps the last 32 KiB as history at the start of buf. */
static void inf_slide(struct inf_state *s)
{
	unsigned shift = s->pos - INF_WSIZE;

	memmove(s->buf, s->buf + shift, INF_WSIZE);
	s->pos = s->crcpos = INF_WSIZE;
	s->floor = s->floor > shift ? s->floor - shift : 0;
}

static int inf_step(struct inf_state *s)
{
	for (;;) {
		int r;

		switch (s->state) {
		case INF_S_GZHEAD: case INF_S_GZXLEN: case INF_S_GZEXTRA:
		case INF_S_GZNAME: case INF_S_GZCOMMENT: case INF_S_GZHCRC:
			r = inf_gz_header(s);
			break;
		case INF_S_BLOCK:
			r = inf_block_header(s);
			break;
		case INF_S_STOREDLEN:
			r = inf_stored_len(s);
			break;
		case INF_S_STORED:
			r = inf_stored(s);
			break;
		case INF_S_COUNTS:
			r = inf_counts(s);
			break;
		case INF_S_PRECODE:
			r = inf_precode(s);
			break;
		case INF_S_LENS:
			r = inf_lens(s);
			break;
		case INF_S_HUFF:
			r = inf_huff(s);
			break;
		case INF_S_GZCRC: case INF_S_GZSIZE:
			r = inf_gz_trailer(s);
			break;
		case INF_S_GZNEXT:
			r = inf_gz_next_member(s);
			break;
		case INF_S_END:
			return INF_END;
		default:
			return -1;
		}
		if (r != 0)
			return r;
	}
}

static int inf_run(struct inf_state *s, const unsigned char **in, size_t *inlen,
		   int eof, const unsigned char **out, size_t *outlen)
{
	int r;

	s->in = *in;
	s->in_end = *inlen ? *in + *inlen : *in;	/* *in may be NULL then */
	s->eof = eof != 0;
	if (s->pos >= INF_LIMIT)
		inf_slide(s);
	s->start = s->pos;
	r = inf_step(s);
	if (r == INF_END && !s->gzip) {	/* give back bytes read past the end */
		unsigned k = s->bitcnt / 8, used = (unsigned)(s->in - *in);

		inf_align(s);
		k = k < used ? k : used;
		s->in -= k;
		s->bitcnt -= 8 * k;
		s->bitbuf &= ((uint64_t)1 << s->bitcnt) - 1;
	}
	if (s->gzip)
		inf_account(s);
	*out = s->buf + s->start;
	*outlen = s->pos - s->start;
	s->start = s->pos;
	s->total_out += *outlen;
	s->total_in += (size_t)(s->in - *in);
	*inlen -= (size_t)(s->in - *in);
	*in = s->in;
	if (r < 0) {
		s->state = INF_S_ERROR;
		return err_set("%s: %s", s->gzip ? "gzip" : "deflate", s->why);
	}
	return r;
}

/* ============================================================= zst === */

/*
 * zst: streaming Zstandard decoder (RFC 8878), for OCI layers of media type
 * application/vnd.oci.image.layer.v1.tar+zstd.
 *
 * API
 *   struct zst_state z;                 caller owns it (20 KB, mostly tables:
 *                                       static or malloc, not the stack of a
 *                                       small thread); do not copy it in use
 *   zst_init(&z, window_max);           window_max 0 = ZST_WINDOW_DEFAULT (2^27);
 *                                       zst_free first when reusing a state
 *   zst_decode(&z, in, n, &used, &out, &outn, end)
 *       consumes input (any chunking, down to 1 byte) and returns
 *         ZST_OUT   out, outn hold decoded bytes (at most 128 KB), valid until
 *                   the next call; call again with the unconsumed input
 *         ZST_MORE  all input consumed, give more
 *         ZST_END   end == 1, the input ended cleanly after a complete frame
 *         -1        error, message in sb_error(); the decoder stays failed
 *       *used is set in every case.  end != 0 says no input follows this
 *       chunk: a stream cut inside a frame then fails with "truncated input".
 *   zst_free(&z);                       releases the buffer zst_decode allocated
 *   z.nocheck = 1                       after zst_init: the content checksum
 *                                       is not computed (the caller hashes
 *                                       the output against a digest)
 *
 * Memory: one buffer per frame, window + 3 blocks + 96 bytes where block =
 * min(window, 128 KB): the history plus the block being decoded, the decoded
 * literals, and a compressed block staged when it arrives split across input
 * chunks.  If the frame content size is known and not above the window, it
 * is content size + 2 blocks + 64 and the limit applies to the content size.
 * zst_decode mallocs it at a frame header (grows it for later frames, never
 * shrinks it).  Windows above window_max are refused, naming both sizes.
 *
 * Typical use:
 *   do {
 *       n = read(fd, buf, sizeof buf);           (n < 0: error)
 *       off = 0;
 *       do {
 *           r = zst_decode(&z, buf + off, n - off, &used, &out, &outn, n == 0);
 *           off += used;
 *           if (r == ZST_OUT) consume(out, outn);
 *       } while (r == ZST_OUT);
 *   } while (r == ZST_MORE);                     (r < 0: error)
 *
 * Format coverage: all block types, literal modes (raw, RLE, Huffman 1 and 4
 * streams, treeless), sequence modes (predefined, RLE, FSE, repeat), repeat
 * offsets, XXH64 content checksum (verified), frame content size (verified),
 * skippable frames, concatenated frames.  Dictionaries are refused.
 * Invalid input fails with a message; it never reads outside its input or
 * buffers.  Offsets beyond the window are refused even when the bytes would
 * still be in memory (RFC 8878 3.1.1.3).
 */

#define ZST_WINDOW_DEFAULT ((uint64_t)1 << 27)
#define ZST_MAGIC 0xFD2FB528u
#define ZST_BLOCK_MAX (128u << 10)
#define ZST_WILD 32            /* slack for copies that overshoot by < 16 bytes */
#define ZST_HUF_LOG_MAX 12     /* RFC says 11; libzstd accepts 12 */

enum { ZST_MORE = 0, ZST_OUT = 1, ZST_END = 2 };

#if defined(__GNUC__) && !defined(__clang__)
#define ZST_HOT __attribute__((optimize("O2")))
#else
#define ZST_HOT
#endif
#define ZST_INLINE static inline __attribute__((always_inline))
#ifndef ZST_COUNT
#define ZST_COUNT(what) ((void)0)   /* test hook: which format features a run used */
#endif

struct zst_fse {               /* FSE state for the Huffman weights */
	uint16_t base;
	uint8_t sym, bits;
};

struct zst_seq {               /* FSE state for sequences, symbol resolved */
	uint16_t next;         /* baseline of the next state */
	uint8_t bits;          /* bits to read for the next state */
	uint8_t xbits;         /* extra bits of the length/offset code */
	uint32_t base;         /* baseline of the length/offset code */
};

struct zst_xxh {
	uint64_t v[4], total;
	uint8_t buf[32];
	unsigned n;
};

enum {
	ZST_S_MAGIC, ZST_S_FHD, ZST_S_SKIPHDR, ZST_S_SKIP, ZST_S_BHDR,
	ZST_S_RAW, ZST_S_RLE, ZST_S_CBLOCK, ZST_S_CSUM, ZST_S_FAIL
};

struct zst_state {
	uint64_t window_max;
	uint8_t *mem;              /* the one buffer */
	size_t mem_size;
	int mem_owned;

	int st, seen_frame;
	int nocheck;               /* set after zst_init: the caller checks a
	                            * digest of the output, skip XXH64 */
	uint8_t hdr[18];           /* magic, frame header, block header, checksum */
	unsigned hlen;

	/* frame */
	uint64_t fcs, frame_out, skip;
	size_t window;             /* largest valid offset */
	uint32_t block_max;
	int has_fcs, has_csum, last;

	/* block */
	uint32_t bsize, remain;
	size_t ilen;               /* staged bytes of a compressed block */

	/* buffers carved from mem */
	uint8_t *win, *lit, *inbuf;
	size_t win_size, pos, old_end;

	/* entropy state carried between blocks */
	uint32_t rep[3];
	int huf_ok, seq_ok;
	unsigned huf_log;
	unsigned al[3];            /* accuracy log of the LL, OF, ML tables */
	int predef[3];             /* table in use is the predefined one */
	uint16_t huf[1 << ZST_HUF_LOG_MAX];
	struct zst_seq tab_ll[512], tab_of[256], tab_ml[512];
	struct zst_seq def_ll[64], def_of[32], def_ml[64];
	struct zst_xxh xxh;
};

/* ---- byte helpers ---- */

ZST_INLINE uint64_t zst_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

ZST_INLINE uint32_t zst_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

ZST_INLINE unsigned zst_highbit(uint32_t v)   /* v != 0 */
{
	return 31 - (unsigned)__builtin_clz(v);
}

ZST_INLINE void zst_copy8(uint8_t *d, const uint8_t *s) { memcpy(d, s, 8); }
ZST_INLINE void zst_copy16(uint8_t *d, const uint8_t *s) { memcpy(d, s, 16); }

/* "2^27" for powers of two, else the number: messages name sizes as people set them */
static const char *zst_size_str(char *b, uint64_t v)
{
	if (v && !(v & (v - 1))) {
		unsigned e = 0;
		while (v >>= 1)
			e++;
		strf(b, 24, "2^%u", e);
	} else {
		strf(b, 24, "%llu", (unsigned long long)v);
	}
	return b;
}

/* ---- XXH64 (content checksum) ---- */

#define ZST_P1 0x9E3779B185EBCA87ull
#define ZST_P2 0xC2B2AE3D27D4EB4Full
#define ZST_P3 0x165667B19E3779F9ull
#define ZST_P4 0x85EBCA77C2B2AE63ull
#define ZST_P5 0x27D4EB2F165667C5ull

ZST_INLINE uint64_t zst_rotl(uint64_t x, unsigned r) { return x << r | x >> (64 - r); }

ZST_INLINE uint64_t zst_xxh_round(uint64_t acc, uint64_t in)
{
	return zst_rotl(acc + in * ZST_P2, 31) * ZST_P1;
}

static void zst_xxh_init(struct zst_xxh *h)
{
	h->v[0] = ZST_P1 + ZST_P2;
	h->v[1] = ZST_P2;
	h->v[2] = 0;
	h->v[3] = 0 - ZST_P1;
	h->total = 0;
	h->n = 0;
}

ZST_HOT static void zst_xxh_update(struct zst_xxh *h, const uint8_t *p, size_t n)
{
	uint64_t v0, v1, v2, v3;

	h->total += n;
	if (h->n + n < 32) {
		memcpy(h->buf + h->n, p, n);
		h->n += (unsigned)n;
		return;
	}
	v0 = h->v[0], v1 = h->v[1], v2 = h->v[2], v3 = h->v[3];
	if (h->n) {
		unsigned k = 32 - h->n;
		memcpy(h->buf + h->n, p, k);
		p += k, n -= k;
		v0 = zst_xxh_round(v0, zst_le64(h->buf));
		v1 = zst_xxh_round(v1, zst_le64(h->buf + 8));
		v2 = zst_xxh_round(v2, zst_le64(h->buf + 16));
		v3 = zst_xxh_round(v3, zst_le64(h->buf + 24));
	}
	for (; n >= 32; p += 32, n -= 32) {
		v0 = zst_xxh_round(v0, zst_le64(p));
		v1 = zst_xxh_round(v1, zst_le64(p + 8));
		v2 = zst_xxh_round(v2, zst_le64(p + 16));
		v3 = zst_xxh_round(v3, zst_le64(p + 24));
	}
	h->v[0] = v0, h->v[1] = v1, h->v[2] = v2, h->v[3] = v3;
	memcpy(h->buf, p, n);
	h->n = (unsigned)n;
}

static uint64_t zst_xxh_merge(uint64_t acc, uint64_t v)
{
	return (acc ^ zst_xxh_round(0, v)) * ZST_P1 + ZST_P4;
}

static uint64_t zst_xxh_digest(const struct zst_xxh *h)
{
	const uint8_t *p = h->buf;
	unsigned n = h->n;
	uint64_t r;

	if (h->total >= 32) {
		r = zst_rotl(h->v[0], 1) + zst_rotl(h->v[1], 7) + zst_rotl(h->v[2], 12) + zst_rotl(h->v[3], 18);
		r = zst_xxh_merge(r, h->v[0]);
		r = zst_xxh_merge(r, h->v[1]);
		r = zst_xxh_merge(r, h->v[2]);
		r = zst_xxh_merge(r, h->v[3]);
	} else {
		r = ZST_P5;
	}
	r += h->total;
	for (; n >= 8; p += 8, n -= 8)
		r = zst_rotl(r ^ zst_xxh_round(0, zst_le64(p)), 27) * ZST_P1 + ZST_P4;
	if (n >= 4) {
		r = zst_rotl(r ^ (uint64_t)zst_le32(p) * ZST_P1, 23) * ZST_P2 + ZST_P3;
		p += 4, n -= 4;
	}
	for (; n; p++, n--)
		r = zst_rotl(r ^ *p * ZST_P5, 11) * ZST_P1;
	r ^= r >> 33;
	r *= ZST_P2;
	r ^= r >> 29;
	r *= ZST_P3;
	return r ^ r >> 32;
}

/* ---- backward bit reader (RFC 8878 4.1, 4.2.2) ----
 * c holds the 8 bytes at p; the next bit to read is bit 63 - used.  Bytes
 * before start are never loaded: for a stream shorter than 8 bytes c holds
 * it zero-extended and used counts the missing bytes as consumed, so in all
 * cases "p == start && used == 64" means exactly consumed and used > 64
 * means read past the beginning. */

struct zst_br {
	uint64_t c;
	unsigned used;
	const uint8_t *p, *start;
};

static int zst_br_init(struct zst_br *b, const uint8_t *src, size_t n)
{
	unsigned last, i;

	if (n == 0 || src[n - 1] == 0)
		return -1;      /* the final byte holds the end mark */
	last = src[n - 1];
	b->start = src;
	if (n >= 8) {
		b->p = src + n - 8;
		b->c = zst_le64(b->p);
		b->used = 8 - zst_highbit(last);
	} else {
		b->p = src;
		b->c = 0;
		for (i = 0; i < n; i++)
			b->c |= (uint64_t)src[i] << (8 * i);
		b->used = 8 - zst_highbit(last) + 8 * (8 - (unsigned)n);
	}
	return 0;
}

ZST_INLINE uint64_t zst_br_read(struct zst_br *b, unsigned n)
{
	uint64_t v = (b->c << (b->used & 63)) >> 1 >> (63 - n);
	b->used += n;
	return v;
}

ZST_INLINE void zst_br_reload(struct zst_br *b)
{
	if (b->p - b->start >= 8) {
		b->p -= b->used >> 3;
		b->used &= 7;
		b->c = zst_le64(b->p);
	} else if (b->p != b->start) {
		size_t back = b->used >> 3, avail = (size_t)(b->p - b->start);
		if (back > avail)
			back = avail;
		b->p -= back;
		b->used -= 8 * (unsigned)back;
		b->c = zst_le64(b->p);
	}
}

ZST_INLINE int zst_br_overflow(const struct zst_br *b)
{
	return b->p == b->start && b->used > 64;
}

ZST_INLINE int zst_br_done(const struct zst_br *b)
{
	return b->p == b->start && b->used == 64;
}

/* ---- FSE tables (RFC 8878 4.1.1) ---- */

/* k <= 16 bits at bit position pos of a forward little-endian stream; zeros past its end */
static uint32_t zst_fwd_bits(const uint8_t *src, size_t n, uint64_t pos, unsigned k)
{
	size_t byte = (size_t)(pos >> 3);
	uint32_t w = 0;
	unsigned i;

	for (i = 0; i < 3 && byte + i < n; i++)
		w |= (uint32_t)src[byte + i] << (8 * i);
	return (w >> (pos & 7)) & ((1u << k) - 1);
}

/* Reads a normalized distribution; returns its size in bytes or -1. */
static int zst_ncount(int16_t *norm, unsigned *nsym, unsigned *log,
	unsigned log_max, unsigned sym_max, const uint8_t *src, size_t n)
{
	uint64_t pos = 4;      /* in bits */
	int remaining, threshold, nbits;
	unsigned sym = 0;
	int prev0 = 0;

	if (n == 0)
		return -1;
	*log = (src[0] & 15) + 5;
	if (*log > log_max)
		return -1;
	remaining = (1 << *log) + 1;
	threshold = 1 << *log;
	nbits = (int)*log + 1;
	memset(norm, 0, (sym_max + 1) * sizeof *norm);
	while (remaining > 1) {
		uint32_t v;
		int max, count;

		if (prev0) {    /* a zero probability is followed by 2-bit repeat counts */
			uint32_t r;
			do {
				r = zst_fwd_bits(src, n, pos, 2);
				pos += 2;
				sym += r;
			} while (r == 3 && sym <= sym_max);
		}
		if (sym > sym_max)
			return -1;
		v = zst_fwd_bits(src, n, pos, (unsigned)nbits);
		max = 2 * threshold - 1 - remaining;
		if ((int)(v & (uint32_t)(threshold - 1)) < max) {
			count = (int)(v & (uint32_t)(threshold - 1));
			pos += (unsigned)nbits - 1;
		} else {
			count = (int)v;
			if (count >= threshold)
				count -= max;
			pos += (unsigned)nbits;
		}
		count--;                /* -1 means "less than 1" */
		remaining -= count < 0 ? -count : count;
		norm[sym++] = (int16_t)count;
		prev0 = count == 0;
		if (remaining < threshold) {
			if (remaining <= 1)
				break;
			nbits = (int)zst_highbit((uint32_t)remaining) + 1;
			threshold = 1 << (nbits - 1);
		}
	}
	if (remaining != 1 || (pos + 7) >> 3 > n)
		return -1;
	*nsym = sym;
	return (int)((pos + 7) >> 3);
}

/* Spreads the symbols and computes each state's next-state rule. */
static void zst_fse_build(struct zst_fse *t, const int16_t *norm, unsigned nsym, unsigned log)
{
	uint32_t size = 1u << log, mask = size - 1, high = size - 1, pos = 0;
	uint32_t step = (size >> 1) + (size >> 3) + 3, u;
	uint16_t next[256];
	unsigned s;
	int i;

	for (s = 0; s < nsym; s++) {
		if (norm[s] == -1) {
			t[high--].sym = (uint8_t)s;
			next[s] = 1;
		} else {
			next[s] = (uint16_t)norm[s];
		}
	}
	for (s = 0; s < nsym; s++) {
		for (i = 0; i < norm[s]; i++) {
			t[pos].sym = (uint8_t)s;
			do
				pos = (pos + step) & mask;
			while (pos > high);
		}
	}
	for (u = 0; u < size; u++) {
		uint32_t x = next[t[u].sym]++;
		unsigned nb = log - zst_highbit(x);
		t[u].bits = (uint8_t)nb;
		t[u].base = (uint16_t)((x << nb) - size);
	}
}

/* ---- sequence code tables (RFC 8878 3.1.1.3.2.1.1) ---- */

static const uint32_t zst_ll_base[36] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
	8192, 16384, 32768, 65536 };
static const uint8_t zst_ll_bits[36] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint32_t zst_ml_base[53] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
	19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
	35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
	4099, 8195, 16387, 32771, 65539 };
static const uint8_t zst_ml_bits[53] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* default distributions (RFC 8878 3.1.1.3.2.2) */
static const int16_t zst_ll_def[36] = {
	4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1 };
static const int16_t zst_ml_def[53] = {
	1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1,
	-1, -1, -1, -1, -1 };
static const int16_t zst_of_def[29] = {
	1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1 };

enum { ZST_LL, ZST_OF, ZST_ML };

static void zst_code(unsigned kind, unsigned sym, uint32_t *base, uint8_t *xbits)
{
	if (kind == ZST_LL) {
		*base = zst_ll_base[sym];
		*xbits = zst_ll_bits[sym];
	} else if (kind == ZST_ML) {
		*base = zst_ml_base[sym];
		*xbits = zst_ml_bits[sym];
	} else {
		*base = (uint32_t)1 << sym;   /* Offset_Value = (1 << code) + bits */
		*xbits = (uint8_t)sym;
	}
}

static void zst_seq_build(struct zst_seq *t, unsigned kind, const int16_t *norm, unsigned nsym, unsigned log)
{
	struct zst_fse f[512];
	uint32_t u, base[53];
	uint8_t xbits[53];
	unsigned s;

	for (s = 0; s < nsym; s++)
		zst_code(kind, s, &base[s], &xbits[s]);
	zst_fse_build(f, norm, nsym, log);
	for (u = 0; u < (1u << log); u++) {
		t[u].next = f[u].base;
		t[u].bits = f[u].bits;
		t[u].base = base[f[u].sym];
		t[u].xbits = xbits[f[u].sym];
	}
}

static struct zst_seq *zst_table(struct zst_state *z, unsigned kind, int predef)
{
	if (kind == ZST_LL)
		return predef ? z->def_ll : z->tab_ll;
	if (kind == ZST_OF)
		return predef ? z->def_of : z->tab_of;
	return predef ? z->def_ml : z->tab_ml;
}

/* Reads one table description of the sequences header; returns bytes used or -1. */
static int zst_seq_table(struct zst_state *z, unsigned kind, unsigned mode, const uint8_t *p, size_t n)
{
	static const unsigned sym_max[3] = { 35, 31, 52 }, log_max[3] = { 9, 8, 9 };
	static const char *const name[3] = { "literal length", "offset", "match length" };
	int16_t norm[53];
	unsigned nsym, log;
	int r;

	switch (mode) {
	case 0:                 /* predefined */
		ZST_COUNT(seq_predef);
		z->predef[kind] = 1;
		z->al[kind] = kind == ZST_OF ? 5 : 6;
		return 0;
	case 1:                 /* RLE: one symbol, zero-bit states */
		ZST_COUNT(seq_rle);
		if (n < 1)
			return err_set("zstd: truncated sequences header");
		if (p[0] > sym_max[kind])
			return err_set("zstd: bad %s code %u", name[kind], p[0]);
		{
			struct zst_seq *t = zst_table(z, kind, 0);
			t->next = 0;
			t->bits = 0;
			zst_code(kind, p[0], &t->base, &t->xbits);
		}
		z->predef[kind] = 0;
		z->al[kind] = 0;
		return 1;
	case 2:
		ZST_COUNT(seq_fse);
		r = zst_ncount(norm, &nsym, &log, log_max[kind], sym_max[kind], p, n);
		if (r < 0)
			return err_set("zstd: corrupt FSE table");
		zst_seq_build(zst_table(z, kind, 0), kind, norm, nsym, log);
		z->predef[kind] = 0;
		z->al[kind] = log;
		return r;
	default:                /* repeat */
		ZST_COUNT(seq_repeat);
		if (!z->seq_ok)
			return err_set("zstd: repeat %s table without a previous one", name[kind]);
		return 0;
	}
}

/* ---- Huffman literals (RFC 8878 4.2) ---- */

/* Weights compressed with FSE: two interleaved states over one stream. */
static int zst_huf_weights_fse(uint8_t *w, unsigned *nw, const uint8_t *src, size_t n)
{
	int16_t norm[256];
	struct zst_fse t[64];
	struct zst_br b;
	unsigned nsym, log, s1, s2, k = 0;
	int h = zst_ncount(norm, &nsym, &log, 6, 255, src, n);

	if (h < 0)
		return err_set("zstd: corrupt FSE table");
	zst_fse_build(t, norm, nsym, log);
	if (zst_br_init(&b, src + h, n - (size_t)h))
		return err_set("zstd: corrupt huffman weights");
	s1 = (unsigned)zst_br_read(&b, log);
	s2 = (unsigned)zst_br_read(&b, log);
	zst_br_reload(&b);
	if (zst_br_overflow(&b))
		return err_set("zstd: corrupt huffman weights (truncated initial states)");
	/* The stream ends when a state update runs past its start: then the
	 * other state still holds one symbol (RFC 8878 4.2.1.2). */
	for (;;) {
		if (k >= 255)
			goto too_many;
		w[k++] = t[s1].sym;
		s1 = t[s1].base + (unsigned)zst_br_read(&b, t[s1].bits);
		zst_br_reload(&b);
		if (k >= 255)
			goto too_many;
		w[k++] = t[s2].sym;
		if (zst_br_overflow(&b))
			break;
		s2 = t[s2].base + (unsigned)zst_br_read(&b, t[s2].bits);
		zst_br_reload(&b);
		if (zst_br_overflow(&b)) {
			if (k >= 255)
				goto too_many;
			w[k++] = t[s1].sym;
			break;
		}
	}
	*nw = k;
	return 0;
too_many:
	return err_set("zstd: corrupt huffman weights (more than 255)");
}

/* Reads a Huffman tree description and builds the decoding table; returns bytes used or -1. */
static int zst_huf_read(struct zst_state *z, const uint8_t *src, size_t n)
{
	uint8_t w[256];
	unsigned nw = 0, i, log, rank[ZST_HUF_LOG_MAX + 2] = { 0 };
	uint32_t sum = 0, rest, start[ZST_HUF_LOG_MAX + 2];
	int used;

	if (n < 1)
		return err_set("zstd: corrupt huffman table");
	if (src[0] < 128) {
		if ((size_t)src[0] + 1 > n)
			return err_set("zstd: corrupt huffman table");
		ZST_COUNT(huf_fse_weights);
		if (zst_huf_weights_fse(w, &nw, src + 1, src[0]))
			return -1;
		used = 1 + src[0];
	} else {
		ZST_COUNT(huf_direct_weights);
		nw = src[0] - 127u;
		used = 1 + (int)(nw + 1) / 2;
		if ((size_t)used > n)
			return err_set("zstd: corrupt huffman table");
		for (i = 0; i < nw; i++)
			w[i] = (uint8_t)(i & 1 ? src[1 + i / 2] & 15 : src[1 + i / 2] >> 4);
	}
	for (i = 0; i < nw; i++) {
		if (w[i] > ZST_HUF_LOG_MAX)
			return err_set("zstd: corrupt huffman table");
		if (w[i])
			sum += 1u << (w[i] - 1);
	}
	if (sum == 0)
		return err_set("zstd: corrupt huffman table");
	log = zst_highbit(sum) + 1;
	if (log > ZST_HUF_LOG_MAX)
		return err_set("zstd: corrupt huffman table (code length %u)", log);
	/* the last symbol's weight completes the sum to a power of two */
	rest = (1u << log) - sum;
	if (rest & (rest - 1))
		return err_set("zstd: corrupt huffman table");
	w[nw++] = (uint8_t)(zst_highbit(rest) + 1);
	for (i = 0; i < nw; i++)
		rank[w[i]]++;
	if (rank[1] == 0)
		return err_set("zstd: corrupt huffman table");
	/* codes go to weights in increasing order, symbols in natural order */
	start[1] = 0;
	for (i = 1; i <= log; i++)
		start[i + 1] = start[i] + (rank[i] << (i - 1));
	for (i = 0; i < nw; i++) {
		if (w[i]) {
			uint32_t len = 1u << (w[i] - 1), j, at = start[w[i]];
			uint16_t e = (uint16_t)(i << 8 | (log + 1 - w[i]));
			for (j = 0; j < len; j++)
				z->huf[at + j] = e;
			start[w[i]] = at + len;
		}
	}
	z->huf_log = log;
	z->huf_ok = 1;
	return used;
}

#define ZST_HUF_DEC(c, used, o) do { \
		uint16_t e_ = t[(c << used) >> sh]; \
		*o++ = (uint8_t)(e_ >> 8); \
		used += e_ & 0xff; \
	} while (0)

/* Decodes one Huffman stream exactly into [o, oe); -1: bad stream, -2:
 * not exactly consumed (RFC 8878 4.2.2 requires it; libzstd's fast
 * decoders only check the output length) */
ZST_HOT static int zst_huf_stream(const uint16_t *t, unsigned log, uint8_t *o, uint8_t *oe, const uint8_t *src, size_t n)
{
	struct zst_br b;
	unsigned sh = 64 - log;

	if (zst_br_init(&b, src, n))
		return -1;
	{
		uint64_t c = b.c;
		unsigned used = b.used;
		const uint8_t *p = b.p, *start = b.start;
		/* each reload leaves >= 57 bits: 4 codes of <= 12 bits */
		while (oe - o >= 4 && p - start >= 8) {
			ZST_HUF_DEC(c, used, o);
			ZST_HUF_DEC(c, used, o);
			ZST_HUF_DEC(c, used, o);
			ZST_HUF_DEC(c, used, o);
			p -= used >> 3;
			used &= 7;
			c = zst_le64(p);
		}
		b.c = c, b.used = used, b.p = p;
	}
	while (o < oe) {
		zst_br_reload(&b);
		if (b.used > 63)
			return -2;
		{
			uint16_t e = t[(b.c << b.used) >> sh];
			*o++ = (uint8_t)(e >> 8);
			b.used += e & 0xff;
		}
	}
	zst_br_reload(&b);
	return zst_br_done(&b) ? 0 : -2;
}

/* Four streams decoded together: independent dependency chains keep the
 * CPU busy.  -1: bad jump table, -2 - i: stream i not exactly consumed,
 * -10 - i: stream i empty or without its end mark */
ZST_HOT static int zst_huf_4streams(const uint16_t *t, unsigned log, uint8_t *o, size_t regen, const uint8_t *src, size_t n)
{
	size_t seg = (regen + 3) / 4, l1, l2, l3;
	const uint8_t *s1, *s2, *s3, *s4, *end = src + n;
	uint8_t *o1 = o, *o2 = o + seg, *o3 = o + 2 * seg, *o4 = o + 3 * seg, *oe = o + regen;
	struct zst_br b1, b2, b3, b4;
	unsigned sh = 64 - log;

	if (n < 10 || 3 * seg > regen)
		return -1;
	l1 = (size_t)src[0] | (size_t)src[1] << 8;
	l2 = (size_t)src[2] | (size_t)src[3] << 8;
	l3 = (size_t)src[4] | (size_t)src[5] << 8;
	if (6 + l1 + l2 + l3 >= n)
		return -1;
	s1 = src + 6;
	s2 = s1 + l1;
	s3 = s2 + l2;
	s4 = s3 + l3;
	if (zst_br_init(&b1, s1, l1))
		return -10;
	if (zst_br_init(&b2, s2, l2))
		return -11;
	if (zst_br_init(&b3, s3, l3))
		return -12;
	if (zst_br_init(&b4, s4, (size_t)(end - s4)))
		return -13;
	{
		uint64_t c1 = b1.c, c2 = b2.c, c3 = b3.c, c4 = b4.c;
		unsigned u1 = b1.used, u2 = b2.used, u3 = b3.used, u4 = b4.used;
		const uint8_t *p1 = b1.p, *p2 = b2.p, *p3 = b3.p, *p4 = b4.p;
		/* o4's segment is the shortest; o1..o3 advance in step */
		while (oe - o4 >= 4 && p1 - s1 >= 8 && p2 - s2 >= 8 && p3 - s3 >= 8 && p4 - s4 >= 8) {
			ZST_HUF_DEC(c1, u1, o1);
			ZST_HUF_DEC(c2, u2, o2);
			ZST_HUF_DEC(c3, u3, o3);
			ZST_HUF_DEC(c4, u4, o4);
			ZST_HUF_DEC(c1, u1, o1);
			ZST_HUF_DEC(c2, u2, o2);
			ZST_HUF_DEC(c3, u3, o3);
			ZST_HUF_DEC(c4, u4, o4);
			ZST_HUF_DEC(c1, u1, o1);
			ZST_HUF_DEC(c2, u2, o2);
			ZST_HUF_DEC(c3, u3, o3);
			ZST_HUF_DEC(c4, u4, o4);
			ZST_HUF_DEC(c1, u1, o1);
			ZST_HUF_DEC(c2, u2, o2);
			ZST_HUF_DEC(c3, u3, o3);
			ZST_HUF_DEC(c4, u4, o4);
			p1 -= u1 >> 3, u1 &= 7, c1 = zst_le64(p1);
			p2 -= u2 >> 3, u2 &= 7, c2 = zst_le64(p2);
			p3 -= u3 >> 3, u3 &= 7, c3 = zst_le64(p3);
			p4 -= u4 >> 3, u4 &= 7, c4 = zst_le64(p4);
		}
		b1.c = c1, b1.used = u1, b1.p = p1;
		b2.c = c2, b2.used = u2, b2.p = p2;
		b3.c = c3, b3.used = u3, b3.p = p3;
		b4.c = c4, b4.used = u4, b4.p = p4;
	}
	{
		struct zst_br *bs[4] = { &b1, &b2, &b3, &b4 };
		uint8_t *os[4] = { o1, o2, o3, o4 }, *oes[4] = { o + seg, o + 2 * seg, o + 3 * seg, oe };
		int i;
		for (i = 0; i < 4; i++) {
			struct zst_br *b = bs[i];
			uint8_t *q = os[i];
			while (q < oes[i]) {
				zst_br_reload(b);
				if (b->used > 63)
					return -2 - i;
				{
					uint16_t e = t[(b->c << b->used) >> sh];
					*q++ = (uint8_t)(e >> 8);
					b->used += e & 0xff;
				}
			}
			zst_br_reload(b);
			if (!zst_br_done(b))
				return -2 - i;
		}
	}
	return 0;
}

/* Decodes the literals section; returns its size in bytes or -1. */
static int zst_literals(struct zst_state *z, const uint8_t *src, size_t n, const uint8_t **lit, size_t *litn)
{
	unsigned type, sf;
	size_t hs, regen, csize;

	if (n < 1)
		return err_set("zstd: truncated literals section");
	type = src[0] & 3;
	sf = (src[0] >> 2) & 3;
	if (type < 2) {
		hs = sf == 1 ? 2 : sf == 3 ? 3 : 1;
		if (hs > n)
			return err_set("zstd: truncated literals section");
		regen = hs == 1 ? (size_t)src[0] >> 3 : hs == 2 ? ((size_t)src[0] >> 4) + ((size_t)src[1] << 4) :
			((size_t)src[0] >> 4) + ((size_t)src[1] << 4) + ((size_t)src[2] << 12);
		if (regen > z->block_max)
			return err_set("zstd: literals size %zu exceeds the block size", regen);
		if (type == 0) {
			if (hs + regen > n)
				return err_set("zstd: truncated literals section");
			/* sequence execution reads up to 16 bytes past a literal run */
			ZST_COUNT(lit_raw);
			if (hs + regen + ZST_WILD <= n) {
				*lit = src + hs;
			} else {
				memcpy(z->lit, src + hs, regen);
				*lit = z->lit;
			}
			*litn = regen;
			return (int)(hs + regen);
		}
		if (hs + 1 > n)
			return err_set("zstd: truncated literals section");
		ZST_COUNT(lit_rle);
		memset(z->lit, src[hs], regen);
		*lit = z->lit;
		*litn = regen;
		return (int)hs + 1;
	}
	hs = sf < 2 ? 3 : sf == 2 ? 4 : 5;
	if (hs > n)
		return err_set("zstd: truncated literals section");
	{
		uint64_t h = 0;
		unsigned i, bits = sf < 2 ? 10 : sf == 2 ? 14 : 18;
		for (i = 0; i < hs; i++)
			h |= (uint64_t)src[i] << (8 * i);
		regen = (size_t)(h >> 4) & ((1u << bits) - 1);
		csize = (size_t)(h >> (4 + bits)) & ((1u << bits) - 1);
	}
	if (regen > z->block_max)
		return err_set("zstd: literals size %zu exceeds the block size", regen);
	if (hs + csize > n)
		return err_set("zstd: truncated literals section");
	{
		const uint8_t *p = src + hs;
		size_t left = csize;
		int r;
		if (type == 2) {
			r = zst_huf_read(z, p, left);
			if (r < 0)
				return -1;
			p += r;
			left -= (size_t)r;
		} else if (!z->huf_ok) {
			return err_set("zstd: treeless literals without a previous huffman table");
		} else {
			ZST_COUNT(lit_treeless);
		}
		if (sf == 0)
			ZST_COUNT(lit_huf1);
		else
			ZST_COUNT(lit_huf4);
		if (sf == 0)
			r = zst_huf_stream(z->huf, z->huf_log, z->lit, z->lit + regen, p, left);
		else if (regen < 6)
			return err_set("zstd: corrupt literals section (4 streams for %zu literals)", regen);
		else
			r = zst_huf_4streams(z->huf, z->huf_log, z->lit, regen, p, left);
		if (r == -1)
			return err_set("zstd: corrupt huffman stream");
		if (r <= -10)
			return err_set("zstd: corrupt huffman stream %d of 4 (no end mark)", -9 - r);
		if (r < 0)
			return err_set("zstd: corrupt huffman stream %d of %d (not exactly consumed)",
				-1 - r, sf == 0 ? 1 : 4);
	}
	*lit = z->lit;
	*litn = regen;
	return (int)(hs + csize);
}

/* ---- sequence execution (RFC 8878 3.1.1.4) ---- */

/* x - d(off) has the same bytes as x once 8 bytes of a period-off run exist */
static const uint8_t zst_spread[8] = { 0, 8, 8, 9, 8, 10, 12, 14 };

/* Copies ml bytes from off bytes back (they may overlap), in chunks that
 * write up to 15 bytes past the end. */
ZST_INLINE void zst_match_copy(uint8_t *d, size_t off, size_t ml)
{
	const uint8_t *m = d - off;
	uint8_t *e = d + ml;

	if (off >= 16) {
		do {
			zst_copy16(d, m);
			d += 16, m += 16;
		} while (d < e);
		return;
	}
	if (off < 8) {
		d[0] = m[0], d[1] = m[1], d[2] = m[2], d[3] = m[3];
		d[4] = m[4], d[5] = m[5], d[6] = m[6], d[7] = m[7];
		d += 8;
		m = d - zst_spread[off];
	}
	while (d < e) {
		zst_copy8(d, m);
		d += 8, m += 8;
	}
}

/* Copies a match that starts before the current segment: its start lies
 * in the previous segment [.., old_end), possibly running on into ours. */
ZST_HOT static int zst_match_far(struct zst_state *z, uint8_t *op, size_t off, size_t ml)
{
	char b1[24];
	size_t hist = (size_t)(op - z->win), n1;
	const uint8_t *m;

	if (off > z->window)
		return err_set("zstd: match offset %zu exceeds the window size %s", off, zst_size_str(b1, z->window));
	if (off > hist && !z->old_end)  /* not wrapped yet: hist is all the frame has */
		return err_set("zstd: match offset %zu reaches before the start of the frame (%zu bytes decoded)",
			off, hist);
	if (off <= hist) {
		/* can't happen: callers send only far matches */
		return err_set("zstd: internal error in match copy");
	}
	ZST_COUNT(match_far);
	m = z->win + z->old_end - (off - hist);
	n1 = off - hist;        /* bytes until old_end */
	/* m is more than ZST_WILD bytes ahead of op (see zst_room): chunks
	 * never overwrite bytes they have yet to read */
	{
		uint8_t *d = op, *e = op + (n1 < ml ? n1 : ml);
		do {
			zst_copy16(d, m);
			d += 16, m += 16;
		} while (d < e);
	}
	if (n1 < ml)    /* the rest starts at the beginning of our segment */
		zst_match_copy(op + n1, off, ml - n1);
	return 0;
}

ZST_HOT static int zst_sequences(struct zst_state *z, const uint8_t *src, size_t n, uint32_t nseq,
	const uint8_t *lp, size_t litn, uint8_t *op, uint8_t *oend, uint8_t **opp)
{
	const struct zst_seq *tll = zst_table(z, ZST_LL, z->predef[ZST_LL]);
	const struct zst_seq *tof = zst_table(z, ZST_OF, z->predef[ZST_OF]);
	const struct zst_seq *tml = zst_table(z, ZST_ML, z->predef[ZST_ML]);
	const uint8_t *lend = lp + litn;
	uint8_t *const win = z->win;
	size_t const window = z->window;
	uint32_t r0 = z->rep[0], r1 = z->rep[1], r2 = z->rep[2];
	unsigned sll, sof, sml;
	struct zst_br b;

	if (zst_br_init(&b, src, n))
		return err_set("zstd: corrupt sequences bitstream");
	sll = (unsigned)zst_br_read(&b, z->al[ZST_LL]);
	sof = (unsigned)zst_br_read(&b, z->al[ZST_OF]);
	sml = (unsigned)zst_br_read(&b, z->al[ZST_ML]);
	zst_br_reload(&b);

	while (nseq--) {
		struct zst_seq ell = tll[sll], eof = tof[sof], eml = tml[sml];
		uint32_t off, ofv;
		size_t ll, ml;

		/* order of the fields in the stream: offset, match length, literal length */
		ofv = eof.base + (uint32_t)zst_br_read(&b, eof.xbits);
		ml = eml.base + (size_t)zst_br_read(&b, eml.xbits);
		if (eof.xbits + eml.xbits + ell.xbits > 31)
			zst_br_reload(&b);
		ll = ell.base + (size_t)zst_br_read(&b, ell.xbits);
		if (nseq) {     /* no state update after the last sequence */
			sll = ell.next + (unsigned)zst_br_read(&b, ell.bits);
			sml = eml.next + (unsigned)zst_br_read(&b, eml.bits);
			sof = eof.next + (unsigned)zst_br_read(&b, eof.bits);
		}
		zst_br_reload(&b);

		if (ofv > 3) {
			off = ofv - 3;
			r2 = r1, r1 = r0, r0 = off;
		} else {
			/* repeat codes shift by one when the literal length is 0 */
			unsigned k = ofv - 1 + (ell.base == 0);
			ZST_COUNT(rep_code[k]);
			if (k == 0) {
				off = r0;
			} else if (k == 1) {
				off = r1;
				r1 = r0, r0 = off;
			} else {
				off = k == 2 ? r2 : r0 - 1;
				if (off == 0) {
					err_set("zstd: match offset 0");
					goto bad;
				}
				r2 = r1, r1 = r0, r0 = off;
			}
		}

		if (ll > (size_t)(lend - lp)) {
			err_set("zstd: literal length %zu exceeds the %zu literals left", ll, (size_t)(lend - lp));
			goto bad;
		}
		if (ll + ml > (size_t)(oend - op)) {
			err_set("zstd: block decodes to more than %u bytes", z->block_max);
			goto bad;
		}
		zst_copy16(op, lp);
		if (ll > 16) {
			uint8_t *d = op + 16, *e = op + ll;
			const uint8_t *s = lp + 16;
			do {
				zst_copy16(d, s);
				d += 16, s += 16;
			} while (d < e);
		}
		op += ll;
		lp += ll;

		if (off > (size_t)(op - win) || off > window) {
			if (zst_match_far(z, op, off, ml))
				goto bad;
		} else {
			zst_match_copy(op, off, ml);
		}
		op += ml;
	}
	zst_br_reload(&b);
	if (!zst_br_done(&b))
		return err_set("zstd: corrupt sequences bitstream (%s)",
			zst_br_overflow(&b) ? "overrun" : "trailing bits");
	z->rep[0] = r0, z->rep[1] = r1, z->rep[2] = r2;
	{
		size_t left = (size_t)(lend - lp);
		if (left > (size_t)(oend - op))
			return err_set("zstd: block decodes to more than %u bytes", z->block_max);
		memcpy(op, lp, left);
		*opp = op + left;
	}
	return 0;
bad:
	/* values read past the start of the stream are garbage: say so */
	if (zst_br_overflow(&b))
		return err_set("zstd: corrupt sequences bitstream (overrun)");
	return -1;
}

/* Decodes a compressed block into the window at pos; returns its size or -1. */
static int zst_block(struct zst_state *z, const uint8_t *src, size_t n, size_t limit, size_t *outn)
{
	const uint8_t *lit = NULL, *p, *end = src + n;
	size_t litn = 0;
	uint32_t nseq;
	uint8_t *op = z->win + z->pos, *oend = op + limit, *o = op;
	int r = zst_literals(z, src, n, &lit, &litn);

	if (r < 0)
		return -1;
	p = src + r;
	if (p >= end)
		return err_set("zstd: truncated sequences section");
	nseq = *p++;
	if (nseq >= 128) {
		if (nseq == 255) {
			if (end - p < 2)
				return err_set("zstd: truncated sequences section");
			nseq = p[0] + ((uint32_t)p[1] << 8) + 0x7F00;
			p += 2;
		} else {
			if (end - p < 1)
				return err_set("zstd: truncated sequences section");
			nseq = ((nseq - 128) << 8) + *p++;
		}
	}
	if (nseq == 0) {
		ZST_COUNT(no_sequences);
		if (p != end)
			return err_set("zstd: extra bytes after the sequences section");
		if (litn > limit)
			return err_set("zstd: block decodes to more than %u bytes", z->block_max);
		memcpy(op, lit, litn);
		*outn = litn;
		return 0;
	}
	if (p >= end)
		return err_set("zstd: truncated sequences section");
	{
		unsigned modes = *p++, k;
		if (modes & 3)
			return err_set("zstd: reserved bits set in the sequences header");
		for (k = 0; k < 3; k++) {
			/* in the byte: LL mode, OF mode, ML mode, reserved */
			r = zst_seq_table(z, k, (modes >> (6 - 2 * k)) & 3, p, (size_t)(end - p));
			if (r < 0)
				return -1;
			p += r;
		}
	}
	z->seq_ok = 1;
	if (zst_sequences(z, p, (size_t)(end - p), nseq, lit, litn, op, oend, &o))
		return -1;
	*outn = (size_t)(o - op);
	return 0;
}

/* ---- buffer and frame management ---- */

static void zst_init(struct zst_state *z, uint64_t window_max)
{
	memset(z, 0, offsetof(struct zst_state, huf));
	z->window_max = window_max ? window_max : ZST_WINDOW_DEFAULT;
	z->st = ZST_S_MAGIC;
	zst_seq_build(z->def_ll, ZST_LL, zst_ll_def, 36, 6);
	zst_seq_build(z->def_of, ZST_OF, zst_of_def, 29, 5);
	zst_seq_build(z->def_ml, ZST_ML, zst_ml_def, 53, 6);
}

static void zst_free(struct zst_state *z)
{
	if (z->mem_owned)
		free(z->mem);
	z->mem = NULL;
	z->mem_size = 0;
	z->mem_owned = 0;
}

/* Parses the frame header in z->hdr and prepares the buffers. */
static int zst_frame_begin(struct zst_state *z)
{
	char b1[24], b2[24];
	const uint8_t *h = z->hdr;
	unsigned fhd = h[0], ss = fhd >> 5 & 1, didsz = (0x4210u >> (4 * (fhd & 3))) & 15;
	unsigned fcssz = fhd >> 6 == 0 ? ss : 1u << (fhd >> 6), i;
	const uint8_t *q = h + 1;
	uint64_t window = 0, wbuf, b, need;
	uint32_t did = 0;

	if (fhd & 8)
		return err_set("zstd: reserved bit set in the frame header");
	if (!ss) {
		unsigned e = *q >> 3, m = *q & 7;
		window = (uint64_t)1 << (10 + e);
		window += (window >> 3) * m;
		q++;
	}
	for (i = 0; i < didsz; i++)
		did |= (uint32_t)q[i] << (8 * i);
	q += didsz;
	if (did)
		return err_set("zstd: frame needs dictionary %u (dictionaries are not supported)", did);
	z->has_fcs = fcssz != 0;
	z->fcs = 0;
	for (i = 0; i < fcssz; i++)
		z->fcs |= (uint64_t)q[i] << (8 * i);
	if (fcssz == 2)
		z->fcs += 256;
	if (ss)
		window = z->fcs;
	b = window < ZST_BLOCK_MAX ? window : ZST_BLOCK_MAX;
	z->block_max = (uint32_t)b;
	/* A frame no larger than its window needs only its content size: the
	 * limit applies to that, the memory actually used. */
	if (z->has_fcs && z->fcs <= window) {
		if (z->fcs > z->window_max)
			return err_set("zstd: frame content size %s exceeds the window limit %s",
				zst_size_str(b1, z->fcs), zst_size_str(b2, z->window_max));
		window = z->fcs;
		wbuf = window + ZST_WILD;       /* never wraps */
	} else {
		if (window > z->window_max)
			return err_set("zstd: window size %s exceeds the limit %s",
				zst_size_str(b1, window), zst_size_str(b2, z->window_max));
		wbuf = window + b + 2 * ZST_WILD;
	}
	need = wbuf + 2 * b + ZST_WILD;
	if (need > (size_t)-1)
		return err_set("zstd: window size %s too large for this system", zst_size_str(b1, window));
	if (need > z->mem_size) {
		if (z->mem && !z->mem_owned)
			return err_set("zstd: frame needs a %s byte buffer, %s given",
				zst_size_str(b1, need), zst_size_str(b2, z->mem_size));
		free(z->mem);
		z->mem = NULL;
		z->mem_size = 0;
		z->mem = malloc((size_t)need);
		if (!z->mem)
			return err_sys("zstd: cannot allocate %s bytes for the window", zst_size_str(b1, need));
		z->mem_size = (size_t)need;
		z->mem_owned = 1;
	}
	z->win = z->mem;
	z->win_size = (size_t)wbuf;
	z->lit = z->mem + wbuf;
	z->inbuf = z->lit + b + ZST_WILD;
	z->window = (size_t)window;
	z->has_csum = fhd >> 2 & 1;
	z->pos = z->old_end = 0;
	z->frame_out = 0;
	z->rep[0] = 1, z->rep[1] = 4, z->rep[2] = 8;
	z->huf_ok = z->seq_ok = 0;
	zst_xxh_init(&z->xxh);
	return 0;
}

/* Accumulates header bytes; returns 1 once z->hdr holds n bytes. */
static int zst_gather(struct zst_state *z, const uint8_t **ip, const uint8_t *iend, unsigned n)
{
	size_t k = z->hlen < n ? n - z->hlen : 0;
	if (k > (size_t)(iend - *ip))
		k = (size_t)(iend - *ip);
	memcpy(z->hdr + z->hlen, *ip, k);
	*ip += k;
	z->hlen += (unsigned)k;
	return z->hlen >= n;
}

/* Reserves room for a block of at most limit bytes at pos, wrapping to
 * the start of the buffer when the end is near.  The wrap leaves more than
 * window + ZST_WILD bytes of history in the old segment, so no offset
 * within the window reaches bytes that copies overshooting by < 16 touch. */
static void zst_room(struct zst_state *z, size_t limit)
{
	if (z->pos + limit + ZST_WILD > z->win_size) {
		ZST_COUNT(wrap);
		z->old_end = z->pos;
		z->pos = 0;
	}
}

static size_t zst_block_limit(const struct zst_state *z)
{
	uint64_t left = z->fcs - z->frame_out;
	if (z->has_fcs && left < z->block_max)
		return (size_t)left;
	return z->block_max;
}

static void zst_emit(struct zst_state *z, size_t n, const uint8_t **out, size_t *outn)
{
	uint8_t *o = z->win + z->pos;
	if (z->has_csum && !z->nocheck)
		zst_xxh_update(&z->xxh, o, n);
	z->pos += n;
	z->frame_out += n;
	*out = o;
	*outn = n;
}

static int zst_block_end(struct zst_state *z)
{
	char b1[24], b2[24];

	z->hlen = 0;
	if (!z->last) {
		z->st = ZST_S_BHDR;
		return 0;
	}
	if (z->has_fcs && z->frame_out != z->fcs)
		return err_set("zstd: frame content size mismatch (header says %s, decoded %s)",
			zst_size_str(b1, z->fcs), zst_size_str(b2, z->frame_out));
	z->st = z->has_csum ? ZST_S_CSUM : ZST_S_MAGIC;
	return 0;
}

static int zst_decode(struct zst_state *z, const uint8_t *in, size_t n, size_t *used,
	const uint8_t **out, size_t *outn, int end)
{
	static const uint8_t none[1];
	const uint8_t *ip, *iend;
	int r = ZST_MORE;

	if (!in)
		in = none, n = 0;       /* (NULL, 0, end) is a fine way to say "no more" */
	ip = in;
	iend = in + n;

	*out = NULL;
	*outn = 0;
	for (;;) {
		switch (z->st) {
		case ZST_S_MAGIC:
			if (!zst_gather(z, &ip, iend, 4))
				goto starved;
			{
				uint32_t magic = zst_le32(z->hdr);
				z->hlen = 0;
				z->seen_frame = 1;
				if (magic == ZST_MAGIC) {
					z->st = ZST_S_FHD;
				} else if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
					ZST_COUNT(skippable);
					z->st = ZST_S_SKIPHDR;
				} else {
					r = err_set("zstd: bad magic number 0x%08x (not zstd data)", magic);
					goto fail;
				}
			}
			break;
		case ZST_S_SKIPHDR:
			if (!zst_gather(z, &ip, iend, 4))
				goto starved;
			z->skip = zst_le32(z->hdr);
			z->hlen = 0;
			z->st = ZST_S_SKIP;
			break;
		case ZST_S_SKIP:
			{
				size_t k = (size_t)(iend - ip);
				if (k > z->skip)
					k = (size_t)z->skip;
				ip += k;
				z->skip -= k;
				if (z->skip)
					goto starved;
				z->st = ZST_S_MAGIC;
			}
			break;
		case ZST_S_FHD:
			if (!zst_gather(z, &ip, iend, 1))
				goto starved;
			{
				unsigned fhd = z->hdr[0], ss = fhd >> 5 & 1;
				unsigned size = 1 + !ss + ((0x4210u >> (4 * (fhd & 3))) & 15) +
					(fhd >> 6 == 0 ? ss : 1u << (fhd >> 6));
				if (!zst_gather(z, &ip, iend, size))
					goto starved;
			}
			if (zst_frame_begin(z)) {
				r = -1;
				goto fail;
			}
			z->hlen = 0;
			z->st = ZST_S_BHDR;
			break;
		case ZST_S_BHDR:
			if (!zst_gather(z, &ip, iend, 3))
				goto starved;
			{
				uint32_t bh = z->hdr[0] | (uint32_t)z->hdr[1] << 8 | (uint32_t)z->hdr[2] << 16;
				unsigned type = bh >> 1 & 3;
				z->last = bh & 1;
				z->bsize = bh >> 3;
				z->hlen = 0;
				z->ilen = 0;
				if (type == 3) {
					r = err_set("zstd: reserved block type");
					goto fail;
				}
				if (z->bsize > z->block_max) {
					r = err_set("zstd: block size %u exceeds the maximum %u", z->bsize, z->block_max);
					goto fail;
				}
				if (type < 2 && z->bsize > zst_block_limit(z)) {
					char b1[24];
					r = err_set("zstd: frame content size mismatch (header says %s, more data follows)",
						zst_size_str(b1, z->fcs));
					goto fail;
				}
				if (type == 0) {
					ZST_COUNT(block_raw);
					zst_room(z, z->bsize);
					z->remain = z->bsize;
					z->st = ZST_S_RAW;
				} else if (type == 1) {
					ZST_COUNT(block_rle);
					zst_room(z, z->bsize);
					z->st = ZST_S_RLE;
				} else {
					ZST_COUNT(block_compressed);
					if (z->bsize == 0) {    /* not even a literals header */
						r = err_set("zstd: empty compressed block");
						goto fail;
					}
					z->st = ZST_S_CBLOCK;
				}
			}
			break;
		case ZST_S_RAW:
			if (z->remain) {
				size_t k = (size_t)(iend - ip);
				if (k == 0)
					goto starved;
				if (k > z->remain)
					k = z->remain;
				memcpy(z->win + z->pos, ip, k);
				ip += k;
				z->remain -= (uint32_t)k;
				zst_emit(z, k, out, outn);
				if (!z->remain && zst_block_end(z)) {
					r = -1;
					goto fail;
				}
				r = ZST_OUT;
				goto done;
			}
			if (zst_block_end(z)) {
				r = -1;
				goto fail;
			}
			break;
		case ZST_S_RLE:
			if (!zst_gather(z, &ip, iend, 1))
				goto starved;
			memset(z->win + z->pos, z->hdr[0], z->bsize);
			zst_emit(z, z->bsize, out, outn);
			if (zst_block_end(z)) {
				r = -1;
				goto fail;
			}
			if (*outn) {
				r = ZST_OUT;
				goto done;
			}
			break;
		case ZST_S_CBLOCK:
			{
				const uint8_t *src;
				size_t limit = zst_block_limit(z), got = 0;
				if (z->ilen == 0 && (size_t)(iend - ip) >= z->bsize) {
					ZST_COUNT(block_direct);
					src = ip;
					ip += z->bsize;
				} else {
					size_t k = z->bsize - z->ilen;
					if (k > (size_t)(iend - ip))
						k = (size_t)(iend - ip);
					memcpy(z->inbuf + z->ilen, ip, k);
					ip += k;
					z->ilen += k;
					if (z->ilen < z->bsize)
						goto starved;
					ZST_COUNT(block_staged);
					src = z->inbuf;
				}
				zst_room(z, limit);
				if (zst_block(z, src, z->bsize, limit, &got)) {
					r = -1;
					goto fail;
				}
				zst_emit(z, got, out, outn);
				if (zst_block_end(z)) {
					r = -1;
					goto fail;
				}
				if (got) {
					r = ZST_OUT;
					goto done;
				}
			}
			break;
		case ZST_S_CSUM:
			if (!zst_gather(z, &ip, iend, 4))
				goto starved;
			{
				uint32_t want = zst_le32(z->hdr), got = (uint32_t)zst_xxh_digest(&z->xxh);
				ZST_COUNT(checksum);
				if (want != got && !z->nocheck) {
					r = err_set("zstd: checksum mismatch (frame says %08x, data gives %08x)", want, got);
					goto fail;
				}
			}
			z->hlen = 0;
			z->st = ZST_S_MAGIC;
			break;
		default:
			r = err_set("zstd: decoder used after an error");
			goto done;
		}
	}
starved:
	if (!end) {
		r = ZST_MORE;
	} else if (z->st == ZST_S_MAGIC && z->hlen == 0 && z->seen_frame) {
		r = ZST_END;
	} else if (z->st == ZST_S_MAGIC && z->hlen == 0) {
		r = err_set("zstd: empty input");
		goto fail;
	} else {
		r = err_set("zstd: truncated input");
		goto fail;
	}
	goto done;
fail:
	z->st = ZST_S_FAIL;
	*out = NULL;            /* an error never comes with data */
	*outn = 0;
done:
	*used = (size_t)(ip - in);
	return r;
}

/* ============================================================= tar === */

/* tar archives as OCI image layers: a streaming extractor that cannot be
 * made to write outside its directory, and a deterministic writer.
 *
 * Extraction (push-style; the caller owns struct tar_x, ~13 KB):
 *	tar_x_init(x, dirfd, flags)   dirfd: the layer's root, kept open by
 *	                              the caller; flags TAR_OVERLAY|TAR_APPLY|
 *	                              TAR_NO_DEVICES|TAR_OWNERS
 *	x->max_* = ...;               optional: limits, after init
 *	tar_x_feed(x, p, n)           any chunking; -1 on error (sticky)
 *	tar_x_end(x)                  checks the end of the archive, then sets
 *	                              the deferred directory modes and times
 *	tar_x_free(x)                 always; closes and frees
 * TAR_OVERLAY: ".wh.NAME" becomes a 0/0 char device, ".wh..wh..opq" the
 * trusted.overlay.opaque xattr (layers as overlay lowerdirs). TAR_APPLY:
 * they remove what earlier layers left in dirfd, never what this layer
 * made (flattening). Neither: a plain tar. TAR_OWNERS: chown to the
 * archive's ids. TAR_NO_DEVICES: refuse device nodes.
 * Formats: ustar, pax ('x'; 'g' for uid, gid, mtime), GNU 'L'/'K' long
 * names and base-256 numbers, old v7 headers (files, links, directories).
 * Sparse ('S', GNU.sparse.*), multi-volume ('M') and unknown types are
 * refused; 'V' labels are skipped.
 *
 * Safety: every path is resolved inside dirfd as if it were "/" (openat2
 * RESOLVE_IN_ROOT, or path_walk). Leading "/" is stripped; ".." refused.
 * Symlinks already in the tree are followed for the directories of a path,
 * but stay inside dirfd ("a -> /etc", "a/passwd" writes dirfd/etc/passwd);
 * the last component is never followed (O_EXCL/O_NOFOLLOW, *at without
 * follow flags). Hardlink targets must already exist inside dirfd and not
 * be directories; linkat never follows the target (a link to a symlink
 * links the symlink). What is at a path is replaced by a later entry
 * there; a directory replacing a directory keeps its contents.
 *
 * Memory: the struct, the pending pax payload (at most max_pax, default
 * 1 MiB, allocated when its header arrives), one record per directory for
 * the deferred modes and times (~30 bytes + path; at most max_dirmem,
 * default 8 MiB) and, with TAR_APPLY, 8-32 bytes per entry for the set of
 * inodes this layer made (max_entries bounds it: 32 MiB at the default
 * 1M; lower it on small devices). Removing a tree holds one DIR per level,
 * at most TAR_RM_DEPTH levels.
 *
 * Writing: tar_write(dirfd, &opts) walks dirfd (never following symlinks,
 * entries sorted by name) and hands the archive to opts.out; see below.
 */

#ifndef TAR_MAX_ENTRIES
#define TAR_MAX_ENTRIES 1000000u           /* headers in one archive */
#endif
#ifndef TAR_MAX_PAX
#define TAR_MAX_PAX (1u << 20)              /* one pax header's payload */
#endif
#ifndef TAR_MAX_FILE
#define TAR_MAX_FILE ((uint64_t)1 << 40)    /* one regular file */
#endif
#ifndef TAR_MAX_DIRMEM
#define TAR_MAX_DIRMEM ((size_t)8 << 20)    /* deferred directory records */
#endif
#ifndef TAR_RM_DEPTH
#define TAR_RM_DEPTH 256                    /* levels a removal descends */
#endif

#define TAR_OVERLAY    1u  /* whiteouts become overlayfs whiteouts/opaque */
#define TAR_APPLY      2u  /* whiteouts remove from what dirfd holds */
#define TAR_NO_DEVICES 4u  /* refuse char and block devices */
#define TAR_OWNERS     8u  /* apply uid/gid (needs CAP_CHOWN) */

#define TAR_WH ".wh."
#define TAR_WH_OPQ ".wh..wh..opq"
#define TAR_OPAQUE_XATTR "trusted.overlay.opaque"

enum { TAR_S_HDR, TAR_S_ZERO, TAR_S_END, TAR_S_FAIL };
enum { TAR_TO_SKIP, TAR_TO_FILE, TAR_TO_META };

/* what came before an entry's own header */
#define TAR_P_NAME 1u   /* 'L' */
#define TAR_P_LINK 2u   /* 'K' */
#define TAR_P_PAX  4u   /* 'x' */

/* pax keys a 'g' header set */
#define TAR_G_UID 1u
#define TAR_G_GID 2u
#define TAR_G_MTIME 4u

struct tar_x {
	/* limits, set by tar_x_init, may be changed before the first feed */
	uint64_t max_file, max_total;
	uint32_t max_entries, max_pax;
	size_t max_dirmem;

	int root;
	unsigned flags;
	int state;
	unsigned char blk[512];
	size_t have;              /* bytes of blk filled */
	uint64_t off;             /* of the stream, for messages */
	uint64_t hdr_off;         /* of the last header */
	uint64_t left;            /* data bytes of the entry still to come */
	uint32_t pad;             /* and then this many padding bytes */
	int sink;                 /* where data goes: TAR_TO_* */
	int fd;                   /* the regular file being written */
	char *meta;               /* TAR_TO_META: where, how much so far */
	size_t meta_len;
	char meta_type;

	/* the entry */
	unsigned pending;         /* TAR_P_* */
	char type;
	int hdr_only;             /* the type has no data, whatever size says */
	int nxattr;               /* xattrs to set, from the pax header */
	uint32_t mode, uid, gid, dev_major, dev_minor;
	int64_t mtime;
	long nsec;
	uint64_t size;
	char path[PATH_MAX], link[PATH_MAX];

	char *pax;                /* the pending 'x' payload (or a 'g' one) */
	size_t pax_len, pax_cap;
	unsigned g_set;           /* TAR_G_*: defaults from 'g' headers */
	uint32_t g_uid, g_gid;
	int64_t g_mtime;
	long g_nsec;

	int cache_fd;             /* O_PATH on directory cache_path, or -1 */
	int cache_stale;          /* something was removed: drop the cache */
	char cache_path[PATH_MAX];

	uint64_t entries, total;
	char *dirs;               /* struct tar_dirrec, back to back */
	size_t dirs_len, dirs_cap, ndirs;
	uint64_t *inos;           /* TAR_APPLY: open-addressed set, 0 = free */
	size_t nino, ino_cap;
};

/* Directory modes, owners and times are set at the end, once nothing
 * more is created in them (and after their children, so that a 0555
 * directory does not stop an unprivileged extraction). */
struct tar_dirrec {
	int64_t mtime;
	uint32_t nsec, mode, uid, gid, len;
	char path[];
};

/* Names in messages: printable, bounded, never a terminal escape. */
static const char *tar_quote(char *buf, size_t n, const char *s)
{
	size_t i = 0;

	for (; *s && i + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			i += (size_t)strf(buf + i, n - i, "\\x%02x", c);
		else
			buf[i++] = (char)c;
	}
	if (*s) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

/* Fails the extraction with a message naming the entry; errnum 0 for
 * none. Returns -1. */
__attribute__((format(printf, 3, 4)))
static int tar_fail(struct tar_x *x, int errnum, const char *fmt, ...)
{
	char what[512], name[240];
	va_list ap;

	va_start(ap, fmt);
	vstrf(what, sizeof what, fmt, ap);
	va_end(ap);
	x->state = TAR_S_FAIL;
	if (*x->path) {
		char q[200];

		strf(name, sizeof name, "entry \"%s\"", tar_quote(q, sizeof q, x->path));
	} else { /* a 'g' header, or the root */
		strf(name, sizeof name, "header at offset %llu",
		    (unsigned long long)x->hdr_off);
	}
	if (errnum) {
		errno = errnum;
		return err_sys("tar: %s: %s", name, what);
	}
	return err_set("tar: %s: %s", name, what);
}

/* For errors before an entry has a name: the stream offset instead. */
__attribute__((format(printf, 2, 3)))
static int tar_bad(struct tar_x *x, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vstrf(what, sizeof what, fmt, ap);
	va_end(ap);
	x->state = TAR_S_FAIL;
	return err_set("tar: header at offset %llu: %s",
	    (unsigned long long)x->hdr_off, what);
}

/* The directory of the entry could not be opened (or made). */
static int tar_fail_dir(struct tar_x *x)
{
	switch (errno) {
	case ENOENT: /* path_mkpath made what was missing: a dangling symlink */
		return tar_fail(x, 0, "a symlink on its path leads to nothing "
		    "inside the layer");
	case ENOTDIR:
		return tar_fail(x, 0, "a non-directory on its path");
	case ELOOP:
		return tar_fail(x, 0, "too many symlinks on its path");
	}
	return tar_fail(x, errno, "open its directory");
}

/* ---- numbers ---- */

/* An octal field (leading spaces, then digits, then NUL or space) or a
 * GNU base-256 one (top bit of the first byte set; bit 6 gives the sign).
 * Empty is 0. Returns -1 when malformed or out of int64_t. */
static int tar_num(const unsigned char *f, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (n && (f[0] & 0x80)) {
		unsigned char inv = (f[0] & 0x40) ? 0xff : 0;

		for (i = 0; i < n; i++) {
			unsigned char c = f[i] ^ inv;

			if (i == 0)
				c &= 0x7f;
			if (v >> 55)
				return -1;
			v = v << 8 | c;
		}
		if (v >> 63)
			return -1;
		*out = inv ? ~(int64_t)v : (int64_t)v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != 0)
			return -1;
	*out = (int64_t)v;
	return 0;
}

/* A pax decimal: digits only, no sign. */
static int tar_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!n || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* A pax time: [-]seconds[.fraction]; the fraction is read as nanoseconds
 * without floating point, digits past the ninth ignored. */
static int tar_time(const char *s, size_t n, int64_t *sec, long *nsec)
{
	size_t i = 0, w;
	uint64_t v;
	long ns = 0;
	int neg = 0, digits = 0;

	if (n && s[0] == '-')
		neg = 1, i = 1;
	for (w = i; w < n && s[w] != '.'; w++)
		;
	if (tar_dec(s + i, w - i, (uint64_t)INT64_MAX, &v) < 0)
		return -1;
	if (w < n) {
		for (i = w + 1; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			if (digits < 9) {
				ns = ns * 10 + (s[i] - '0');
				digits++;
			}
		}
		for (; digits < 9; digits++)
			ns *= 10;
	}
	*sec = (int64_t)v;
	*nsec = ns;
	if (neg) {
		*sec = -*sec;
		if (ns) {
			*sec -= 1;
			*nsec = 1000000000L - ns;
		}
	}
	return 0;
}

/* ---- pax records: "LEN KEY=VALUE\n", LEN counting the whole record ---- */

struct tar_rec {
	const char *key, *val;
	size_t klen, vlen;
};

/* The record at *pos of buf; advances *pos. 1: a record, 0: the end,
 * -1: malformed. */
static int tar_rec_next(const char *buf, size_t len, size_t *pos,
    struct tar_rec *r)
{
	const char *p = buf + *pos, *eq, *sp;
	size_t left = len - *pos, i;
	uint64_t n = 0;

	if (!left)
		return 0;
	for (i = 0; i < left && i < 12 && p[i] >= '0' && p[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(p[i] - '0');
	if (!i || i >= left || p[i] != ' ' || n > left || n < i + 4 ||
	    p[n - 1] != '\n')
		return -1;
	sp = p + i;
	eq = memchr(sp + 1, '=', (size_t)(p + n - 1 - (sp + 1)));
	if (!eq || eq == sp + 1)
		return -1;
	r->key = sp + 1;
	r->klen = (size_t)(eq - r->key);
	r->val = eq + 1;
	r->vlen = (size_t)(p + n - 1 - r->val);
	*pos += (size_t)n;
	return 1;
}

static int tar_key(const struct tar_rec *r, const char *k)
{
	return r->klen == strlen(k) && !memcmp(r->key, k, r->klen);
}

#define TAR_XATTR_KEY "SCHILY.xattr."

/* Which xattrs an image may carry: 1 set it, 0 leave it out, -1 refuse
 * the entry. user.* and security.capability are what images use.
 * trusted.overlay.* and user.overlay.* (overlayfs with userxattr) would
 * forge overlay whiteouts, opaque dirs and redirects in a lower layer.
 * Other security.* (SELinux, SMACK, IMA labels) belong to the host, and
 * system.* ACLs and other trusted.* are left out too. */
static int tar_xattr_policy(const char *name)
{
	if (!strncmp(name, "trusted.overlay.", 16) ||
	    !strncmp(name, "user.overlay.", 13))
		return -1;
	if (!strncmp(name, "user.", 5) || !strcmp(name, "security.capability"))
		return 1;
	return 0;
}

/* ---- paths ---- */

/* Makes s (in place) relative and clean: no leading "/", no "." or empty
 * components. ".." is refused rather than contained: no image builder
 * writes it, so an entry that has it was made to attack. Sets *dir when
 * s ends in "/". Returns -1 with a reason in *why. */
static int tar_clean(char *s, int *dir, const char **why)
{
	char *r = s, *w = s;
	size_t n = strlen(s);

	*dir = n && s[n - 1] == '/';
	while (*r) {
		while (*r == '/')
			r++;
		n = strcspn(r, "/");
		if (!n)
			break;
		if (n == 2 && r[0] == '.' && r[1] == '.') {
			*why = "the path has a \"..\" component";
			return -1;
		}
		if (n > NAME_MAX) {
			*why = "a path component is longer than 255 bytes";
			return -1;
		}
		if (!(n == 1 && r[0] == '.')) {
			if (w != s)
				*w++ = '/';
			memmove(w, r, n);
			w += n;
		}
		r += n;
	}
	*w = 0; /* "" is the root: "/", "./" */
	return 0;
}

/* ---- the parent-directory cache ---- */

static void tar_cache_drop(struct tar_x *x)
{
	if (x->cache_fd >= 0)
		close(x->cache_fd);
	x->cache_fd = -1;
	x->cache_stale = 0;
}

/* An O_PATH descriptor of directory dir ("" is the root) inside x->root,
 * created with missing parents if create. It belongs to the cache:
 * do not close it. Entries come grouped by directory, so most calls are
 * hits. Only a removal can change what a path that resolved resolves to
 * (creating where there was nothing cannot), so removals drop the cache. */
static int tar_dirfd(struct tar_x *x, const char *dir, int create)
{
	int fd;

	if (x->cache_stale)
		tar_cache_drop(x);
	if (!*dir)
		return x->root;
	if (x->cache_fd >= 0 && !strcmp(dir, x->cache_path))
		return x->cache_fd;
	fd = path_resolve(x->root, dir, 0);
	if (fd < 0 && errno == ENOENT && create)
		fd = path_mkpath(x->root, dir, 0, 0);
	if (fd < 0)
		return -1;
	tar_cache_drop(x);
	x->cache_fd = fd;
	strcpy(x->cache_path, dir);
	return fd;
}

/* Splits path into its directory (resolved: *name is the last component)
 * and returns the directory's descriptor, owned by the cache. */
static int tar_parent(struct tar_x *x, char *path, const char **name,
    int create)
{
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*name = path;
		return tar_dirfd(x, "", create);
	}
	*slash = 0;
	fd = tar_dirfd(x, path, create);
	*slash = '/';
	*name = slash + 1;
	return fd;
}

/* ---- TAR_APPLY: the set of inodes this layer made or named ---- */

static size_t tar_ino_slot(uint64_t ino, size_t cap)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static int tar_ino_has(const struct tar_x *x, uint64_t ino)
{
	size_t i;

	if (!x->ino_cap || !ino)
		return 0;
	for (i = tar_ino_slot(ino, x->ino_cap); x->inos[i];
	    i = (i + 1) & (x->ino_cap - 1))
		if (x->inos[i] == ino)
			return 1;
	return 0;
}

static int tar_ino_put(uint64_t *set, size_t cap, uint64_t ino)
{
	size_t i;

	for (i = tar_ino_slot(ino, cap); set[i]; i = (i + 1) & (cap - 1))
		if (set[i] == ino)
			return 0;
	set[i] = ino;
	return 1;
}

static int tar_ino_add(struct tar_x *x, uint64_t ino)
{
	if (!ino)
		return 0;
	if ((x->nino + 1) * 2 > x->ino_cap) {
		size_t cap = x->ino_cap ? x->ino_cap * 2 : 1024, i;
		uint64_t *set;

		if (cap > SIZE_MAX / sizeof *set || !(set = calloc(cap, sizeof *set)))
			return tar_fail(x, 0, "out of memory");
		for (i = 0; i < x->ino_cap; i++)
			if (x->inos[i])
				tar_ino_put(set, cap, x->inos[i]);
		free(x->inos);
		x->inos = set;
		x->ino_cap = cap;
	}
	x->nino += (size_t)tar_ino_put(x->inos, x->ino_cap, ino);
	return 0;
}

/* Records the inode at dirfd/name (or of fd) as this layer's. */
static int tar_mine(struct tar_x *x, int dirfd, const char *name, int fd)
{
	struct stat st;
	int r;

	if (!(x->flags & TAR_APPLY))
		return 0;
	r = fd >= 0 ? fstat(fd, &st) : fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return tar_fail(x, errno, "stat");
	return tar_ino_add(x, (uint64_t)st.st_ino);
}

/* ---- removing ---- */

static int tar_prune(struct tar_x *x, int dirfd, const char *name, int keep,
    int depth);

/* Removes what dirfd/name holds (see tar_prune). 1: something kept. */
static int tar_prune_dir(struct tar_x *x, int dirfd, const char *name,
    int keep, int depth)
{
	struct dirent *e;
	int fd, kept = 0, r = 0;
	DIR *d;

	if (depth >= TAR_RM_DEPTH)
		return errno = ENAMETOOLONG, -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((r = tar_prune(x, fd, e->d_name, keep, depth + 1)) < 0)
			break;
		kept |= r;
	}
	if (!e && errno)
		r = -1;
	r = r < 0 ? -1 : kept;
	fd = errno;
	closedir(d);
	errno = fd;
	return r;
}

/* Removes dirfd/name, a whole tree if it is a directory, never following
 * a symlink. With keep (TAR_APPLY whiteouts), what this layer made stays,
 * with the directories that hold it. 1: something was kept, 0: gone (or
 * was not there), -1: error with errno. */
static int tar_prune(struct tar_x *x, int dirfd, const char *name, int keep,
    int depth)
{
	struct stat st;
	int mine, r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	x->cache_stale = 1;
	mine = keep && tar_ino_has(x, (uint64_t)st.st_ino);
	if (!S_ISDIR(st.st_mode)) {
		if (mine)
			return 1;
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	}
	if (!mine && !unlinkat(dirfd, name, AT_REMOVEDIR))
		return 0;
	if ((r = tar_prune_dir(x, dirfd, name, keep, depth)) < 0)
		return -1;
	if (r || mine)
		return 1;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -1 : 0;
}

/* Clears dirfd/name for a new entry. A directory stays when the entry is
 * one (keep_dir): returns 1 then, 0 when the name is free. */
static int tar_clear(struct tar_x *x, int dirfd, const char *name, int keep_dir)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : tar_fail(x, errno, "stat");
	if (keep_dir && S_ISDIR(st.st_mode))
		return 1;
	if (tar_prune(x, dirfd, name, 0, 0) < 0)
		return tar_fail(x, errno, "remove what was there");
	return 0;
}

/* ---- applying metadata ---- */

static struct timespec tar_ts(int64_t sec, long nsec)
{
	struct timespec ts;

	ts.tv_sec = (time_t)sec;
	if ((int64_t)ts.tv_sec != sec) /* 32-bit time_t */
		ts.tv_sec = sec < 0 ? (time_t)INT32_MIN : (time_t)INT32_MAX;
	ts.tv_nsec = nsec;
	return ts;
}

/* The pending pax header's SCHILY.xattr records, checked (check) or set
 * on fd; returns how many are to be set, or -1. A filesystem without xattrs, or a caller without the privilege
 * (security.capability needs CAP_SETFCAP), leaves them out, as GNU tar
 * does with a warning: failing would make such images unusable. */
static int tar_xattrs(struct tar_x *x, int fd, int check)
{
	char name[256]; /* XATTR_NAME_MAX + 1 */
	size_t pos = 0, kl = strlen(TAR_XATTR_KEY);
	struct tar_rec r;
	int p, n = 0;

	if (!(x->pending & TAR_P_PAX))
		return 0;
	while (tar_rec_next(x->pax, x->pax_len, &pos, &r) > 0) {
		if (r.klen <= kl || memcmp(r.key, TAR_XATTR_KEY, kl))
			continue;
		if (r.klen - kl > 255 || memchr(r.key + kl, 0, r.klen - kl))
			return tar_fail(x, 0, "bad xattr name");
		memcpy(name, r.key + kl, r.klen - kl);
		name[r.klen - kl] = 0;
		p = tar_xattr_policy(name);
		if (p < 0)
			return tar_fail(x, 0, "xattr %s is not allowed in an image",
			    name);
		n += p;
		if (check || !p)
			continue;
		if (fsetxattr(fd, name, r.val, r.vlen, 0) < 0 && errno != ENOTSUP &&
		    errno != EOPNOTSUPP && errno != EPERM)
			return tar_fail(x, errno, "set xattr %s", name);
	}
	return n;
}

/* Owner, then mode (chown clears set-id bits), then xattrs (chown clears
 * security.capability), then times. */
static int tar_meta_fd(struct tar_x *x, int fd)
{
	struct timespec ts[2];

	if ((x->flags & TAR_OWNERS) && fchown(fd, x->uid, x->gid) < 0)
		return tar_fail(x, errno, "chown");
	if (fchmod(fd, x->mode) < 0)
		return tar_fail(x, errno, "chmod");
	if (x->nxattr && tar_xattrs(x, fd, 0) < 0)
		return -1;
	ts[0] = ts[1] = tar_ts(x->mtime, x->nsec);
	if (futimens(fd, ts) < 0)
		return tar_fail(x, errno, "set times");
	return 0;
}

/* Symlinks, devices, fifos: by name, never following. chmod does follow,
 * but dirfd/name is what this entry created a moment ago and is not a
 * symlink: nobody else writes in the tree while it is extracted. */
static int tar_meta_at(struct tar_x *x, int dirfd, const char *name, int chmod)
{
	struct timespec ts[2];

	if ((x->flags & TAR_OWNERS) &&
	    fchownat(dirfd, name, x->uid, x->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return tar_fail(x, errno, "chown");
	if (chmod && fchmodat(dirfd, name, x->mode, 0) < 0)
		return tar_fail(x, errno, "chmod");
	ts[0] = ts[1] = tar_ts(x->mtime, x->nsec);
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return tar_fail(x, errno, "set times");
	return 0;
}

static int tar_dir_defer(struct tar_x *x)
{
	size_t len = strlen(x->path), need = sizeof(struct tar_dirrec) + len + 1;
	struct tar_dirrec *d;

	need = (need + 7) & ~(size_t)7;
	if (x->dirs_len + need > x->max_dirmem)
		return tar_fail(x, 0, "too many directories (over %zu bytes of records)",
		    x->max_dirmem);
	if (x->dirs_len + need > x->dirs_cap) {
		size_t cap = x->dirs_cap ? x->dirs_cap * 2 : 4096;
		char *p;

		while (cap < x->dirs_len + need)
			cap *= 2;
		if (!(p = realloc(x->dirs, cap)))
			return tar_fail(x, 0, "out of memory");
		x->dirs = p;
		x->dirs_cap = cap;
	}
	d = (struct tar_dirrec *)(void *)(x->dirs + x->dirs_len);
	d->mtime = x->mtime;
	d->nsec = (uint32_t)x->nsec;
	d->mode = x->mode;
	d->uid = x->uid;
	d->gid = x->gid;
	d->len = (uint32_t)need;
	memcpy(d->path, x->path, len + 1);
	x->dirs_len += need;
	x->ndirs++;
	return 0;
}

/* ---- entries ---- */

/* Makes dirfd/name what the entry is (not a directory), replacing what
 * is there: the file's descriptor, 0 for others, or -1. */
static int tar_create(struct tar_x *x, int dirfd, const char *name, dev_t dev)
{
	int r, tries;

	for (tries = 0; ; tries++) {
		switch (x->type) {
		case '2':
			r = symlinkat(x->link, dirfd, name);
			break;
		case '3':
		case '4':
		case '6':
			r = mknodat(dirfd, name, 0600 | (x->type == '3' ? S_IFCHR :
			    x->type == '4' ? S_IFBLK : S_IFIFO), dev);
			break;
		default:
			r = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_NOCTTY | O_CLOEXEC, 0600);
		}
		if (r >= 0 || errno != EEXIST || tries)
			break;
		if (tar_clear(x, dirfd, name, 0) < 0)
			return -1;
	}
	return r < 0 ? tar_fail(x, errno, "create") : r;
}

static int tar_x_file(struct tar_x *x)
{
	const char *name;
	int dirfd, fd;

	if ((dirfd = tar_parent(x, x->path, &name, 1)) < 0)
		return tar_fail_dir(x);
	if ((fd = tar_create(x, dirfd, name, 0)) < 0)
		return -1;
	x->fd = fd;
	x->sink = TAR_TO_FILE;
	return tar_mine(x, -1, NULL, fd);
}

static int tar_x_file_done(struct tar_x *x)
{
	int r = tar_meta_fd(x, x->fd);

	close(x->fd);
	x->fd = -1;
	return r;
}

/* A directory entry over an existing directory describes it fully, so
 * the xattrs it does not list go (as umoci does): else a layer could not
 * remove one. Only those an image may set; overlay's own stay. */
static int tar_xattrs_clear(struct tar_x *x, int fd)
{
	ssize_t n = flistxattr(fd, NULL, 0);
	char *list, *p;
	int r = 0;

	if (n <= 0)
		return n == 0 || errno == ENOTSUP || errno == EOPNOTSUPP ? 0 :
		    tar_fail(x, errno, "list xattrs");
	if (!(list = malloc((size_t)n)))
		return tar_fail(x, 0, "out of memory");
	if ((n = flistxattr(fd, list, (size_t)n)) < 0)
		r = tar_fail(x, errno, "list xattrs");
	for (p = list; !r && p < list + n; p += strlen(p) + 1)
		if (tar_xattr_policy(p) == 1 && fremovexattr(fd, p) < 0 &&
		    errno != ENODATA && errno != EPERM)
			r = tar_fail(x, errno, "remove xattr %s", p);
	free(list);
	return r;
}

/* The xattrs of a directory that was there (kept) or is new. */
static int tar_dir_xattrs(struct tar_x *x, int fd, int kept)
{
	if (kept && tar_xattrs_clear(x, fd) < 0)
		return -1;
	return tar_xattrs(x, fd, 0) < 0 || tar_mine(x, -1, NULL, fd) < 0 ? -1 : 0;
}

static int tar_x_dir(struct tar_x *x)
{
	const char *name;
	int dirfd, fd, r, kept = 0;

	if (!*x->path) { /* "./": the root's own metadata */
		fd = openat(x->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return tar_fail(x, errno, "open");
		r = tar_dir_xattrs(x, fd, 1);
		close(fd);
		return r < 0 ? -1 : tar_dir_defer(x);
	}
	if ((dirfd = tar_parent(x, x->path, &name, 1)) < 0)
		return tar_fail_dir(x);
	if (mkdirat(dirfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return tar_fail(x, errno, "mkdir");
		if ((kept = tar_clear(x, dirfd, name, 1)) < 0)
			return -1;
		if (!kept && mkdirat(dirfd, name, 0700) < 0)
			return tar_fail(x, errno, "mkdir");
	}
	if (x->nxattr || kept || (x->flags & TAR_APPLY)) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return tar_fail(x, errno, "open");
		r = tar_dir_xattrs(x, fd, kept);
		close(fd);
		if (r < 0)
			return -1;
	}
	return tar_dir_defer(x);
}

/* Symlinks, devices and fifos. */
static int tar_x_other(struct tar_x *x, dev_t dev)
{
	const char *name;
	int dirfd;

	if (x->type == '2' && !*x->link)
		return tar_fail(x, 0, "symlink with an empty target");
	if ((dirfd = tar_parent(x, x->path, &name, 1)) < 0)
		return tar_fail_dir(x);
	if (tar_create(x, dirfd, name, dev) < 0 ||
	    tar_meta_at(x, dirfd, name, x->type != '2') < 0)
		return -1;
	return tar_mine(x, dirfd, name, -1);
}

/* The target is named like any entry and resolved inside the root; it
 * must exist already and not be a directory. linkat without
 * AT_SYMLINK_FOLLOW links a symlink itself, never what it points to. */
static int tar_x_hardlink(struct tar_x *x)
{
	const char *why, *name, *tname;
	struct stat tst, st;
	char *slash;
	int dirfd, tdir, isdir, r = -1;

	if (tar_clean(x->link, &isdir, &why) < 0)
		return tar_fail(x, 0, "hardlink target: %s", why);
	if (!*x->link)
		return tar_fail(x, 0, "hardlink to the root directory");
	slash = strrchr(x->link, '/');
	tname = slash ? slash + 1 : x->link;
	if (slash)
		*slash = 0;
	tdir = path_resolve(x->root, slash ? x->link : "", 0);
	if (slash)
		*slash = '/';
	if (tdir < 0 || fstatat(tdir, tname, &tst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			r = tar_fail(x, 0, "hardlink target \"%.200s\" does not exist",
			    x->link);
		else
			r = tar_fail(x, errno, "hardlink target");
		goto out;
	}
	if (S_ISDIR(tst.st_mode)) {
		r = tar_fail(x, 0, "hardlink to a directory");
		goto out;
	}
	if ((dirfd = tar_parent(x, x->path, &name, 1)) < 0) {
		r = tar_fail_dir(x);
		goto out;
	}
	if (!fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (st.st_dev == tst.st_dev && st.st_ino == tst.st_ino) {
			r = (x->flags & TAR_APPLY) ? tar_ino_add(x, (uint64_t)tst.st_ino) : 0;
			goto out; /* already that file */
		}
		/* dirfd stays open (the cache only goes stale); tdir is ours,
		 * and linkat fails if the removal took the target with it */
		if (tar_clear(x, dirfd, name, 0) < 0)
			goto out;
	}
	if (linkat(tdir, tname, dirfd, name, 0) < 0) {
		r = tar_fail(x, errno, "hardlink to \"%.200s\"", x->link);
		goto out;
	}
	r = (x->flags & TAR_APPLY) ? tar_ino_add(x, (uint64_t)tst.st_ino) : 0;
out:
	if (tdir >= 0)
		close(tdir);
	return r;
}

/* OCI whiteouts. TAR_OVERLAY: ".wh.NAME" becomes the 0/0 character device
 * overlayfs uses, ".wh..wh..opq" the opaque xattr on its directory.
 * TAR_APPLY: they remove from the tree what earlier layers put there; what
 * this layer made stays, whichever order the archive lists things in (the
 * spec: a whiteout only hides lower layers). Other ".wh..wh." names are
 * AUFS bookkeeping and are skipped. 1: it was a whiteout. */
static int tar_x_whiteout(struct tar_x *x)
{
	char *base = strrchr(x->path, '/');
	const char *wname, *name;
	int dirfd, fd, r;

	base = base ? base + 1 : x->path;
	if (strncmp(base, TAR_WH, 4))
		return 0;
	wname = base + 4;
	if (!strcmp(base, TAR_WH_OPQ)) {
		if (base == x->path) {
			dirfd = tar_dirfd(x, "", 0);
		} else {
			base[-1] = 0;
			dirfd = tar_dirfd(x, x->path, (x->flags & TAR_OVERLAY) != 0);
			base[-1] = '/';
		}
		if (dirfd < 0) {
			if ((errno == ENOENT || errno == ENOTDIR) &&
			    (x->flags & TAR_APPLY))
				return 1;
			return tar_fail_dir(x);
		}
		if (x->flags & TAR_APPLY) {
			if (tar_prune_dir(x, dirfd, ".", 1, 0) < 0)
				return tar_fail(x, errno, "empty the opaque directory");
			return 1;
		}
		fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return tar_fail_dir(x);
		r = fsetxattr(fd, TAR_OPAQUE_XATTR, "y", 1, 0);
		close(fd);
		return r < 0 ? tar_fail(x, errno, "set " TAR_OPAQUE_XATTR) : 1;
	}
	if (!strncmp(wname, TAR_WH, 4))
		return 1;
	if (!*wname || !strcmp(wname, ".") || !strcmp(wname, ".."))
		return tar_fail(x, 0, "bad whiteout name");
	if ((dirfd = tar_parent(x, x->path, &name, (x->flags & TAR_OVERLAY) != 0)) < 0) {
		if ((errno == ENOENT || errno == ENOTDIR) && (x->flags & TAR_APPLY))
			return 1;
		return tar_fail_dir(x);
	}
	if (x->flags & TAR_APPLY) {
		if (tar_prune(x, dirfd, wname, 1, 0) < 0)
			return tar_fail(x, errno, "remove the whited-out \"%s\"", wname);
		return 1;
	}
	if (tar_clear(x, dirfd, wname, 0) < 0)
		return -1;
	if (mknodat(dirfd, wname, S_IFCHR, makedev(0, 0)) < 0)
		return tar_fail(x, errno, "make the whiteout device");
	return tar_meta_at(x, dirfd, wname, 0) < 0 ? -1 : 1;
}

/* ---- headers ---- */

/* Reads the next pax number value into *v; a bad one fails the entry. */
static int tar_pax_num(struct tar_x *x, const struct tar_rec *r, uint64_t max,
    uint64_t *v)
{
	if (tar_dec(r->val, r->vlen, max, v) < 0)
		return tar_fail(x, 0, "bad pax %.*s value", (int)r->klen, r->key);
	return 0;
}

static int tar_pax_str(struct tar_x *x, const struct tar_rec *r, char *dst)
{
	if (r->vlen >= PATH_MAX || memchr(r->val, 0, r->vlen))
		return tar_fail(x, 0, "bad pax %.*s", (int)r->klen, r->key);
	memcpy(dst, r->val, r->vlen);
	dst[r->vlen] = 0;
	return 0;
}

/* Applies one pax record to the entry (global: to the 'g' defaults).
 * Empty values unset a key (POSIX), which here means: keep the header's. */
static int tar_pax_rec(struct tar_x *x, const struct tar_rec *r, int global)
{
	uint64_t v;

	if (!r->vlen)
		return 0;
	if ((r->klen > 11 && !memcmp(r->key, "GNU.sparse.", 11)))
		return tar_fail(x, 0, "sparse files are not supported");
	if (tar_key(r, "uid") || tar_key(r, "gid")) {
		if (tar_pax_num(x, r, 0xfffffffe, &v) < 0)
			return -1;
		if (global) {
			x->g_set |= r->key[0] == 'u' ? TAR_G_UID : TAR_G_GID;
			*(r->key[0] == 'u' ? &x->g_uid : &x->g_gid) = (uint32_t)v;
		} else {
			*(r->key[0] == 'u' ? &x->uid : &x->gid) = (uint32_t)v;
		}
	} else if (tar_key(r, "mtime")) {
		int64_t s;
		long ns;

		if (tar_time(r->val, r->vlen, &s, &ns) < 0)
			return tar_fail(x, 0, "bad pax mtime value");
		if (global) {
			x->g_set |= TAR_G_MTIME;
			x->g_mtime = s;
			x->g_nsec = ns;
		} else {
			x->mtime = s;
			x->nsec = ns;
		}
	} else if (global) {
		/* a global path, linkpath or size would apply to every entry:
		 * nonsense that GNU tar honours and Go ignores; so do we */
	} else if (tar_key(r, "size")) {
		if (tar_pax_num(x, r, (uint64_t)INT64_MAX, &v) < 0)
			return -1;
		x->size = v;
	} else if (tar_key(r, "path")) {
		return tar_pax_str(x, r, x->path);
	} else if (tar_key(r, "linkpath")) {
		return tar_pax_str(x, r, x->link);
	}
	return 0;
}

static int tar_pax_apply(struct tar_x *x, int global)
{
	struct tar_rec r;
	size_t pos = 0;
	int k;

	while ((k = tar_rec_next(x->pax, x->pax_len, &pos, &r)) > 0)
		if (tar_pax_rec(x, &r, global) < 0)
			return -1;
	if (k < 0)
		return tar_fail(x, 0, "malformed pax record at byte %zu", pos);
	return 0;
}

/* Starts collecting an 'x', 'g', 'L' or 'K' payload. */
static int tar_meta_begin(struct tar_x *x, char type, uint64_t size)
{
	unsigned bit = type == 'L' ? TAR_P_NAME : type == 'K' ? TAR_P_LINK :
	    type == 'x' ? TAR_P_PAX : 0;

	if (x->pending & bit)
		return tar_bad(x, "two '%c' headers for one entry", type);
	if (type == 'g' && x->pending)
		return tar_bad(x, "a global header inside an entry's headers");
	if (type == 'L' || type == 'K') {
		if (size > PATH_MAX)
			return tar_bad(x, "GNU long name of %llu bytes",
			    (unsigned long long)size);
		x->meta = type == 'L' ? x->path : x->link;
		memset(x->meta, 0, PATH_MAX);
	} else {
		if (size > x->max_pax)
			return tar_bad(x, "pax header of %llu bytes (limit %u)",
			    (unsigned long long)size, x->max_pax);
		if (size > x->pax_cap) {
			char *p = realloc(x->pax, (size_t)size);

			if (!p)
				return tar_bad(x, "out of memory");
			x->pax = p;
			x->pax_cap = (size_t)size;
		}
		x->meta = x->pax;
	}
	x->meta_type = type;
	x->meta_len = 0;
	x->sink = TAR_TO_META;
	return 0;
}

static int tar_meta_end(struct tar_x *x)
{
	char *s = x->meta;

	switch (x->meta_type) {
	case 'L':
	case 'K':
		if (strnlen(s, x->meta_len) >= PATH_MAX)
			return tar_bad(x, "GNU long name without its end");
		x->pending |= x->meta_type == 'L' ? TAR_P_NAME : TAR_P_LINK;
		return 0;
	case 'g':
		x->pax_len = x->meta_len;
		x->path[0] = 0;
		if (tar_pax_apply(x, 1) < 0)
			return -1;
		x->pax_len = 0;
		return 0;
	}
	x->pax_len = x->meta_len;
	x->pending |= TAR_P_PAX;
	return 0;
}

static int tar_sum_ok(const unsigned char *b)
{
	uint32_t u = 0;
	int32_t s = 0;
	int64_t want;
	int i;

	for (i = 0; i < 512; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];

		u += c;
		s += (signed char)c;
	}
	if (tar_num(b + 148, 8, &want) < 0)
		return 0;
	/* old tars summed signed chars */
	return want == (int64_t)u || want == (int64_t)s;
}

/* The name fields: ustar's prefix joins name; GNU puts other things
 * there; star keeps the last 24 bytes for times. */
static void tar_hdr_name(const unsigned char *b, int ustar, char *out)
{
	size_t n = strnlen((const char *)b, 100), pn = 0;

	if (ustar) {
		size_t plen = memcmp(b + 508, "tar", 4) ? 155 : 131;

		pn = strnlen((const char *)b + 345, plen);
		memcpy(out, b + 345, pn);
		if (pn)
			out[pn++] = '/';
	}
	memcpy(out + pn, b, n);
	out[pn + n] = 0;
}

/* Reads the fixed fields into the entry. */
static int tar_hdr_fields(struct tar_x *x, const unsigned char *b, int magic)
{
	int64_t mode, uid, gid, mtime, size, maj = 0, min = 0;

	if (tar_num(b + 100, 8, &mode) < 0 || tar_num(b + 108, 8, &uid) < 0 ||
	    tar_num(b + 116, 8, &gid) < 0 || tar_num(b + 124, 12, &size) < 0 ||
	    tar_num(b + 136, 12, &mtime) < 0 ||
	    (magic && (tar_num(b + 329, 8, &maj) < 0 || tar_num(b + 337, 8, &min) < 0)))
		return tar_bad(x, "bad number in a header field");
	if (size < 0 || uid < 0 || uid > 0xfffffffe || gid < 0 || gid > 0xfffffffe ||
	    maj < 0 || maj > 0xffffffff || min < 0 || min > 0xffffffff)
		return tar_bad(x, "header field out of range");
	x->mode = (uint32_t)mode & 07777;
	x->uid = (uint32_t)uid;
	x->gid = (uint32_t)gid;
	x->mtime = mtime;
	x->nsec = 0;
	x->size = (uint64_t)size;
	x->dev_major = (uint32_t)maj;
	x->dev_minor = (uint32_t)min;
	return 0;
}

/* The entry's header is complete (with any 'x', 'L', 'K' before it):
 * settle its name and values, then create it. */
static int tar_entry(struct tar_x *x, const unsigned char *b, int magic)
{
	const char *why;
	int dir;

	if (!(x->pending & TAR_P_NAME))
		tar_hdr_name(b, magic == 2, x->path);
	if (!(x->pending & TAR_P_LINK)) {
		memcpy(x->link, b + 157, 100);
		x->link[100] = 0;
	}
	if (x->g_set & TAR_G_UID)
		x->uid = x->g_uid;
	if (x->g_set & TAR_G_GID)
		x->gid = x->g_gid;
	if (x->g_set & TAR_G_MTIME)
		x->mtime = x->g_mtime, x->nsec = x->g_nsec;
	if ((x->pending & TAR_P_PAX) && tar_pax_apply(x, 0) < 0)
		return -1;
	if (tar_clean(x->path, &dir, &why) < 0)
		return tar_fail(x, 0, "%s", why);
	if (dir && (x->type == '0' || x->type == 0 || x->type == '7'))
		x->type = '5'; /* old tars: a regular file named "d/" */
	if (!x->hdr_only) {
		if (x->size > x->max_file)
			return tar_fail(x, 0, "%llu bytes exceeds the limit %llu",
			    (unsigned long long)x->size, (unsigned long long)x->max_file);
		if (x->size > x->max_total - x->total)
			return tar_fail(x, 0, "the archive exceeds the limit of %llu bytes",
			    (unsigned long long)x->max_total);
		x->total += x->size;
		x->left = x->size;
		x->pad = (uint32_t)(-x->size & 511);
	}
	if (!*x->path && x->type != '5')
		return tar_fail(x, 0, "entry names the root directory");
	if ((x->nxattr = tar_xattrs(x, -1, 1)) < 0)
		return -1;
	if (x->flags & (TAR_OVERLAY | TAR_APPLY)) {
		int r = tar_x_whiteout(x);

		if (r)
			return r < 0 ? -1 : 0;
	}
	switch (x->type) {
	case '0': case 0: case '7':
		return tar_x_file(x);
	case '5':
		return tar_x_dir(x);
	case '1':
		return tar_x_hardlink(x);
	case '3': case '4':
		if (x->flags & TAR_NO_DEVICES)
			return tar_fail(x, 0, "device nodes are not allowed");
		return tar_x_other(x, makedev(x->dev_major, x->dev_minor));
	case '2': case '6':
		return tar_x_other(x, 0);
	}
	return tar_fail(x, 0, "entry type %#x is not supported", (unsigned char)x->type);
}

/* A full header block: an entry, the start of one, or the end. */
static int tar_header(struct tar_x *x, const unsigned char *b)
{
	static const unsigned char zero[512];
	int64_t size;
	int magic;
	char t;

	if (!memcmp(b, zero, 512)) {
		if (x->pending)
			return tar_bad(x, "the archive ends after an extended header");
		x->state = x->state == TAR_S_ZERO ? TAR_S_END : TAR_S_ZERO;
		return 0;
	}
	if (x->state == TAR_S_ZERO)
		return tar_bad(x, "a zero block before the end of the archive");
	if (!tar_sum_ok(b))
		return tar_bad(x, "bad header checksum");
	if (++x->entries > x->max_entries)
		return tar_bad(x, "more than %u headers", x->max_entries);
	/* 2: POSIX ustar, 1: GNU, 0: v7 */
	magic = !memcmp(b + 257, "ustar\0" "00", 8) ? 2 :
	    !memcmp(b + 257, "ustar  \0", 8) ? 1 : 0;
	t = (char)b[156];
	if (!magic && t != 0 && (t < '0' || t > '2') && t != '5')
		return tar_bad(x, "v7 header of type %#x", (unsigned char)t);
	if (tar_num(b + 124, 12, &size) < 0 || size < 0)
		return tar_bad(x, "bad size");
	x->left = (uint64_t)size;
	x->pad = (uint32_t)(-x->left & 511);
	x->sink = TAR_TO_SKIP;
	switch (t) {
	case 'x': case 'g': case 'L': case 'K':
		return tar_meta_begin(x, t, (uint64_t)size);
	case 'V': /* a volume label: skip it */
		return 0;
	case 'S': case 'M': case 'N':
		return tar_bad(x, "GNU type '%c' is not supported", t);
	}
	x->hdr_only = strchr("123456", t) && t;
	x->type = t == 'D' ? '5' : t; /* a GNU dumpdir: skip its listing */
	if (x->hdr_only)
		x->left = x->pad = 0; /* as Go's archive/tar: no data whatever size says */
	if (tar_hdr_fields(x, b, magic) < 0)
		return -1;
	return tar_entry(x, b, magic);
}

/* The entry's data has all arrived. */
static int tar_data_end(struct tar_x *x)
{
	int r = 0;

	if (x->sink == TAR_TO_META) {
		x->sink = TAR_TO_SKIP;
		return tar_meta_end(x);
	}
	if (x->fd >= 0)
		r = tar_x_file_done(x);
	x->sink = TAR_TO_SKIP;
	x->pending = 0;
	x->pax_len = 0;
	return r;
}

/* ---- the API ---- */

static int tar_x_init(struct tar_x *x, int dirfd, unsigned flags)
{
	memset(x, 0, sizeof *x);
	x->cache_fd = -1;
	x->fd = -1;
	x->root = dirfd;
	x->flags = flags;
	x->max_file = TAR_MAX_FILE;
	x->max_total = UINT64_MAX;
	x->max_entries = TAR_MAX_ENTRIES;
	x->max_pax = TAR_MAX_PAX;
	x->max_dirmem = TAR_MAX_DIRMEM;
	x->state = TAR_S_HDR;
	if ((flags & TAR_OVERLAY) && (flags & TAR_APPLY)) {
		x->state = TAR_S_FAIL;
		return err_set("tar: TAR_OVERLAY and TAR_APPLY exclude each other");
	}
	return 0;
}

/* Takes data bytes for the current entry from *p. */
static int tar_data(struct tar_x *x, const unsigned char **p, size_t *n)
{
	size_t k = *n;
	ssize_t w;

	if (x->left < k)
		k = (size_t)x->left;
	switch (x->sink) {
	case TAR_TO_FILE:
		for (w = 0; (size_t)w < k; ) {
			ssize_t r = write(x->fd, *p + w, k - (size_t)w);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return tar_fail(x, errno, "write");
			w += r;
		}
		break;
	case TAR_TO_META:
		memcpy(x->meta + x->meta_len, *p, k);
		x->meta_len += k;
		break;
	}
	*p += k;
	*n -= k;
	x->off += k;
	x->left -= k;
	return 0;
}

static int tar_x_feed(struct tar_x *x, const void *buf, size_t n)
{
	const unsigned char *p = buf, *h;
	size_t k;

	if (x->state == TAR_S_FAIL)
		return -1;
	while (n) {
		if (x->state == TAR_S_END) {
			/* after the end blocks: tar(1)'s record padding */
			x->off += n;
			return 0;
		}
		if (x->left) {
			if (tar_data(x, &p, &n) < 0 ||
			    (!x->left && tar_data_end(x) < 0))
				return -1;
			continue;
		}
		if (x->pad) {
			k = n < x->pad ? n : x->pad;
			p += k;
			n -= k;
			x->pad -= (uint32_t)k;
			x->off += k;
			continue;
		}
		if (!x->have && n >= 512) { /* the common case: no copy */
			h = p;
			k = 512;
		} else {
			k = 512 - x->have < n ? 512 - x->have : n;
			memcpy(x->blk + x->have, p, k);
			x->have += k;
			h = x->blk;
		}
		p += k;
		n -= k;
		x->off += k;
		if (x->have && x->have < 512)
			break;
		x->have = 0;
		x->hdr_off = x->off - 512;
		if (tar_header(x, h) < 0 || (!x->left && tar_data_end(x) < 0))
			return -1;
	}
	return 0;
}

static int tar_dirrec_cmp(const void *a, const void *b)
{
	const struct tar_dirrec *p = *(const struct tar_dirrec *const *)a;
	const struct tar_dirrec *q = *(const struct tar_dirrec *const *)b;
	int c = strcmp(p->path, q->path);

	return c ? c : p < q ? -1 : p > q;
}

static int tar_dir_apply(struct tar_x *x, const struct tar_dirrec *d)
{
	struct timespec ts[2];
	const char *name;
	int dirfd, fd, r = -1;

	strcpy(x->path, d->path);
	x->mode = d->mode;
	if (!*d->path) {
		fd = openat(x->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		if ((dirfd = tar_parent(x, x->path, &name, 0)) < 0)
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
			    0 : tar_fail(x, errno, "open its directory");
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) /* replaced by a later entry, or whited out */
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 :
		    tar_fail(x, errno, "open");
	ts[0] = ts[1] = tar_ts(d->mtime, (long)d->nsec);
	if ((x->flags & TAR_OWNERS) && fchown(fd, d->uid, d->gid) < 0)
		tar_fail(x, errno, "chown");
	else if (fchmod(fd, d->mode) < 0)
		tar_fail(x, errno, "chmod");
	else if (futimens(fd, ts) < 0)
		tar_fail(x, errno, "set times");
	else
		r = 0;
	close(fd);
	return r;
}

/* Deepest first (reverse order of the sorted paths puts "a/b" before
 * "a"), and once per path: the last record for it wins. */
static int tar_dirs_finish(struct tar_x *x)
{
	struct tar_dirrec **v;
	size_t i, off;
	int r = 0;

	if (!x->ndirs)
		return 0;
	if (!(v = malloc(x->ndirs * sizeof *v)))
		return err_set("tar: out of memory");
	for (i = 0, off = 0; i < x->ndirs; i++) {
		v[i] = (struct tar_dirrec *)(void *)(x->dirs + off);
		off += v[i]->len;
	}
	sort_ptrs(v, x->ndirs, tar_dirrec_cmp);
	for (i = x->ndirs; i-- > 0 && !r; )
		if (i + 1 == x->ndirs || strcmp(v[i]->path, v[i + 1]->path))
			r = tar_dir_apply(x, v[i]);
	free(v);
	return r;
}

/* A lone zero block is accepted as the end, as Go's archive/tar does;
 * no end at all is not (a cut at an entry boundary would go unnoticed). */
static int tar_x_end(struct tar_x *x)
{
	char name[200];

	if (x->state == TAR_S_FAIL)
		return -1;
	if (x->state != TAR_S_END && x->state != TAR_S_ZERO) {
		x->state = TAR_S_FAIL;
		if (x->left || x->pad || x->fd >= 0)
			return err_set("tar: archive truncated in entry \"%s\"",
			    tar_quote(name, sizeof name, x->path));
		return err_set("tar: archive truncated at offset %llu%s",
		    (unsigned long long)x->off, x->off ? "" : " (empty)");
	}
	x->state = TAR_S_END;
	if (tar_dirs_finish(x) < 0)
		return -1;
	tar_cache_drop(x);
	return 0;
}

static void tar_x_free(struct tar_x *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	tar_cache_drop(x);
	free(x->pax);
	free(x->dirs);
	free(x->inos);
	x->pax = x->dirs = NULL;
	x->inos = NULL;
	x->pax_cap = x->dirs_cap = x->ino_cap = 0;
}

static struct tar_x *tar_x_new(int dirfd, unsigned flags)
{
	struct tar_x *x = malloc(sizeof *x);

	if (!x) {
		err_set("tar: out of memory");
		return NULL;
	}
	if (tar_x_init(x, dirfd, flags) < 0) {
		free(x);
		return NULL;
	}
	return x;
}

/* ---- writing ---- */

/* tar_write(dirfd, &opts): the tree at dirfd as a tar stream, handed to
 * opts.out in pieces of at most TAR_W_BUF bytes; 0 or -1 (message set;
 * out's own failures keep out's message).
 *   opts.flags  TAR_W_OVERLAY: dirfd is an overlayfs upper directory:
 *               0/0 character devices become ".wh.NAME", directories
 *               with the opaque xattr get a ".wh..wh..opq" entry first.
 *   opts.filter optional; called with each path ("etc/hosts", relative,
 *               no trailing "/") and its lstat: 1 keeps it, 0 leaves it
 *               out (a directory with all it holds), -1 fails the write.
 * Deterministic: entries sorted by name (bytewise) in each directory, a
 * directory before its contents, no root entry, no "./" prefix, times
 * in whole seconds, no user or group names, no atime or ctime. ustar
 * headers, with a pax header before an entry when a value does not fit
 * (name, link target, size, uid, gid, mtime) and for xattrs: those the
 * extractor accepts (user.*, security.capability), never overlay ones.
 * xattrs are read from regular files and directories only: opening a
 * device to read them could have side effects. Hard links are found by
 * (dev, ino) among the entries written. Sockets are left out. A file that
 * shrinks while it is read fails the write (it would be padded with
 * zeros otherwise); one that grows is cut at the size first seen.
 * Memory: TAR_W_BUF, the names of the directories on the current path,
 * and a path per multiply-linked file. Directories deeper than
 * TAR_W_DEPTH are refused (one open descriptor per level). */

#ifndef TAR_W_BUF
#define TAR_W_BUF 32768
#endif
#ifndef TAR_W_DEPTH
#define TAR_W_DEPTH 256
#endif

#define TAR_W_OVERLAY 1u

typedef int tar_out_fn(void *ctx, const void *p, size_t n);
typedef int tar_filter_fn(void *ctx, const char *path, const struct stat *st);

struct tar_w_opts {
	unsigned flags;
	tar_out_fn *out;
	tar_filter_fn *filter;
	void *ctx;
};

struct tar_wlink {
	uint64_t dev, ino;
	size_t off;              /* of the path in names, plus 1; 0: free */
};

struct tar_w {
	const struct tar_w_opts *o;
	unsigned char *buf;
	size_t len;
	char path[PATH_MAX + 1]; /* of the entry, a directory's with "/" */
	char link[PATH_MAX];
	char *pax;
	size_t pax_len, pax_cap;
	struct tar_wlink *links; /* open-addressed by (dev, ino) */
	size_t nlinks, links_cap;
	char *names;             /* their first paths */
	size_t names_len, names_cap;
	char *xl, *xv;           /* xattr names, one value */
	size_t xl_cap, xv_cap;
};

__attribute__((format(printf, 2, 3)))
static int tar_w_fail(struct tar_w *w, const char *fmt, ...)
{
	char what[512], name[200];
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vstrf(what, sizeof what, fmt, ap);
	va_end(ap);
	tar_quote(name, sizeof name, w->path);
	errno = e;
	return err_set("tar: \"%s\": %s", name, what);
}

static int tar_w_sysfail(struct tar_w *w, const char *what)
{
	return tar_w_fail(w, "%s: %s", what, strerror(errno));
}

static int tar_w_flush(struct tar_w *w)
{
	size_t n = w->len;

	w->len = 0;
	return n ? w->o->out(w->o->ctx, w->buf, n) : 0;
}

static int tar_w_put(struct tar_w *w, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		size_t k = TAR_W_BUF - w->len < n ? TAR_W_BUF - w->len : n;

		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
		if (w->len == TAR_W_BUF && tar_w_flush(w) < 0)
			return -1;
	}
	return 0;
}

static int tar_w_pad(struct tar_w *w, uint64_t size)
{
	static const unsigned char zero[512];

	return tar_w_put(w, zero, (size_t)(-size & 511));
}

static int tar_w_grow(char **p, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 256;
	char *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(q = realloc(*p, c)))
		return err_set("tar: out of memory");
	*p = q;
	*cap = c;
	return 0;
}

/* A pax record; its length counts its own digits. */
static int tar_w_rec(struct tar_w *w, const char *key, const void *val,
    size_t vlen)
{
	size_t body = strlen(key) + vlen + 3, n = body + 1, t;
	char num[24];
	int d;

	for (;;) {
		t = body + (size_t)strf(num, sizeof num, "%zu", n);
		if (t == n)
			break;
		n = t;
	}
	if (tar_w_grow(&w->pax, &w->pax_cap, w->pax_len + n) < 0)
		return -1;
	d = strf(w->pax + w->pax_len, n, "%zu %s=", n, key);
	memcpy(w->pax + w->pax_len + d, val, vlen);
	w->pax[w->pax_len + n - 1] = '\n';
	w->pax_len += n;
	return 0;
}

static int tar_w_rec_num(struct tar_w *w, const char *key, int64_t v)
{
	char s[24];

	return tar_w_rec(w, key, s, (size_t)strf(s, sizeof s, "%lld",
	    (long long)v));
}

/* Octal with a NUL, or base-256 when it does not fit (GNU; readers of
 * the last 20 years take it in any numeric field). */
static void tar_w_num(unsigned char *f, size_t n, uint64_t v)
{
	size_t i;

	if (v >> (3 * (n - 1))) {
		for (i = n; i-- > 1; v >>= 8)
			f[i] = (unsigned char)v;
		f[0] = 0x80;
		return;
	}
	f[n - 1] = 0;
	for (i = n - 1; i-- > 0; v >>= 3)
		f[i] = (unsigned char)('0' + (v & 7));
}

/* ustar's prefix/name split: at a "/" leaving at most 155 bytes before
 * it and 1 to 100 after. Returns the prefix length, 0 when the name fits
 * alone, -1 when nothing fits. */
static int tar_w_split(const char *name)
{
	size_t len = strlen(name), i;

	if (len <= 100)
		return 0;
	for (i = 1; i < len && i <= 155; i++)
		if (name[i] == '/' && len - i - 1 <= 100 && len - i - 1 > 0)
			return (int)i;
	return -1;
}

static int tar_w_namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The xattrs of fd that an image may carry, sorted, as pax records.
 * *opaque is set for a directory marked opaque by overlayfs. */
static int tar_w_xattrs(struct tar_w *w, int fd, int *opaque)
{
	char key[16 + 256], *v[512], *p;
	ssize_t n, vn;
	size_t nv = 0, i;

	*opaque = 0;
	for (;;) {
		n = flistxattr(fd, w->xl, w->xl_cap);
		if (n >= 0 && (w->xl_cap || !n))
			break;
		if (n < 0 && errno != ERANGE) {
			if (errno == ENOTSUP || errno == EOPNOTSUPP)
				return 0;
			return tar_w_sysfail(w, "list xattrs");
		}
		if ((n = flistxattr(fd, NULL, 0)) < 0)
			return tar_w_sysfail(w, "list xattrs");
		if (tar_w_grow(&w->xl, &w->xl_cap, (size_t)n + 1) < 0)
			return -1;
	}
	for (p = w->xl; p < w->xl + n; p += strlen(p) + 1) {
		const char *ovl = !strncmp(p, "trusted.overlay.", 16) ? p + 16 :
		    !strncmp(p, "user.overlay.", 13) ? p + 13 : NULL;

		if ((w->o->flags & TAR_W_OVERLAY) && ovl && !strcmp(ovl, "opaque")) {
			char y[2];

			if (fgetxattr(fd, p, y, sizeof y) == 1 && y[0] == 'y')
				*opaque = 1;
		}
		/* a metacopy file has its data in a lower layer, a redirected
		 * directory its contents: neither can be read from the upper */
		if ((w->o->flags & TAR_W_OVERLAY) && ovl &&
		    (!strcmp(ovl, "metacopy") || !strcmp(ovl, "redirect")))
			return tar_w_fail(w, "overlayfs %s is not supported (mount "
			    "with metacopy=off,redirect_dir=off)", ovl);
		if (tar_xattr_policy(p) != 1)
			continue;
		if (nv == LEN(v))
			return tar_w_fail(w, "more than %zu xattrs", LEN(v));
		v[nv++] = p;
	}
	sort_ptrs(v, nv, tar_w_namecmp);
	if (nv && tar_w_grow(&w->xv, &w->xv_cap, 256) < 0)
		return -1;
	for (i = 0; i < nv; i++) {
		for (;;) {
			vn = fgetxattr(fd, v[i], w->xv, w->xv_cap);
			if (vn >= 0 || errno != ERANGE)
				break;
			if ((vn = fgetxattr(fd, v[i], NULL, 0)) < 0)
				break;
			if (tar_w_grow(&w->xv, &w->xv_cap, (size_t)vn + 1) < 0)
				return -1;
		}
		if (vn < 0 && errno == ENODATA)
			continue; /* removed meanwhile */
		if (vn < 0)
			return tar_w_sysfail(w, "read xattr");
		strf(key, sizeof key, TAR_XATTR_KEY "%s", v[i]);
		if (tar_w_rec(w, key, w->xv, (size_t)vn) < 0)
			return -1;
	}
	return 0;
}

/* One entry: w->path names it; a pax header first when needed (its
 * records may already hold xattrs). */
static int tar_w_header(struct tar_w *w, char type, const struct stat *st,
    const char *link, uint64_t size)
{
	unsigned char h[512];
	const char *name = w->path, *base;
	int pre = tar_w_split(name);
	uint64_t uid = st->st_uid, gid = st->st_gid;
	int64_t mtime = (int64_t)st->st_mtime;
	uint32_t sum = 0;
	size_t i;

	if (pre < 0 && tar_w_rec(w, "path", name, strlen(name)) < 0)
		return -1;
	if (link && strlen(link) > 100 && tar_w_rec(w, "linkpath", link, strlen(link)) < 0)
		return -1;
	if (size > 077777777777ull && tar_w_rec_num(w, "size", (int64_t)size) < 0)
		return -1;
	if (uid > 07777777 && tar_w_rec_num(w, "uid", (int64_t)uid) < 0)
		return -1;
	if (gid > 07777777 && tar_w_rec_num(w, "gid", (int64_t)gid) < 0)
		return -1;
	if ((mtime < 0 || mtime > 077777777777ll) && tar_w_rec_num(w, "mtime", mtime) < 0)
		return -1;
	if (w->pax_len) {
		base = strrchr(name, '/');
		base = base && base[1] ? base + 1 : name;
		memset(h, 0, sizeof h);
		memcpy(h, "PaxHeaders.0/", 13);
		memcpy(h + 13, base, strlen(base) < 87 ? strlen(base) : 87);
		tar_w_num(h + 100, 8, 0644);
		tar_w_num(h + 108, 8, 0);
		tar_w_num(h + 116, 8, 0);
		tar_w_num(h + 124, 12, w->pax_len);
		tar_w_num(h + 136, 12, 0);
		h[156] = 'x';
		memcpy(h + 257, "ustar\0" "00", 8);
		tar_w_num(h + 329, 8, 0);
		tar_w_num(h + 337, 8, 0);
		memset(h + 148, ' ', 8);
		for (i = 0; i < 512; i++)
			sum += h[i];
		strf((char *)h + 148, 8, "%06o", (unsigned)sum);
		sum = 0;
		if (tar_w_put(w, h, 512) < 0 || tar_w_put(w, w->pax, w->pax_len) < 0 ||
		    tar_w_pad(w, w->pax_len) < 0)
			return -1;
		w->pax_len = 0;
	}
	memset(h, 0, sizeof h);
	if (pre > 0) {
		memcpy(h + 345, name, (size_t)pre);
		name += pre + 1;
	}
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	tar_w_num(h + 100, 8, st->st_mode & 07777);
	tar_w_num(h + 108, 8, uid > 07777777 ? 0 : uid);
	tar_w_num(h + 116, 8, gid > 07777777 ? 0 : gid);
	tar_w_num(h + 124, 12, size > 077777777777ull ? 0 : size);
	tar_w_num(h + 136, 12, mtime < 0 || mtime > 077777777777ll ? 0 : (uint64_t)mtime);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link) < 100 ? strlen(link) : 100);
	memcpy(h + 257, "ustar\0" "00", 8);
	tar_w_num(h + 329, 8, type == '3' || type == '4' ? major(st->st_rdev) : 0);
	tar_w_num(h + 337, 8, type == '3' || type == '4' ? minor(st->st_rdev) : 0);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	strf((char *)h + 148, 8, "%06o", (unsigned)sum);
	return tar_w_put(w, h, 512);
}

static size_t tar_w_link_slot(const struct tar_w *w, const struct stat *st)
{
	uint64_t k = ((uint64_t)st->st_ino ^ ((uint64_t)st->st_dev << 29)) *
	    0x9E3779B97F4A7C15ull;
	size_t i = (size_t)(k >> 32) & (w->links_cap - 1);

	while (w->links[i].off && (w->links[i].ino != (uint64_t)st->st_ino ||
	    w->links[i].dev != (uint64_t)st->st_dev))
		i = (i + 1) & (w->links_cap - 1);
	return i;
}

/* For a multiply-linked non-directory: the path it was first written
 * under (and 1), or 0 after remembering this one. */
static int tar_w_hardlink(struct tar_w *w, const struct stat *st,
    const char **first)
{
	size_t i, len;

	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return 0;
	if ((w->nlinks + 1) * 2 > w->links_cap) {
		struct tar_wlink *old = w->links;
		size_t oldcap = w->links_cap, cap = oldcap ? oldcap * 2 : 64;

		if (!(w->links = calloc(cap, sizeof *w->links))) {
			w->links = old;
			return err_set("tar: out of memory");
		}
		w->links_cap = cap;
		for (i = 0; i < oldcap; i++) {
			struct stat s;

			if (!old[i].off)
				continue;
			s.st_dev = (dev_t)old[i].dev;
			s.st_ino = (ino_t)old[i].ino;
			w->links[tar_w_link_slot(w, &s)] = old[i];
		}
		free(old);
	}
	i = tar_w_link_slot(w, st);
	if (w->links[i].off) {
		*first = w->names + w->links[i].off - 1;
		return 1;
	}
	len = strlen(w->path) + 1;
	if (tar_w_grow(&w->names, &w->names_cap, w->names_len + len) < 0)
		return -1;
	memcpy(w->names + w->names_len, w->path, len);
	w->links[i].dev = (uint64_t)st->st_dev;
	w->links[i].ino = (uint64_t)st->st_ino;
	w->links[i].off = w->names_len + 1;
	w->names_len += len;
	w->nlinks++;
	return 0;
}

static int tar_w_file(struct tar_w *w, int dirfd, const char *name,
    struct stat *st)
{
	uint64_t size;
	int fd, opq, r = -1;
	ssize_t n;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : tar_w_sysfail(w, "open");
	if (fstat(fd, st) < 0) {
		tar_w_sysfail(w, "stat");
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		tar_w_fail(w, "changed type while being archived");
		goto out;
	}
	if (tar_w_xattrs(w, fd, &opq) < 0 ||
	    tar_w_header(w, '0', st, NULL, (uint64_t)st->st_size) < 0)
		goto out;
	for (size = (uint64_t)st->st_size; size; size -= (uint64_t)n) {
		size_t k = TAR_W_BUF - w->len;

		if (k > size)
			k = (size_t)size;
		n = read(fd, w->buf + w->len, k);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			tar_w_sysfail(w, "read");
			goto out;
		}
		if (n == 0) {
			tar_w_fail(w, "file shrank while being archived");
			goto out;
		}
		w->len += (size_t)n;
		if (w->len == TAR_W_BUF && tar_w_flush(w) < 0)
			goto out;
	}
	r = tar_w_pad(w, (uint64_t)st->st_size);
out:
	close(fd);
	return r;
}

static int tar_w_dir(struct tar_w *w, int fd, size_t plen, int depth);

/* w->path = its first plen bytes (a directory), "/", name. */
static int tar_w_child(struct tar_w *w, size_t plen, const char *name)
{
	size_t n = strlen(name);

	if (plen + n + 2 >= PATH_MAX)
		return tar_w_fail(w, "path longer than %d bytes", PATH_MAX - 1);
	if (plen)
		w->path[plen++] = '/';
	memcpy(w->path + plen, name, n + 1);
	return 0;
}

/* The entry dirfd/name; w->path holds its path, plen bytes long. */
static int tar_w_entry(struct tar_w *w, int dirfd, const char *name, size_t plen,
    int depth)
{
	const char *first = NULL;
	struct stat st;
	int fd, r;
	ssize_t n;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : tar_w_sysfail(w, "stat");
	if (S_ISSOCK(st.st_mode))
		return 0;
	if (w->o->filter && (r = w->o->filter(w->o->ctx, w->path, &st)) <= 0)
		return r;
	if ((w->o->flags & TAR_W_OVERLAY) && S_ISCHR(st.st_mode) && st.st_rdev == 0) {
		size_t dl = plen - strlen(name);

		if (plen + 4 > PATH_MAX)
			return tar_w_fail(w, "path too long");
		memmove(w->path + dl + 4, w->path + dl, strlen(name) + 1);
		memcpy(w->path + dl, TAR_WH, 4);
		st.st_mode = S_IFREG;
		return tar_w_header(w, '0', &st, NULL, 0);
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth >= TAR_W_DEPTH)
			return tar_w_fail(w, "more than %d levels deep", TAR_W_DEPTH);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? 0 : tar_w_sysfail(w, "open");
		if (fstat(fd, &st) < 0)
			r = tar_w_sysfail(w, "stat");
		else
			r = tar_w_dir(w, fd, plen, depth + 1);
		close(fd);
		return r;
	}
	if ((r = tar_w_hardlink(w, &st, &first)) != 0)
		return r < 0 ? -1 : tar_w_header(w, '1', &st, first, 0);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return tar_w_file(w, dirfd, name, &st);
	case S_IFLNK:
		n = readlinkat(dirfd, name, w->link, sizeof w->link);
		if (n < 0)
			return tar_w_sysfail(w, "readlink");
		if ((size_t)n >= sizeof w->link)
			return tar_w_fail(w, "symlink target too long");
		w->link[n] = 0;
		return tar_w_header(w, '2', &st, w->link, 0);
	case S_IFCHR:
		return tar_w_header(w, '3', &st, NULL, 0);
	case S_IFBLK:
		return tar_w_header(w, '4', &st, NULL, 0);
	case S_IFIFO:
		return tar_w_header(w, '6', &st, NULL, 0);
	}
	return 0;
}

/* A directory: its own entry (not for the root, plen 0), then what it
 * holds in name order. */
static int tar_w_dir(struct tar_w *w, int fd, size_t plen, int depth)
{
	char *names = NULL, **v = NULL;
	size_t len = 0, cap = 0, nv = 0, i, n;
	struct dirent *e;
	struct stat st;
	int opq, r = -1, dfd;
	DIR *d;

	if (fstat(fd, &st) < 0)
		return tar_w_sysfail(w, "stat");
	if (tar_w_xattrs(w, fd, &opq) < 0)
		return -1;
	if (plen) {
		w->path[plen] = '/';
		w->path[plen + 1] = 0;
		r = tar_w_header(w, '5', &st, NULL, 0);
		w->path[plen] = 0;
		if (r < 0)
			return -1;
	} else {
		w->pax_len = 0; /* the root has no entry for its xattrs */
	}
	if (opq) {
		st.st_mode = S_IFREG;
		if (tar_w_child(w, plen, TAR_WH_OPQ) < 0 ||
		    tar_w_header(w, '0', &st, NULL, 0) < 0)
			return -1;
		w->path[plen] = 0;
	}
	/* a new open file: a dup would share (and move) fd's offset */
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return tar_w_sysfail(w, "open");
	}
	while ((errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n = strlen(e->d_name) + 1;
		if (tar_w_grow(&names, &cap, len + n) < 0)
			goto out;
		memcpy(names + len, e->d_name, n);
		len += n;
		nv++;
	}
	if (errno) {
		tar_w_sysfail(w, "read directory");
		goto out;
	}
	if (nv && !(v = malloc(nv * sizeof *v))) {
		err_set("tar: out of memory");
		goto out;
	}
	for (i = 0, n = 0; i < nv; i++, n += strlen(names + n) + 1)
		v[i] = names + n;
	if (nv)
		sort_ptrs(v, nv, tar_w_namecmp);
	for (i = 0; i < nv; i++) {
		if (tar_w_child(w, plen, v[i]) < 0 ||
		    tar_w_entry(w, fd, v[i], strlen(w->path), depth) < 0)
			goto out;
		w->path[plen] = 0;
	}
	r = 0;
out:
	closedir(d);
	free(v);
	free(names);
	return r;
}

static int tar_write(int dirfd, const struct tar_w_opts *o)
{
	struct tar_w *w = calloc(1, sizeof *w);
	int r = -1;

	if (!w || !(w->buf = malloc(TAR_W_BUF))) {
		free(w);
		return err_set("tar: out of memory");
	}
	w->o = o;
	if (tar_w_dir(w, dirfd, 0, 0) == 0 && tar_w_put(w, w->buf, 0) == 0) {
		memset(w->path, 0, 1024);
		if (tar_w_put(w, w->path, 1024) == 0) /* the two end blocks */
			r = tar_w_flush(w);
	}
	free(w->buf);
	free(w->pax);
	free(w->links);
	free(w->names);
	free(w->xl);
	free(w->xv);
	free(w);
	return r;
}

/* ============================================================= ref === */

/* Image references, parsed and normalised as Docker does
 * (distribution/reference, ParseNormalizedNamed):
 *
 *   struct ref r;
 *   ref_parse(&r, "busybox")       r: docker.io, library/busybox, latest
 *   ref_format(&r, buf, size)      "docker.io/library/busybox:latest";
 *                                  REF_STR_MAX bytes always suffice
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] component ( "/" component )*
 *   domain    := host [ ":" port ]    host: DNS labels, or "[" IPv6 "]"
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest    := algorithm ":" hex; only sha256 with 64 lowercase hex digits
 *
 * The first component is a domain when it has a "." or ":", is
 * "localhost", or has an upper-case letter; otherwise the domain is
 * docker.io, where a one-component name gets "library/". The API host of
 * docker.io is registry-1.docker.io. Limits: domain + "/" + path at most
 * 255 bytes (distribution's limit). Nothing is allocated. */

struct ref {
	char domain[256];	/* docker.io, localhost:5000, [::1]:5000 */
	char host[256];		/* to connect to: registry-1.docker.io, ::1 */
	unsigned port;		/* 0: the scheme's default */
	char path[256];		/* library/busybox */
	char tag[129];		/* "" when pulled by digest only */
	char digest[72];	/* sha256:<64 hex>, or "" */
};

#define REF_NAME_MAX 255
#define REF_STR_MAX 720	/* room for ref_format's output */

static int ref_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int ref_alnum(int c)
{
	return ref_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* Alphanumeric runs joined by one separator: ".", "_", "__" or "-"+. */
static int ref_component_ok(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		if (i == n || !ref_lower_alnum(s[i]))
			return 0;
		while (i < n && ref_lower_alnum(s[i]))
			i++;
		if (i == n)
			return 1;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return 0;
	}
}

static int ref_path_ok(const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (!ref_component_ok(s + start, i - start))
			return 0;
		start = i + 1;
	}
	return 1;
}

static int ref_label_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || !ref_alnum(s[0]) || !ref_alnum(s[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!ref_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

static int ref_port_parse(const char *s, size_t n, unsigned *port)
{
	unsigned long v = 0;
	size_t i;

	if (!n || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* host [":" port], host being DNS labels or a bracketed IPv6 address;
 * host gets the name without brackets. */
static int ref_domain_parse(const char *s, size_t n, char *host, unsigned *port)
{
	const char *end = s + n, *h = s, *hend, *p;
	struct in6_addr a6;
	size_t i, start;
	char tmp[64];

	*port = 0;
	if (n && s[0] == '[') {
		if (!(hend = memchr(s, ']', n)) || hend == s + 1 ||
		    (size_t)(hend - s - 1) >= sizeof tmp)
			return -1;
		memcpy(tmp, s + 1, (size_t)(hend - s - 1));
		tmp[hend - s - 1] = 0;
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return -1;
		strcpy(host, tmp);
		p = hend + 1;
	} else {
		hend = memchr(s, ':', n);
		p = hend ? hend : end;
		for (i = start = 0; i <= (size_t)(p - h); i++) {
			if (i < (size_t)(p - h) && h[i] != '.')
				continue;
			if (!ref_label_ok(h + start, i - start))
				return -1;
			start = i + 1;
		}
		memcpy(host, h, (size_t)(p - h));
		host[p - h] = 0;
	}
	if (p == end)
		return 0;
	if (*p != ':')
		return -1;
	return ref_port_parse(p + 1, (size_t)(end - p - 1), port);
}

/* Docker's rule (splitDockerDomain): is the first component a registry? */
static int ref_is_domain(const char *s, size_t n)
{
	size_t i;

	if (n == 9 && !memcmp(s, "localhost", 9))
		return 1;
	for (i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return 1;
	return 0;
}

/* algorithm ":" hex, in distribution's general grammar first (so that the
 * message can tell a typo from an algorithm we do not implement). */
static int ref_digest_parse(struct ref *r, const char *d, const char *whole)
{
	const char *colon = strchr(d, ':'), *p;
	uint8_t bin[32];
	size_t nhex;

	if (!colon || colon == d)
		return err_set("reference \"%s\": invalid digest", whole);
	for (p = d; p < colon; p++) {
		int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		int sep = *p == '+' || *p == '.' || *p == '_' || *p == '-';

		if (p == d || p[-1] == '+' || p[-1] == '.' || p[-1] == '_' ||
		    p[-1] == '-') {
			if (!alpha)
				return err_set("reference \"%s\": invalid digest", whole);
		} else if (!alpha && !sep && !(*p >= '0' && *p <= '9')) {
			return err_set("reference \"%s\": invalid digest", whole);
		}
	}
	if (strchr("+._-", colon[-1]))
		return err_set("reference \"%s\": invalid digest", whole);
	nhex = strspn(colon + 1, "0123456789abcdefABCDEF");
	if (nhex < 32 || colon[1 + nhex])
		return err_set("reference \"%s\": invalid digest", whole);
	if (colon - d != 6 || memcmp(d, "sha256", 6))
		return err_set("reference \"%s\": unsupported digest algorithm %.*s",
		    whole, (int)(colon - d), d);
	if (sha_parse(d, strlen(d), bin) < 0)
		return err_ctx("reference \"%s\"", whole);
	sha_hex(bin, r->digest);
	return 0;
}

static int ref_tag_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 128 || !(ref_alnum(s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!ref_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

static int ref_parse(struct ref *r, const char *s)
{
	const char *at, *slash, *colon, *rest;
	size_t n = strlen(s), i, nlen, dlen, rlen;
	int lib;

	memset(r, 0, sizeof *r);
	if (!n)
		return err_set("reference: empty");
	if (n > 1024)
		return err_set("reference: longer than 1024 bytes");
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return err_set("reference \"%.64s\": invalid character 0x%02x",
			    s, (unsigned char)s[i]);
	at = strchr(s, '@');
	nlen = at ? (size_t)(at - s) : n;
	if (at && ref_digest_parse(r, at + 1, s) < 0)
		return -1;

	/* the tag follows the last ':' after the last '/' */
	for (slash = colon = NULL, i = 0; i < nlen; i++) {
		if (s[i] == '/')
			slash = s + i;
		else if (s[i] == ':')
			colon = s + i;
	}
	if (colon && (!slash || colon > slash)) {
		if (!ref_tag_ok(colon + 1, (size_t)(s + nlen - colon - 1)))
			return err_set("reference \"%s\": invalid tag \"%.*s\"", s,
			    (int)(s + nlen - colon - 1), colon + 1);
		memcpy(r->tag, colon + 1, (size_t)(s + nlen - colon - 1));
		nlen = (size_t)(colon - s);
	}
	if (!nlen)
		return err_set("reference \"%s\": no repository name", s);

	slash = memchr(s, '/', nlen);
	if (slash && ref_is_domain(s, (size_t)(slash - s))) {
		dlen = (size_t)(slash - s);
		rest = slash + 1;
		if (dlen >= sizeof r->domain)
			return err_set("reference \"%.64s...\": name too long", s);
		memcpy(r->domain, s, dlen);
		if (ref_domain_parse(s, dlen, r->host, &r->port) < 0)
			return err_set("reference \"%s\": invalid registry \"%.*s\"", s,
			    (int)dlen, s);
		if (!strcmp(r->domain, "index.docker.io"))
			strcpy(r->domain, "docker.io");
	} else {
		strcpy(r->domain, "docker.io");
		rest = s;
	}
	rlen = (size_t)(s + nlen - rest);
	lib = !strcmp(r->domain, "docker.io") && !memchr(rest, '/', rlen);
	if (strlen(r->domain) + 1 + (lib ? 8 : 0) + rlen > REF_NAME_MAX)
		return err_set("reference \"%.64s...\": name longer than %d bytes",
		    s, REF_NAME_MAX);
	for (i = 0; i < rlen; i++)
		if (rest[i] >= 'A' && rest[i] <= 'Z')
			return err_set("reference \"%s\": repository name must be lowercase",
			    s);
	if (!ref_path_ok(rest, rlen))
		return err_set("reference \"%s\": invalid repository name \"%.*s\"",
		    s, (int)rlen, rest);
	if (rlen == 64 && strspn(rest, "0123456789abcdef") >= 64)
		return err_set("reference \"%s\": a repository name cannot be 64 "
		    "hexadecimal digits (an image ID?)", s);
	strf(r->path, sizeof r->path, "%s%.*s", lib ? "library/" : "",
	    (int)rlen, rest);
	if (!strcmp(r->domain, "docker.io"))
		strcpy(r->host, "registry-1.docker.io");
	if (!r->tag[0] && !r->digest[0])
		strcpy(r->tag, "latest");
	return 0;
}

static int ref_format(const struct ref *r, char *buf, size_t size)
{
	int n = strf(buf, size, "%s/%s%s%s%s%s", r->domain, r->path,
	    r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "", r->digest);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ============================================================ http === */

/* An HTTP/1.1 client for registries: GET and HEAD, https through BearSSL
 * (SNI, chain validation against a PEM bundle plus extra CA files, host
 * name or IP address check), plain http only when allowed.
 *
 *   struct http_client cl;
 *   http_init(&cl);  cl.allow_http = 1; ...    options, see the struct
 *   struct http_req rq = { "GET", url, auth, accept, from };
 *   http_request(&cl, &rq);       follows redirects; cl.resp holds the
 *                                 final status and headers, body pending
 *   http_header(&cl.resp, "docker-content-digest")
 *   http_body(&cl, sink, ctx);    streams the body: sink(ctx, p, n) sees
 *                                 every byte; or http_body_buf (bounded),
 *                                 http_discard
 *   http_free(&cl);
 *
 * Connections are kept alive and reused per (scheme, host, port), up to
 * SB_HTTP_CONNS at a time (least recently used goes); a reused connection
 * that the server had closed is retried once on a new one. Bodies framed
 * by Content-Length, chunked, or the end of the connection. Redirects 301,
 * 302, 303, 307, 308 are followed (SB_HTTP_MAX_REDIRECTS); Authorization
 * is sent only to the first URL's scheme, host and port, never to a host
 * a redirect leads to, and https never redirects to http. Connect and each
 * read or write wait under poll() timeouts. Messages: "host:port: why".
 *
 * Memory: the client struct (about 23 KB: the response head buffer and
 * URL); per TLS connection about 40 KB (BearSSL's full-duplex record buffer
 * and contexts); per plain connection a 16 KB read buffer; the trust
 * anchors (about 100 KB for Debian's bundle of ~140 roots, loaded at the
 * first https connection by streaming the PEM file through BearSSL's PEM
 * and X.509 decoders). Bodies go to the sink straight from the TLS record
 * buffer: nothing is buffered whole unless the caller asks (http_body_buf,
 * with a maximum). */

struct http_hdr {
	const char *name, *value;
};

struct http_resp {
	int status;
	int version;		/* 0: HTTP/1.0, 1: HTTP/1.1 */
	int64_t length;		/* Content-Length, or -1 */
	int chunked;		/* Transfer-Encoding: chunked */
	int close;		/* the connection ends after this response */
	size_t nhdr;
	struct http_hdr hdr[SB_HTTP_MAX_HEADERS];	/* into the head buffer */
};

/* The chunked transfer coding (RFC 9112 7.1), as a state machine over
 * any split of the input. */
enum {
	CH_SIZE, CH_SIZE_LF, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER, CH_TRAILER_LINE, CH_TRAILER_LF, CH_DONE
};

struct http_chunk {
	int state;
	int ndigits;
	uint64_t left;		/* data bytes left in the chunk */
	size_t line;		/* bytes of the current extension or trailer */
};

struct http_url {
	int tls;
	unsigned port;
	char host[256];		/* without brackets */
	char path[SB_HTTP_URL_MAX];	/* path and query, from '/' */
};

#if SB_WITH_TLS
/* Validates the chain with BearSSL's minimal engine; when the server is
 * named by an IP address, also checks the address against the end-entity
 * certificate's subjectAltName iPAddress entries (BearSSL only matches
 * DNS names). */
struct http_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context mini;
	unsigned char ip[16];
	size_t iplen;		/* 0: a DNS name, checked by mini */
	int ncert, eeover;
	unsigned char *ee;	/* the end-entity certificate, for the IP check */
	size_t eelen, eecap;
};

struct http_tls {
	br_ssl_client_context sc;
	struct http_x509 x;
	char last[300];		/* host:port of the session kept for resumption */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};
#endif

struct http_conn {
	int fd;			/* -1: closed */
	int tls;
	int reused;		/* served a response before */
	unsigned port;
	unsigned long used;	/* for least-recently-used replacement */
	char host[256];
	char name[300];		/* host:port, for messages */
	unsigned char *rbuf;	/* plain: read buffer */
	size_t roff, rlen;
#if SB_WITH_TLS
	struct http_tls *t;	/* kept across reconnections, for resumption */
#endif
};

#define HTTP_RBUF 16384

struct http_req {
	const char *method;	/* "GET" (NULL) or "HEAD" */
	const char *url;
	const char *auth;	/* Authorization value, or NULL */
	const char *accept;	/* Accept value, or NULL */
	uint64_t from;		/* > 0: Range: bytes=from- */
};

typedef int (*http_sink)(void *ctx, const void *p, size_t n);

enum { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_CLOSE };

struct http_client {
	/* options, set after http_init */
	const char *ca_file;		/* NULL: SB_CA_BUNDLE; "": none */
	const char *const *extra_ca;	/* more PEM files, NULL-terminated */
	int allow_http;			/* plain http:// may be used */
	int connect_timeout_ms, io_timeout_ms;

	/* the current response: valid until the next request */
	struct http_resp resp;
	struct http_url url;		/* where it came from */
	struct http_conn *cur;		/* the connection carrying its body */
	int body;			/* HTTP_BODY_* */
	uint64_t left;			/* HTTP_BODY_LENGTH: bytes to come */
	struct http_chunk chunk;
	char head[SB_HTTP_HEAD_MAX];

	struct http_conn conn[SB_HTTP_CONNS];
	unsigned long clock;
#if SB_WITH_TLS
	int ta_loaded;
	struct arena ta_arena;
	br_x509_trust_anchor *ta;
	size_t nta, tacap;
#endif
};

/* ---- parsing: response head, chunked coding, URLs ---------------------- */

static int http_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int http_ows(int c)
{
	return c == ' ' || c == '\t';
}

/* Is s[0..n) equal to the word w, ignoring ASCII case? */
static int http_word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && !strncasecmp(s, w, n);
}

/* Calls fn for each element of a comma-separated header list, trimmed. */
static int http_list(const char *v, int (*fn)(void *, const char *, size_t),
    void *ctx)
{
	const char *p = v, *s, *e;

	for (;;) {
		e = p + strcspn(p, ",");
		for (s = p; s < e && http_ows(*s); s++)
			;
		p = e;
		while (e > s && http_ows(e[-1]))
			e--;
		if (e > s && fn(ctx, s, (size_t)(e - s)) < 0)
			return -1;
		if (!*p)
			return 0;
		p++;
	}
}

struct http_te {
	int chunked;
};

/* Transfer-Encoding: only chunked, once and last (RFC 9112 6.1); any
 * other coding would need a decoder, and guessing the framing is how
 * responses get smuggled. */
static int http_te_elem(void *ctx, const char *s, size_t n)
{
	struct http_te *te = ctx;

	if (te->chunked)
		return err_set("http: transfer coding after chunked");
	if (!http_word_is(s, n, "chunked"))
		return err_set("http: transfer coding \"%.*s\" not supported",
		    (int)(n > 32 ? 32 : n), s);
	te->chunked = 1;
	return 0;
}

static int http_conn_elem(void *ctx, const char *s, size_t n)
{
	if (http_word_is(s, n, "close"))
		*(int *)ctx = 1;
	return 0;
}

static int http_parse_length(const char *v, int64_t *len)
{
	uint64_t x = 0;
	const char *p;

	if (!*v)
		return -1;
	for (p = v; *p; p++) {
		if (*p < '0' || *p > '9' || x > (uint64_t)(INT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*len = (int64_t)x;
	return 0;
}

/* The status line: "HTTP/1." digit SP 3digit [ SP reason ]. */
static int http_status_line(const char *s, struct http_resp *r)
{
	if (strncmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') ||
	    s[8] != ' ')
		return err_set("http: not an HTTP/1.x response");
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9' || (s[12] && s[12] != ' '))
		return err_set("http: bad status code");
	r->version = s[7] - '0';
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return 0;
}

/* One "name: value" line, split in place. */
static int http_field(char *s, struct http_resp *r, struct http_te *te)
{
	char *v, *e;
	int64_t len = 0;

	for (v = s; http_tchar((unsigned char)*v); v++)
		;
	if (v == s || *v != ':')
		return err_set(http_ows(*s) ? "http: obsolete line folding" :
		    "http: malformed header field");
	*v++ = 0;
	while (http_ows(*v))
		v++;
	for (e = v + strlen(v); e > v && http_ows(e[-1]); e--)
		;
	*e = 0;
	for (e = v; *e; e++)
		if ((unsigned char)*e < ' ' && *e != '\t')
			return err_set("http: control character in header %.40s", s);
	if (r->nhdr == SB_HTTP_MAX_HEADERS)
		return err_set("http: more than %d header fields", SB_HTTP_MAX_HEADERS);
	r->hdr[r->nhdr].name = s;
	r->hdr[r->nhdr++].value = v;
	if (!strcasecmp(s, "content-length")) {
		if (http_parse_length(v, &len) < 0)
			return err_set("http: bad Content-Length");
		if (r->length >= 0 && r->length != len)
			return err_set("http: conflicting Content-Length fields");
		r->length = len;
	} else if (!strcasecmp(s, "transfer-encoding")) {
		if (http_list(v, http_te_elem, te) < 0)
			return -1;
		te->chunked = te->chunked ? te->chunked : -1;
	} else if (!strcasecmp(s, "connection")) {
		http_list(v, http_conn_elem, &r->close);
	}
	return 0;
}

/* Parses a response head (status line through the empty line, NUL at
 * buf[len]) in place: header names and values become NUL-terminated
 * strings inside buf. Bare LF line ends are accepted (RFC 9112 2.2). */
static int http_parse_head(char *buf, size_t len, struct http_resp *r)
{
	struct http_te te = {0};
	char *p = buf, *end = buf + len, *nl;
	int first = 1;

	memset(r, 0, sizeof *r);
	r->length = -1;
	if (memchr(buf, 0, len))
		return err_set("http: NUL in response head");
	for (;;) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			return err_set("http: truncated response head");
		*nl = 0;
		if (nl > p && nl[-1] == '\r')
			nl[-1] = 0;
		if (strchr(p, '\r'))
			return err_set("http: stray CR in response head");
		if (first) {
			if (http_status_line(p, r) < 0)
				return -1;
			first = 0;
		} else if (!*p) {
			break;
		} else if (http_field(p, r, &te) < 0) {
			return -1;
		}
		p = nl + 1;
	}
	if (te.chunked < 0)
		return err_set("http: Transfer-Encoding does not end with chunked");
	if (te.chunked) {
		/* RFC 9112 6.3: chunked wins; the length is void and the
		 * connection is not to be trusted for another response. */
		r->chunked = 1;
		if (r->length >= 0)
			r->close = 1;
		r->length = -1;
	}
	if (r->version == 0)
		r->close = 1;
	return 0;
}

static const char *http_header_next(const struct http_resp *r, const char *name,
    size_t *i)
{
	for (; *i < r->nhdr; (*i)++)
		if (!strcasecmp(r->hdr[*i].name, name))
			return r->hdr[(*i)++].value;
	return NULL;
}

static const char *http_header(const struct http_resp *r, const char *name)
{
	size_t i = 0;

	return http_header_next(r, name, &i);
}

/* Decodes chunked framing at in[0..n): *used bytes were taken, and the
 * first *dlen of them (0 or all) are body data. Call again with the rest;
 * c->state is CH_DONE after the last chunk and the trailer section. */
static int http_chunk_step(struct http_chunk *c, const unsigned char *in,
    size_t n, size_t *used, size_t *dlen)
{
	size_t i;
	int h;

	*dlen = 0;
	if (c->state == CH_DATA) {
		*used = *dlen = n < c->left ? n : (size_t)c->left;
		if (!(c->left -= *dlen))
			c->state = CH_DATA_CR;
		return 0;
	}
	for (i = 0; i < n && c->state != CH_DATA && c->state != CH_DONE; i++) {
		unsigned char b = in[i];

		switch (c->state) {
		case CH_SIZE:
			if ((h = hexval(b)) >= 0) {
				if (c->left >> 59)
					return err_set("http: chunk size too large");
				c->left = c->left << 4 | (unsigned)h;
				c->ndigits++;
				continue;
			}
			if (!c->ndigits)
				return err_set("http: bad chunk size");
			if (b == ';' || http_ows(b)) {
				c->state = CH_EXT;
				c->line = 0;
				continue;
			}
			if (b == '\r') {
				c->state = CH_SIZE_LF;
				continue;
			}
			if (b != '\n')
				return err_set("http: bad chunk size");
			break;
		case CH_EXT:
			if (b != '\n') {
				if (++c->line > 4096)
					return err_set("http: chunk extension too long");
				continue;
			}
			break;
		case CH_SIZE_LF:
			if (b != '\n')
				return err_set("http: bad chunk size line");
			break;
		case CH_DATA_CR:
			if (b == '\r') {
				c->state = CH_DATA_LF;
				continue;
			}
			/* a bare LF is accepted */
			/* fall through */
		case CH_DATA_LF:
			if (b != '\n')
				return err_set("http: no CRLF after chunk data");
			c->state = CH_SIZE;
			c->ndigits = 0;
			continue;
		case CH_TRAILER:
			c->line = 0;
			c->state = b == '\r' ? CH_TRAILER_LF : b == '\n' ? CH_DONE :
			    CH_TRAILER_LINE;
			continue;
		case CH_TRAILER_LF:
			if (b != '\n')
				return err_set("http: bad end of chunked body");
			c->state = CH_DONE;
			continue;
		case CH_TRAILER_LINE:
			if (++c->line > SB_HTTP_HEAD_MAX)
				return err_set("http: trailer field too long");
			if (b == '\n')
				c->state = CH_TRAILER;
			continue;
		}
		/* the end of a chunk-size line */
		c->state = c->left ? CH_DATA : CH_TRAILER;
	}
	*used = i;
	return 0;
}

static int http_host_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 255)
		return 0;
	for (i = 0; i < n; i++)
		if (!ref_alnum(s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

/* An absolute http or https URL. The path keeps its percent-encoding;
 * characters that could break the request line are refused. */
static int http_url_parse(struct http_url *u, const char *s)
{
	const char *p, *a, *h, *hend, *q;
	size_t n, i;

	if (!strncasecmp(s, "https://", 8))
		u->tls = 1, p = s + 8;
	else if (!strncasecmp(s, "http://", 7))
		u->tls = 0, p = s + 7;
	else
		return err_set("url %.80s: not http or https", s);
	a = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(a - p)))
		return err_set("url %.80s: user names in URLs are not supported", s);
	if (*p == '[') {
		struct in6_addr a6;

		if (!(hend = memchr(p, ']', (size_t)(a - p))) ||
		    (size_t)(hend - p - 1) >= 64)
			return err_set("url %.80s: bad host", s);
		memcpy(u->host, p + 1, (size_t)(hend - p - 1));
		u->host[hend - p - 1] = 0;
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return err_set("url %.80s: bad host", s);
		q = hend + 1;
	} else {
		h = p;
		hend = memchr(p, ':', (size_t)(a - p));
		q = hend ? hend : a;
		if (!http_host_ok(h, (size_t)(q - h)))
			return err_set("url %.80s: bad host", s);
		memcpy(u->host, h, (size_t)(q - h));
		u->host[q - h] = 0;
	}
	u->port = u->tls ? 443 : 80;
	if (q < a && (*q != ':' || (q + 1 < a &&
	    ref_port_parse(q + 1, (size_t)(a - q - 1), &u->port) < 0)))
		return err_set("url %.80s: bad port", s);
	n = strcspn(a, "#");
	if (n + 2 > sizeof u->path)
		return err_set("url %.80s...: longer than %d bytes", s, SB_HTTP_URL_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 0x7f)
			return err_set("url %.80s: invalid character in path", s);
	strf(u->path, sizeof u->path, "%s%.*s", *a == '/' ? "" : "/", (int)n, a);
	return 0;
}

/* Resolves a Location header against the URL it answered (RFC 3986 5.2,
 * the cases servers use: absolute, scheme-relative, absolute path, and a
 * path relative to the current directory). */
static int http_url_follow(struct http_url *u, const char *loc)
{
	char tmp[SB_HTTP_URL_MAX + 300];
	const char *q;
	size_t dir;
	int r;

	if (!strncasecmp(loc, "http://", 7) || !strncasecmp(loc, "https://", 8))
		r = strf(tmp, sizeof tmp, "%s", loc);
	else if (loc[0] == '/' && loc[1] == '/')
		r = strf(tmp, sizeof tmp, "%s:%s", u->tls ? "https" : "http", loc);
	else {
		if (loc[0] == '/') {
			dir = 0;
		} else {
			q = u->path + strcspn(u->path, "?");
			while (q > u->path && q[-1] != '/')
				q--;
			dir = (size_t)(q - u->path);
		}
		r = strf(tmp, sizeof tmp, "%s://%s%s%s:%u%.*s%s",
		    u->tls ? "https" : "http", strchr(u->host, ':') ? "[" : "",
		    u->host, strchr(u->host, ':') ? "]" : "", u->port, (int)dir,
		    u->path, loc);
	}
	if (r < 0 || (size_t)r >= sizeof tmp)
		return err_set("redirect: location longer than %d bytes", SB_HTTP_URL_MAX);
	return http_url_parse(u, tmp);
}

/* ---- sockets ------------------------------------------------------------ */

/* "Connection refused" -> "connection refused": messages are lower case
 * (but "I/O error" stays). */
static const char *http_lc(const char *s, char *buf, size_t n)
{
	strf(buf, n, "%s", s);
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static int http_neterr(const char *name, int e, const char *what)
{
	char msg[128];

	http_lc(strerror(e), msg, sizeof msg);
	errno = e;
	return err_set("%s: %s%s%s", name, what ? what : "", what ? ": " : "", msg);
}

static int http_poll(struct http_conn *c, short ev, int ms)
{
	struct pollfd pf = { c->fd, ev, 0 };
	int r;

	while ((r = poll(&pf, 1, ms)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return err_sys("%s: poll", c->name);
	if (r == 0) {
		errno = ETIMEDOUT;
		return err_set("%s: %s timed out after %d ms", c->name,
		    ev == POLLIN ? "read" : "write", ms);
	}
	return 0;
}

/* Reads what has arrived, waiting up to the I/O timeout; 0 at EOF. */
static ssize_t http_recv(struct http_client *cl, struct http_conn *c, void *p,
    size_t n)
{
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return http_neterr(c->name, errno, NULL);
		if (http_poll(c, POLLIN, cl->io_timeout_ms) < 0)
			return -1;
	}
}

static ssize_t http_send_some(struct http_client *cl, struct http_conn *c,
    const void *p, size_t n)
{
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return http_neterr(c->name, errno, NULL);
		if (http_poll(c, POLLOUT, cl->io_timeout_ms) < 0)
			return -1;
	}
}

/* ---- names: numbers, /etc/hosts, DNS ------------------------------------- */

/* A name becomes addresses here, not through getaddrinfo(3): musl's
 * resolver brings stdio, qsort and its configuration machinery, some
 * 20 KB of a static binary, for what a registry name needs: a literal,
 * a line of /etc/hosts, or an A/AAAA query over UDP (RFC 1035) to the
 * nameservers of /etc/resolv.conf, with its search domains for names
 * without a dot. IPv4 addresses are tried first: routers that have IPv6
 * at all often have it half-configured. */

#define DNS_ADDRS 8

struct dns_addr {
	int family;                     /* AF_INET, AF_INET6 */
	unsigned char a[16];
};

struct dns_answer {
	struct dns_addr v[DNS_ADDRS];
	int n;
};

static void dns_add(struct dns_answer *r, int family, const void *a)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].family == family && !memcmp(r->v[i].a, a, family == AF_INET ? 4 : 16))
			return;
	if (r->n < DNS_ADDRS) {
		r->v[r->n].family = family;
		memcpy(r->v[r->n++].a, a, family == AF_INET ? 4 : 16);
	}
}

static int dns_literal(const char *name, struct dns_answer *r)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, name, a) == 1)
		dns_add(r, AF_INET, a);
	else if (inet_pton(AF_INET6, name, a) == 1)
		dns_add(r, AF_INET6, a);
	return r->n;
}

/* /etc/hosts: "ADDRESS NAME [ALIAS...]" lines, '#' comments. */
static int dns_hosts(const char *name, struct dns_answer *r)
{
	char *text = read_file("/etc/hosts", 1 << 20, NULL), *line, *next, *f, *addr;
	static const char ws[] = " \t\r";

	for (line = text; line && *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = 0;
		line[strcspn(line, "#")] = 0;
		addr = line + strspn(line, ws);
		f = addr + strcspn(addr, ws);
		while (*f) {
			size_t n;

			*f++ = 0;
			f += strspn(f, ws);
			n = strcspn(f, ws);
			if (n && n == strlen(name) && !strncasecmp(f, name, n)) {
				struct dns_answer one = { .n = 0 };

				if (dns_literal(addr, &one))
					dns_add(r, one.v[0].family, one.v[0].a);
			}
			f += n;
		}
	}
	free(text);
	if (!r->n && !strcasecmp(name, "localhost")) {
		static const unsigned char lo4[4] = { 127, 0, 0, 1 }, lo6[16] = { [15] = 1 };

		dns_add(r, AF_INET, lo4);
		dns_add(r, AF_INET6, lo6);
	}
	return r->n;
}

/* A query for name (a fully qualified one) of type 1 (A) or 28 (AAAA). */
static int dns_query(unsigned char *q, const char *name, unsigned id, int type)
{
	size_t len = 12, n;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8), q[1] = (unsigned char)id;
	q[2] = 1;                       /* recursion desired */
	q[5] = 1;                       /* one question */
	while (*p) {
		n = strcspn(p, ".");
		if (!n || n > 63 || len + n + 6 > 270)
			return -1;
		q[len++] = (unsigned char)n;
		memcpy(q + len, p, n);
		len += n;
		p += n + (p[n] == '.');
	}
	q[len++] = 0;
	q[len++] = 0, q[len++] = (unsigned char)type;
	q[len++] = 0, q[len++] = 1;     /* class IN */
	return (int)len;
}

/* Skips a (possibly compressed) name at p; NULL if it runs past end. */
static const unsigned char *dns_skip_name(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		if (*p >= 0xc0)
			return p + 2 <= end ? p + 2 : NULL;
		if (*p > 63)
			return NULL;
		if (!*p)
			return p + 1;
		p += *p + 1;
	}
	return NULL;
}

/* The A and AAAA records of a response to id; -1 if malformed or not
 * ours, else its RCODE (3: no such name). */
static int dns_parse(const unsigned char *m, size_t len, unsigned id, struct dns_answer *r)
{
	const unsigned char *p = m + 12, *end = m + len;
	unsigned an, type, rdlen;

	if (len < 12 || (unsigned)(m[0] << 8 | m[1]) != id || !(m[2] & 0x80) ||
	    (m[4] << 8 | m[5]) != 1)
		return -1;
	if (!(p = dns_skip_name(p, end)) || (p += 4) > end)
		return -1;
	for (an = (unsigned)(m[6] << 8 | m[7]); an--; p += rdlen) {
		if (!(p = dns_skip_name(p, end)) || p + 10 > end)
			break;
		type = (unsigned)(p[0] << 8 | p[1]);
		rdlen = (unsigned)(p[8] << 8 | p[9]);
		p += 10;
		if (p + rdlen > end)
			break;
		if (type == 1 && rdlen == 4)
			dns_add(r, AF_INET, p);
		else if (type == 28 && rdlen == 16)
			dns_add(r, AF_INET6, p);
	}
	return m[3] & 15;
}

/* Asks each nameserver for A and AAAA of name, two rounds of timeout_ms. */
static int dns_ask(const char *name, char (*ns)[64], int nns, int timeout_ms,
    struct dns_answer *r)
{
	unsigned char q[2][280], m[1500];
	unsigned id[2];
	int len[2], k, t, round, fd, rc = -1, answered = 0;

	if (getrandom(id, sizeof id, 0) != sizeof id)
		id[0] = (unsigned)now_ms(), id[1] = id[0] ^ 0x5a5a;
	for (t = 0; t < 2; t++)
		if ((len[t] = dns_query(q[t], name, id[t] &= 0xffff, t ? 28 : 1)) < 0)
			return err_set("not a valid host name");
	for (round = 0; round < 2 && answered < 2; round++) {
		for (k = 0; k < nns && answered < 2; k++) {
			union { struct sockaddr sa; struct sockaddr_in v4; struct sockaddr_in6 v6; } sa;
			struct pollfd pf;
			int64_t until;

			memset(&sa, 0, sizeof sa);
			if (inet_pton(AF_INET, ns[k], &sa.v4.sin_addr) == 1)
				sa.v4.sin_family = AF_INET, sa.v4.sin_port = htons(53);
			else if (inet_pton(AF_INET6, ns[k], &sa.v6.sin6_addr) == 1)
				sa.v6.sin6_family = AF_INET6, sa.v6.sin6_port = htons(53);
			else
				continue;
			if ((fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
				return err_sys("dns: socket");
			if (connect(fd, &sa.sa, sa.sa.sa_family == AF_INET ? sizeof sa.v4 : sizeof sa.v6) < 0 ||
			    send(fd, q[0], (size_t)len[0], 0) < 0 || send(fd, q[1], (size_t)len[1], 0) < 0) {
				dbg("dns: %s: %s", ns[k], strerror(errno));
				close(fd);
				continue;
			}
			pf.fd = fd, pf.events = POLLIN;
			for (until = now_ms() + timeout_ms, answered = 0; answered < 2; ) {
				int64_t left = until - now_ms();
				ssize_t n;

				if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
					break;
				if ((n = recv(fd, m, sizeof m, 0)) < 0)
					break;
				for (t = 0; t < 2; t++) {
					int code = dns_parse(m, (size_t)n, id[t], r);

					if (code >= 0) {
						answered++;
						rc = code == 3 && rc < 0 ? 3 : code == 0 ? 0 : rc;
					}
				}
			}
			close(fd);
		}
	}
	if (!answered && rc < 0)
		return err_set("no answer from the nameservers of /etc/resolv.conf");
	return r->n ? 0 : rc == 3 || rc == 0 ? 3 : err_set("the nameserver failed (rcode %d)", rc);
}

/* name into r: a literal, /etc/hosts, or DNS (search domains first for a
 * name without a dot, as the resolver's ndots:1 does). */
static int dns_resolve(const char *name, int timeout_ms, struct dns_answer *r)
{
	char ns[3][64], search[6][128], fq[300], *conf, *line, *next;
	int nns = 0, nsearch = 0, i, rc;

	memset(r, 0, sizeof *r);
	if (dns_literal(name, r) || dns_hosts(name, r))
		return 0;
	conf = read_file("/etc/resolv.conf", 1 << 16, NULL);
	for (line = conf; line && *line; line = next) {
		char *w = line;

		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = 0;
		w += strspn(w, " \t");
		if (!strncmp(w, "nameserver", 10) && strchr(" \t", w[10]) && nns < 3) {
			w += 10 + strspn(w + 10, " \t");
			strf(ns[nns++], sizeof ns[0], "%.*s", (int)strcspn(w, " \t\r#%"), w);
		} else if ((!strncmp(w, "search", 6) || !strncmp(w, "domain", 6)) && strchr(" \t", w[6])) {
			for (w += 6, nsearch = 0; nsearch < 6 && *(w += strspn(w, " \t\r")); w += strcspn(w, " \t\r"))
				strf(search[nsearch++], sizeof search[0], "%.*s", (int)strcspn(w, " \t\r"), w);
		}
	}
	free(conf);
	if (!nns)
		strcpy(ns[nns++], "127.0.0.1"); /* what resolv.conf(5) says */
	for (i = strchr(name, '.') ? nsearch : 0; i < nsearch; i++) {
		strf(fq, sizeof fq, "%s.%s", name, search[i]);
		if ((rc = dns_ask(fq, ns, nns, timeout_ms, r)) <= 0)
			return rc;
	}
	if ((rc = dns_ask(name, ns, nns, timeout_ms, r)) <= 0)
		return rc;
	return err_set("no such host");
}

/* Connects one address without blocking past the connect timeout;
 * returns 0 or an errno value. */
static int http_dial_one(struct http_client *cl, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd pf = { fd, POLLOUT, 0 };
	socklen_t elen = sizeof(int);
	int r, e = 0;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	while ((r = poll(&pf, 1, cl->connect_timeout_ms)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		return errno;
	return e;
}

static int http_dial(struct http_client *cl, struct http_conn *c)
{
	struct dns_answer r;
	int fd = -1, e = ECONNREFUSED, one = 1, i, pass;

	if (dns_resolve(c->host, 5000, &r) < 0)
		return err_ctx("%s: cannot resolve", c->name);
	for (pass = 0; pass < 2 && fd < 0; pass++) {
		for (i = 0; i < r.n && fd < 0; i++) {
			union { struct sockaddr sa; struct sockaddr_in v4; struct sockaddr_in6 v6; } sa;
			socklen_t len;

			if ((r.v[i].family == AF_INET) != !pass)
				continue; /* IPv4 first */
			memset(&sa, 0, sizeof sa);
			if (r.v[i].family == AF_INET) {
				sa.v4.sin_family = AF_INET;
				sa.v4.sin_port = htons((uint16_t)c->port);
				memcpy(&sa.v4.sin_addr, r.v[i].a, 4);
				len = sizeof sa.v4;
			} else {
				sa.v6.sin6_family = AF_INET6;
				sa.v6.sin6_port = htons((uint16_t)c->port);
				memcpy(&sa.v6.sin6_addr, r.v[i].a, 16);
				len = sizeof sa.v6;
			}
			if ((fd = socket(r.v[i].family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
				e = errno;
				continue;
			}
			if ((e = http_dial_one(cl, fd, &sa.sa, len))) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (fd < 0)
		return e == ETIMEDOUT ? err_set("%s: connect timed out after %d ms",
		    c->name, cl->connect_timeout_ms) : http_neterr(c->name, e, NULL);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	return 0;
}

/* A digit of base64's standard alphabet, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* ---- TLS ---------------------------------------------------------------- */

#if SB_WITH_TLS
/* Trust anchors from PEM files, decoded here rather than by BearSSL's PEM
 * decoder, which its interpreter makes some ten times slower: a system
 * bundle of 140 certificates took 50 ms of every pull on a fast x86_64.
 * Lines that start with '-' are markers; base64 in a certificate goes
 * straight into the X.509 decoder; everything else is comment. */
enum { PEM_OUTSIDE, PEM_IN_CERT, PEM_IN_OTHER };

struct http_taload {
	br_x509_decoder_context xd;
	unsigned char dn[1024];
	size_t dnlen;
	int dnover, state, bol, marker, bits;
	uint32_t acc;
	char line[80];
	size_t ll;
	unsigned char der[192];
	size_t dern;
	unsigned char in[4096];
};

static void http_ta_dn(void *ctx, const void *p, size_t n)
{
	struct http_taload *l = ctx;

	if (n > sizeof l->dn - l->dnlen) {
		l->dnover = 1;
		return;
	}
	memcpy(l->dn + l->dnlen, p, n);
	l->dnlen += n;
}

static unsigned char *http_ta_copy(struct http_client *cl, const void *p, size_t n)
{
	unsigned char *d = arena_alloc(&cl->ta_arena, n ? n : 1);

	if (d)
		memcpy(d, p, n);
	return d;
}

/* Keeps the decoded certificate as a trust anchor. Certificates BearSSL
 * cannot decode (key types it lacks) are skipped, as a browser would. */
static int http_ta_add(struct http_client *cl, struct http_taload *l)
{
	br_x509_pkey *pk = br_x509_decoder_get_pkey(&l->xd);
	br_x509_trust_anchor *ta;

	if (!pk || l->dnover)
		return 0;
	if (cl->nta == cl->tacap) {
		ta = realloc(cl->ta, (cl->tacap * 2 + 16) * sizeof *ta);
		if (!ta)
			return err_set("out of memory");
		cl->ta = ta;
		cl->tacap = cl->tacap * 2 + 16;
	}
	ta = &cl->ta[cl->nta];
	memset(ta, 0, sizeof *ta);
	ta->flags = br_x509_decoder_isCA(&l->xd) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (!(ta->dn.data = http_ta_copy(cl, l->dn, l->dnlen)))
		return -1;
	ta->dn.len = l->dnlen;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = http_ta_copy(cl, pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = http_ta_copy(cl, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e)
			return -1;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = http_ta_copy(cl, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (!ta->pkey.key.ec.q)
			return -1;
	}
	cl->nta++;
	return 0;
}

/* BearSSL 0.6's X.509 decoder must not be pushed to once it has failed:
 * its interpreter resumes from where the error left it and crashes (the
 * pem fuzzer found it: a damaged certificate fed in pieces). */
static void http_ta_flush(struct http_taload *l)
{
	if (!l->xd.err)
		br_x509_decoder_push(&l->xd, l->der, l->dern);
	l->dern = 0;
}

/* A whole marker line: BEGIN starts an object, END ends one. */
static int http_ta_marker(struct http_client *cl, struct http_taload *l, const char *path)
{
	l->line[l->ll] = 0;
	if (!strncmp(l->line, "-----BEGIN ", 11) && l->state == PEM_OUTSIDE) {
		if (!strcmp(l->line + 11, "CERTIFICATE-----")) {
			l->state = PEM_IN_CERT;
			br_x509_decoder_init(&l->xd, http_ta_dn, l);
			l->dnlen = 0;
			l->dnover = 0;
			l->acc = 0;
			l->bits = 0;
			l->dern = 0;
		} else {
			l->state = PEM_IN_OTHER;
		}
		return 0;
	}
	if (!strncmp(l->line, "-----END ", 9) && l->state != PEM_OUTSIDE) {
		if (l->state == PEM_IN_CERT) {
			http_ta_flush(l);
			if (http_ta_add(cl, l) < 0)
				return -1;
		}
		l->state = PEM_OUTSIDE;
		return 0;
	}
	return err_set("%s: bad PEM data: \"%.40s\"", path, l->line);
}

/* One base64 digit of a certificate: its bits into the DER bytes. */
static int http_ta_b64(struct http_taload *l, unsigned char c)
{
	int v = b64_value(c);

	if (v < 0)
		return -1;
	l->acc = l->acc << 6 | (uint32_t)v;
	if ((l->bits += 6) >= 8) {
		l->bits -= 8;
		l->der[l->dern++] = (unsigned char)(l->acc >> l->bits);
		if (l->dern == sizeof l->der)
			http_ta_flush(l);
	}
	return 0;
}

static int http_ta_feed(struct http_client *cl, struct http_taload *l,
    const unsigned char *p, size_t n, const char *path)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned char c = p[k];

		if (l->bol && c == '-')
			l->marker = 1, l->ll = 0;
		if (l->marker) {
			if (c == '\n') {
				while (l->ll && (l->line[l->ll - 1] == '\r' ||
				    l->line[l->ll - 1] == ' ' || l->line[l->ll - 1] == '\t'))
					l->ll--;
				l->marker = 0;
				if (http_ta_marker(cl, l, path) < 0)
					return -1;
			} else if (l->ll < sizeof l->line - 1) {
				l->line[l->ll++] = (char)c;
			}
		} else if (l->state == PEM_IN_CERT && c > ' ' && c != '=' &&
		    http_ta_b64(l, c) < 0) {
			return err_set("%s: bad PEM data: byte 0x%02x in base64", path, c);
		}
		l->bol = c == '\n';
	}
	return 0;
}

/* After the last byte: a last line without its newline ends, and every
 * object must have. */
static int http_ta_end(struct http_client *cl, struct http_taload *l, const char *path)
{
	if (http_ta_feed(cl, l, (const unsigned char *)"\n", 1, path) < 0)
		return -1;
	if (l->state != PEM_OUTSIDE)
		return err_set("%s: bad PEM data: an object without its END line", path);
	return 0;
}

/* Streams a PEM file into trust anchors: memory is one 4 KB read buffer
 * and the decoder's context, whatever the file's size. Certificates
 * BearSSL cannot decode (key types it lacks) are skipped. */
static int http_ta_load(struct http_client *cl, const char *path)
{
	struct http_taload *l = calloc(1, sizeof *l);
	size_t before = cl->nta;
	ssize_t r;
	int fd = -1, ret = -1;

	if (!l)
		return err_set("out of memory");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		err_sys("open %s", path);
		goto out;
	}
	l->bol = 1;
	while ((r = read(fd, l->in, sizeof l->in)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_sys("read %s", path);
			goto out;
		}
		if (http_ta_feed(cl, l, l->in, (size_t)r, path) < 0)
			goto out;
	}
	if (http_ta_end(cl, l, path) < 0)
		goto out;
	if (cl->nta == before) {
		err_set("%s: no usable certificate", path);
		goto out;
	}
	dbg("tls: %zu trust anchors from %s", cl->nta - before, path);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(l);
	return ret;
}

static int http_ta_load_all(struct http_client *cl)
{
	const char *const *e;
	const char *ca = cl->ca_file ? cl->ca_file : SB_CA_BUNDLE;

	if (cl->ta_loaded)
		return 0;
	if (*ca && http_ta_load(cl, ca) < 0)
		return -1;
	for (e = cl->extra_ca; e && *e; e++)
		if (http_ta_load(cl, *e) < 0)
			return -1;
	if (!cl->nta)
		return err_set("tls: no trust anchors (no CA file given)");
	cl->ta_loaded = 1;
	return 0;
}

/* One DER TLV at *p (low tag numbers only, as in certificates). */
static int der_tlv(const unsigned char **p, const unsigned char *end,
    unsigned *tag, const unsigned char **val, size_t *len)
{
	const unsigned char *s = *p;
	size_t n, k;

	if (end - s < 2 || (s[0] & 0x1f) == 0x1f)
		return -1;
	*tag = s[0];
	n = s[1];
	s += 2;
	if (n & 0x80) {
		k = n & 0x7f;
		if (k == 0 || k > 3 || (size_t)(end - s) < k)
			return -1;
		for (n = 0; k--; )
			n = n << 8 | *s++;
	}
	if ((size_t)(end - s) < n)
		return -1;
	*val = s;
	*len = n;
	*p = s + n;
	return 0;
}

/* Does the certificate's subjectAltName list this iPAddress (RFC 5280
 * 4.2.1.6: [7] IMPLICIT OCTET STRING of 4 or 16 bytes)? */
static int http_san_has_ip(const unsigned char *der, size_t n,
    const unsigned char *ip, size_t iplen)
{
	static const unsigned char san[] = { 0x55, 0x1d, 0x11 };	/* 2.5.29.17 */
	const unsigned char *p = der, *end = der + n, *v, *e, *eend, *oid, *g, *gend;
	size_t len, oidlen;
	unsigned tag = 0;

	if (der_tlv(&p, end, &tag, &v, &len) || tag != 0x30)
		return 0;
	p = v;
	if (der_tlv(&p, v + len, &tag, &v, &len) || tag != 0x30)	/* tbs */
		return 0;
	for (p = v, end = v + len; p < end; )
		if (der_tlv(&p, end, &tag, &v, &len) || tag == 0xa3)
			break;
	if (tag != 0xa3 || (p = v, der_tlv(&p, v + len, &tag, &v, &len)) ||
	    tag != 0x30)
		return 0;
	for (p = v, end = v + len; p < end; ) {
		if (der_tlv(&p, end, &tag, &e, &len) || tag != 0x30)
			return 0;
		eend = e + len;
		if (der_tlv(&e, eend, &tag, &oid, &oidlen) || tag != 0x06 ||
		    der_tlv(&e, eend, &tag, &v, &len))
			return 0;
		if (tag == 0x01 && der_tlv(&e, eend, &tag, &v, &len))
			return 0;
		if (tag != 0x04 || oidlen != sizeof san || memcmp(oid, san, sizeof san))
			continue;
		g = v;
		if (der_tlv(&g, v + len, &tag, &v, &len) || tag != 0x30)
			return 0;
		for (g = v, gend = v + len; g < gend; ) {
			if (der_tlv(&g, gend, &tag, &v, &len))
				return 0;
			if (tag == 0x87 && len == iplen && !memcmp(v, ip, iplen))
				return 1;
		}
	}
	return 0;
}

static struct http_x509 *http_x509_of(const br_x509_class *const *ctx)
{
	return (struct http_x509 *)(void *)ctx;
}

static void http_x509_start_chain(const br_x509_class **ctx, const char *name)
{
	struct http_x509 *x = http_x509_of(ctx);

	x->ncert = 0;
	x->eelen = 0;
	x->eeover = 0;
	x->mini.vtable->start_chain(&x->mini.vtable, name);
}

static void http_x509_start_cert(const br_x509_class **ctx, uint32_t len)
{
	struct http_x509 *x = http_x509_of(ctx);
	unsigned char *p;

	if (x->iplen && !x->ncert) {
		if (len > 65536) {
			x->eeover = 1;
		} else if (len > x->eecap) {
			if ((p = realloc(x->ee, len))) {
				x->ee = p;
				x->eecap = len;
			} else {
				x->eeover = 1;
			}
		}
	}
	x->mini.vtable->start_cert(&x->mini.vtable, len);
}

static void http_x509_append(const br_x509_class **ctx, const unsigned char *p,
    size_t n)
{
	struct http_x509 *x = http_x509_of(ctx);

	if (x->iplen && !x->ncert && !x->eeover) {
		if (n > x->eecap - x->eelen) {
			x->eeover = 1;
		} else {
			memcpy(x->ee + x->eelen, p, n);
			x->eelen += n;
		}
	}
	x->mini.vtable->append(&x->mini.vtable, p, n);
}

static void http_x509_end_cert(const br_x509_class **ctx)
{
	struct http_x509 *x = http_x509_of(ctx);

	x->ncert++;
	x->mini.vtable->end_cert(&x->mini.vtable);
}

static unsigned http_x509_end_chain(const br_x509_class **ctx)
{
	struct http_x509 *x = http_x509_of(ctx);
	unsigned r = x->mini.vtable->end_chain(&x->mini.vtable);

	if (r)
		return r;
	if (x->iplen && (x->eeover ||
	    !http_san_has_ip(x->ee, x->eelen, x->ip, x->iplen)))
		return BR_ERR_X509_BAD_SERVER_NAME;
	return 0;
}

static const br_x509_pkey *http_x509_get_pkey(const br_x509_class *const *ctx,
    unsigned *usages)
{
	struct http_x509 *x = http_x509_of(ctx);

	return x->mini.vtable->get_pkey(&x->mini.vtable, usages);
}

static const br_x509_class http_x509_vtable = {
	sizeof(struct http_x509),
	http_x509_start_chain, http_x509_start_cert, http_x509_append,
	http_x509_end_cert, http_x509_end_chain, http_x509_get_pkey
};

/* BearSSL's client profile cut to TLS 1.2 with ECDHE and AEAD suites:
 * what registries and CDNs serve, at a fraction of init_full's code.
 * AES-GCM first where BearSSL has AES-NI; ChaCha20 first elsewhere
 * (BearSSL 0.6 has no ARMv8 AES, and constant-time software AES is slow). */
static void http_tls_profile(struct http_client *cl, struct http_tls *t)
{
	static const uint16_t suites[] = {
#if defined(__x86_64__)
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
#else
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
#endif
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	static const br_hash_class *const hashes[] = {
		&br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable
	};
	br_ssl_engine_context *e = &t->sc.eng;
	br_x509_minimal_context *xc = &t->x.mini;
	unsigned char seed[32];
	size_t i;

	br_ssl_client_zero(&t->sc);
	br_ssl_engine_set_versions(e, BR_TLS12, BR_TLS12);
	br_x509_minimal_init(xc, &br_sha256_vtable, cl->ta, cl->nta);
	br_ssl_engine_set_suites(e, suites, LEN(suites));
	br_ssl_engine_set_default_rsavrfy(e);
	br_ssl_engine_set_default_ecdsa(e);
	br_x509_minimal_set_rsa(xc, br_ssl_engine_get_rsavrfy(e));
	br_x509_minimal_set_ecdsa(xc, br_ssl_engine_get_ec(e),
	    br_ssl_engine_get_ecdsa(e));
	for (i = 0; i < LEN(hashes); i++) {
		int id = (int)(hashes[i]->desc >> BR_HASHDESC_ID_OFF &
		    BR_HASHDESC_ID_MASK);

		br_ssl_engine_set_hash(e, id, hashes[i]);
		br_x509_minimal_set_hash(xc, id, hashes[i]);
	}
	br_ssl_engine_set_prf_sha256(e, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(e, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(e);
	br_ssl_engine_set_default_chapol(e);
	t->x.vtable = &http_x509_vtable;
	br_ssl_engine_set_x509(e, &t->x.vtable);
	br_ssl_engine_set_buffer(e, t->iobuf, sizeof t->iobuf, 1);
	/* BearSSL reads /dev/urandom itself; getrandom() also works where
	 * /dev is not mounted (early boot, a bare chroot). */
	if (getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed)
		br_ssl_engine_inject_entropy(e, seed, sizeof seed);
	explicit_bzero(seed, sizeof seed);
}

static const char *http_tls_why(int err, char *buf, size_t n)
{
	switch (err) {
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate for another name";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate signed by an unknown authority";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired or not yet valid (check the clock)";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "certificate validity: the current time is unknown";
	case BR_ERR_X509_NOT_CA:
		return "certificate chain: an issuer is not a CA";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate chain: bad signature";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate: public key too weak";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "certificate: key usage does not allow a TLS server";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "certificate: unsupported critical extension";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "the server sent no certificate";
	case BR_ERR_UNSUPPORTED_VERSION:	/* a record that is not TLS at all */
		return "not a TLS server (plain http? then name it with --insecure-registry)";
	case BR_ERR_BAD_VERSION:
		return "tls: the server does not speak TLS 1.2";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "tls: the server chose a cipher suite not offered";
	case BR_ERR_NO_RANDOM:
		return "tls: no entropy source";
	}
	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT)
		strf(buf, n, "tls: the server sent alert %d%s",
		    err - BR_ERR_RECV_FATAL_ALERT,
		    err - BR_ERR_RECV_FATAL_ALERT == 40 ? " (handshake failure: no "
		    "common cipher suite? ECDHE with AES-GCM or ChaCha20 is needed)" :
		    err - BR_ERR_RECV_FATAL_ALERT == 112 ? " (unrecognized name)" : "");
	else if (err >= BR_ERR_SEND_FATAL_ALERT)
		strf(buf, n, "tls: alert %d sent to the server",
		    err - BR_ERR_SEND_FATAL_ALERT);
	else if (err >= BR_ERR_X509_OK && err < BR_ERR_X509_OK + 32)
		strf(buf, n, "certificate: X.509 error %d", err);
	else
		strf(buf, n, "tls: error %d", err);
	return buf;
}

/* Runs the engine until its state has a bit of `want` (0), the peer closed
 * (1), or an error (-1, with the handshake's certificate errors). BearSSL's
 * br_sslio run_until, with the socket I/O under poll timeouts. */
static int http_tls_run(struct http_client *cl, struct http_conn *c, unsigned want)
{
	br_ssl_engine_context *e = &c->t->sc.eng;
	unsigned char *buf;
	size_t len;
	ssize_t r;
	char why[160];

	for (;;) {
		unsigned st = br_ssl_engine_current_state(e);

		if (st & BR_SSL_CLOSED) {
			int err = br_ssl_engine_last_error(e);

			if (err == BR_ERR_OK)
				return 1;
			return err_set("%s: %s", c->name, http_tls_why(err, why, sizeof why));
		}
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(e, &len);
			if ((r = http_send_some(cl, c, buf, len)) < 0)
				return -1;
			br_ssl_engine_sendrec_ack(e, (size_t)r);
			continue;
		}
		if (st & want)
			return 0;
		if (st & BR_SSL_RECVAPP)
			return err_set("%s: unexpected data from the server", c->name);
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(e, &len);
			if ((r = http_recv(cl, c, buf, len)) < 0)
				return -1;
			if (r == 0)
				return 1;
			br_ssl_engine_recvrec_ack(e, (size_t)r);
			continue;
		}
		br_ssl_engine_flush(e, 0);
	}
}

static int http_tls_start(struct http_client *cl, struct http_conn *c)
{
	struct http_tls *t = c->t;
	struct in_addr a4;
	struct in6_addr a6;
	int resume;

	if (http_ta_load_all(cl) < 0)
		return -1;
	if (!t) {
		if (!(t = c->t = calloc(1, sizeof *t)))
			return err_set("out of memory");
		http_tls_profile(cl, t);
	}
	t->x.iplen = 0;
	if (inet_pton(AF_INET, c->host, &a4) == 1)
		memcpy(t->x.ip, &a4, t->x.iplen = 4);
	else if (inet_pton(AF_INET6, c->host, &a6) == 1)
		memcpy(t->x.ip, &a6, t->x.iplen = 16);
	resume = !strcmp(t->last, c->name);
	strf(t->last, sizeof t->last, "%s", c->name);
	/* No SNI for an address (RFC 6066 3); the wrapper checks it instead. */
	if (!br_ssl_client_reset(&t->sc, t->x.iplen ? NULL : c->host, resume))
		return err_set("%s: tls: cannot start (error %d)", c->name,
		    br_ssl_engine_last_error(&t->sc.eng));
	return 0;
}

static void http_tls_free(struct http_conn *c)
{
	if (c->t) {
		free(c->t->x.ee);
		explicit_bzero(c->t, sizeof *c->t);
		free(c->t);
		c->t = NULL;
	}
}
#endif /* SB_WITH_TLS */

/* ---- connections -------------------------------------------------------- */

static void http_conn_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = 0;
	c->roff = c->rlen = 0;
}

static void http_init(struct http_client *cl)
{
	size_t i;

	memset(cl, 0, sizeof *cl);
	for (i = 0; i < LEN(cl->conn); i++)
		cl->conn[i].fd = -1;
	cl->connect_timeout_ms = SB_HTTP_CONNECT_TIMEOUT_MS;
	cl->io_timeout_ms = SB_HTTP_IO_TIMEOUT_MS;
}

static void http_free(struct http_client *cl)
{
	size_t i;

	for (i = 0; i < LEN(cl->conn); i++) {
		http_conn_close(&cl->conn[i]);
		free(cl->conn[i].rbuf);
#if SB_WITH_TLS
		http_tls_free(&cl->conn[i]);
#endif
	}
#if SB_WITH_TLS
	free(cl->ta);
	arena_free(&cl->ta_arena);
#endif
	http_init(cl);
}

static void http_origin(char *buf, size_t n, const char *host, unsigned port)
{
	int v6 = strchr(host, ':') != NULL;

	strf(buf, n, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* An open connection to the URL's origin, or a new one in the least
 * recently used slot. */
static struct http_conn *http_conn_get(struct http_client *cl,
    const struct http_url *u)
{
	struct http_conn *c, *pick = NULL;
	char name[300];
	size_t i;

	http_origin(name, sizeof name, u->host, u->port);
#if !SB_WITH_TLS
	if (u->tls)
		return err_set("%s: https is not built in (SB_WITH_TLS=0)", name), NULL;
#endif
	for (i = 0; i < LEN(cl->conn); i++) {
		c = &cl->conn[i];
		if (c->fd >= 0 && c->tls == u->tls && c->port == u->port &&
		    !strcasecmp(c->host, u->host)) {
			c->used = ++cl->clock;
			return c;
		}
	}
	/* a closed slot, preferably one whose TLS session may resume; else
	 * the least recently used */
	for (i = 0; i < LEN(cl->conn); i++) {
		c = &cl->conn[i];
		if (c->fd < 0) {
#if SB_WITH_TLS
			if (c->t && u->tls && !strcmp(c->t->last, name)) {
				pick = c;
				break;
			}
#endif
			if (!pick || pick->fd >= 0)
				pick = c;
		} else if (!pick || (pick->fd >= 0 && c->used < pick->used)) {
			pick = c;
		}
	}
	c = pick;
	http_conn_close(c);
	c->tls = u->tls;
	c->port = u->port;
	c->used = ++cl->clock;
	strf(c->host, sizeof c->host, "%s", u->host);
	strf(c->name, sizeof c->name, "%s", name);
	if (http_dial(cl, c) < 0)
		return NULL;
	dbg("http: connected to %s", c->name);
#if SB_WITH_TLS
	if (c->tls && http_tls_start(cl, c) < 0) {
		http_conn_close(c);
		return NULL;
	}
#endif
	if (!c->tls && !c->rbuf && !(c->rbuf = malloc(HTTP_RBUF))) {
		http_conn_close(c);
		return err_set("out of memory"), NULL;
	}
	return c;
}

static int http_send(struct http_client *cl, struct http_conn *c, const char *p,
    size_t n)
{
	ssize_t r;

#if SB_WITH_TLS
	if (c->tls) {
		br_ssl_engine_context *e = &c->t->sc.eng;
		unsigned char *buf;
		size_t len;

		while (n) {
			if ((r = http_tls_run(cl, c, BR_SSL_SENDAPP)) != 0)
				goto closed;
			buf = br_ssl_engine_sendapp_buf(e, &len);
			len = len < n ? len : n;
			memcpy(buf, p, len);
			br_ssl_engine_sendapp_ack(e, len);
			p += len;
			n -= len;
		}
		br_ssl_engine_flush(e, 0);
		if ((r = http_tls_run(cl, c, BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0)
			goto closed;
		return 0;
	}
#endif
	while (n) {
		if ((r = http_send_some(cl, c, p, n)) < 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
#if SB_WITH_TLS
closed:
	return r < 0 ? -1 : err_set("%s: connection closed by the server", c->name);
#endif
}

/* Makes received bytes available at *p (*n of them; 0: the peer closed). */
static int http_peek(struct http_client *cl, struct http_conn *c,
    const unsigned char **p, size_t *n)
{
	ssize_t r;

#if SB_WITH_TLS
	if (c->tls) {
		if ((r = http_tls_run(cl, c, BR_SSL_RECVAPP)) < 0)
			return -1;
		*n = 0;
		if (r == 0)
			*p = br_ssl_engine_recvapp_buf(&c->t->sc.eng, n);
		return 0;
	}
#endif
	if (c->roff == c->rlen) {
		if ((r = http_recv(cl, c, c->rbuf, HTTP_RBUF)) < 0)
			return -1;
		c->roff = 0;
		c->rlen = (size_t)r;
	}
	*p = c->rbuf + c->roff;
	*n = c->rlen - c->roff;
	return 0;
}

static void http_consume(struct http_conn *c, size_t n)
{
#if SB_WITH_TLS
	if (c->tls) {
		br_ssl_engine_recvapp_ack(&c->t->sc.eng, n);
		return;
	}
#endif
	c->roff += n;
}

/* Reads up to and including the empty line that ends the head. -2: the
 * connection failed before any byte came (a kept-alive connection the
 * server had closed: worth one retry). */
static int http_read_head(struct http_client *cl, struct http_conn *c, size_t *len)
{
	size_t h = 0, n, i;
	const unsigned char *p;
	char *d = cl->head;

	for (;;) {
		if (http_peek(cl, c, &p, &n) < 0)
			return h ? -1 : -2;
		if (!n) {
			if (!h)
				return err_set("%s: connection closed by the server",
				    c->name), -2;
			return err_set("%s: connection closed in the response head",
			    c->name);
		}
		for (i = 0; i < n; i++) {
			if (h == sizeof cl->head - 1)
				return err_set("%s: response head larger than %d bytes",
				    c->name, SB_HTTP_HEAD_MAX);
			d[h++] = (char)p[i];
			if (p[i] == '\n' && h >= 2 && (d[h - 2] == '\n' ||
			    (h >= 3 && d[h - 2] == '\r' && d[h - 3] == '\n'))) {
				http_consume(c, i + 1);
				d[h] = 0;
				*len = h;
				return 0;
			}
		}
		http_consume(c, n);
	}
}

/* One request and its response head on one connection. -2: retry on a
 * new connection (see http_read_head). */
static int http_exchange(struct http_client *cl, const struct http_url *u,
    const struct buf *req, int head_only)
{
	struct http_conn *c = http_conn_get(cl, u);
	struct http_resp *r = &cl->resp;
	size_t len = 0;
	int reused, rc;

	if (!c)
		return -1;
	reused = c->reused;
	if (http_send(cl, c, req->p, req->len) < 0) {
		rc = -2;
		goto fail;
	}
	do {
		if ((rc = http_read_head(cl, c, &len)) < 0)
			goto fail;
		rc = -1;
		if (http_parse_head(cl->head, len, r) < 0) {
			err_ctx("%s", c->name);
			goto fail;
		}
		if (r->status == 101) {
			err_set("%s: unexpected 101 Switching Protocols", c->name);
			goto fail;
		}
	} while (r->status < 200);	/* 100 Continue, 103 Early Hints */
	c->reused = 1;
	cl->cur = c;
	if (head_only || r->status == 204 || r->status == 304) {
		cl->body = HTTP_BODY_NONE;
	} else if (r->chunked) {
		cl->body = HTTP_BODY_CHUNKED;
		memset(&cl->chunk, 0, sizeof cl->chunk);
	} else if (r->length >= 0) {
		cl->body = r->length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
		cl->left = (uint64_t)r->length;
	} else {
		cl->body = HTTP_BODY_CLOSE;
		r->close = 1;
	}
	return 0;
fail:
	http_conn_close(c);
	return rc == -2 && reused ? -2 : -1;
}

/* Bytes past the end of the response: a server that sends them cannot be
 * trusted with the next one. */
static int http_leftover(struct http_conn *c)
{
#if SB_WITH_TLS
	if (c->tls)
		return (br_ssl_engine_current_state(&c->t->sc.eng) & BR_SSL_RECVAPP) != 0;
#endif
	return c->roff != c->rlen;
}

/* The current response is done with: keep its connection if the body was
 * read to its end and the server did not ask to close. */
static void http_release(struct http_client *cl, int complete)
{
	if (!cl->cur)
		return;
	if (!complete || cl->resp.close || http_leftover(cl->cur))
		http_conn_close(cl->cur);
	cl->cur = NULL;
}

static int http_body(struct http_client *cl, http_sink sink, void *ctx)
{
	struct http_conn *c = cl->cur;
	const unsigned char *p;
	size_t n, used, dlen;

	if (!c)
		return err_set("http: no response body to read");
	while (cl->body != HTTP_BODY_NONE) {
		if (http_peek(cl, c, &p, &n) < 0)
			goto fail;
		if (!n) {
			if (cl->body == HTTP_BODY_CLOSE)
				break;
			err_set("%s: connection closed before the end of the body",
			    c->name);
			goto fail;
		}
		used = dlen = n;
		if (cl->body == HTTP_BODY_LENGTH) {
			used = dlen = n < cl->left ? n : (size_t)cl->left;
			cl->left -= used;
		} else if (cl->body == HTTP_BODY_CHUNKED &&
		    http_chunk_step(&cl->chunk, p, n, &used, &dlen) < 0) {
			err_ctx("%s", c->name);
			goto fail;
		}
		if (dlen && sink(ctx, p, dlen) < 0)
			goto fail;
		http_consume(c, used);
		if ((cl->body == HTTP_BODY_LENGTH && !cl->left) ||
		    (cl->body == HTTP_BODY_CHUNKED && cl->chunk.state == CH_DONE))
			cl->body = HTTP_BODY_NONE;
	}
	http_release(cl, 1);
	return 0;
fail:
	http_release(cl, 0);
	return -1;
}

struct http_bufsink {
	struct buf *b;
	size_t max;
};

static int http_buf_sink(void *ctx, const void *p, size_t n)
{
	struct http_bufsink *s = ctx;

	if (n > s->max - s->b->len)
		return err_set("response body larger than %zu bytes", s->max);
	buf_put(s->b, p, n);
	return s->b->oom ? err_set("out of memory") : 0;
}

/* Reads a small body whole (NUL-terminated in b). */
static int http_body_buf(struct http_client *cl, struct buf *b, size_t max)
{
	struct http_bufsink s = { b, max };

	buf_put(b, "", 0);
	if (b->oom)
		return err_set("out of memory");
	if (cl->resp.length > (int64_t)max) {
		http_release(cl, 0);
		return err_set("response body of %lld bytes, larger than %zu",
		    (long long)cl->resp.length, max);
	}
	return http_body(cl, http_buf_sink, &s);
}

static int http_discard_sink(void *ctx, const void *p, size_t n)
{
	size_t *left = ctx;

	(void)p;
	if (n > *left)
		return -1;
	*left -= n;
	return 0;
}

/* Skips a body not wanted (an error page, a redirect's): up to 64 KB is
 * read to keep the connection; past that it is cheaper to close it. */
static void http_discard(struct http_client *cl)
{
	size_t left = 65536;

	if (!cl->cur)
		return;
	if (cl->body == HTTP_BODY_LENGTH && cl->left > left)
		http_release(cl, 0);
	else
		http_body(cl, http_discard_sink, &left);
}

static int http_is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

static int http_same_origin(const struct http_url *a, const struct http_url *b)
{
	return a->tls == b->tls && a->port == b->port && !strcasecmp(a->host, b->host);
}

static void http_build(struct buf *b, const struct http_req *rq,
    const struct http_url *u, int auth)
{
	char host[300];
	int v6 = strchr(u->host, ':') != NULL;

	if (u->port == (u->tls ? 443u : 80u))
		strf(host, sizeof host, "%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "");
	else
		http_origin(host, sizeof host, u->host, u->port);
	b->len = 0;
	buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " SB_HTTP_AGENT "\r\n",
	    rq->method ? rq->method : "GET", u->path, host);
	if (rq->accept)
		buf_printf(b, "Accept: %s\r\n", rq->accept);
	if (auth && rq->auth)
		buf_printf(b, "Authorization: %s\r\n", rq->auth);
	if (rq->from)
		buf_printf(b, "Range: bytes=%llu-\r\n", (unsigned long long)rq->from);
	buf_puts(b, "\r\n");
}

static int http_value_ok(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < ' ' && *s != '\t')
			return 0;
	return 1;
}

/* Sends rq, following redirects; on return cl->resp is the final response
 * and its body is pending (http_body, http_body_buf or http_discard). */
static int http_request(struct http_client *cl, const struct http_req *rq)
{
	struct http_url *u = &cl->url;
	struct buf req = {0};
	char loc[SB_HTTP_URL_MAX + 300], origin[300];
	int hops, r = -1, tls, head = rq->method && !strcmp(rq->method, "HEAD");
	struct http_url first;
	const char *l;

	http_release(cl, 0);
	if (!http_value_ok(rq->auth) || !http_value_ok(rq->accept))
		return err_set("http: control character in a request header");
	if (http_url_parse(u, rq->url) < 0)
		return -1;
	first = *u;
	http_origin(origin, sizeof origin, first.host, first.port);
	for (hops = 0;; hops++) {
		if (!u->tls && !cl->allow_http) {
			err_set("%s: plain http is not allowed (not an insecure "
			    "registry)", origin);
			goto out;
		}
		http_build(&req, rq, u, http_same_origin(u, &first));
		if (req.oom) {
			err_set("out of memory");
			goto out;
		}
		dbg("http: %s %s://%s:%u%.*s%s", rq->method ? rq->method : "GET",
		    u->tls ? "https" : "http", u->host, u->port,
		    (int)strcspn(u->path, "?"), u->path, strchr(u->path, '?') ? "?..." : "");
		if ((r = http_exchange(cl, u, &req, head)) == -2)
			r = http_exchange(cl, u, &req, head);
		if (r < 0)
			goto out;
		dbg("http: status %d", cl->resp.status);
		r = -1;
		if (!http_is_redirect(cl->resp.status) ||
		    !(l = http_header(&cl->resp, "location")))
			break;
		if (hops == SB_HTTP_MAX_REDIRECTS || strlen(l) >= sizeof loc) {
			http_release(cl, 0);
			err_set(hops == SB_HTTP_MAX_REDIRECTS ? "%s: more than %d redirects" :
			    "%s: redirect location longer than %d bytes", origin,
			    hops == SB_HTTP_MAX_REDIRECTS ? SB_HTTP_MAX_REDIRECTS :
			    (int)sizeof loc);
			goto out;
		}
		strcpy(loc, l);
		http_discard(cl);
		tls = u->tls;
		if (http_url_follow(u, loc) < 0)
			goto out;
		if (tls && !u->tls) {
			err_set("%s: redirect from https to http refused", origin);
			goto out;
		}
	}
	r = 0;
out:
	buf_free(&req);
	return r;
}

/* ============================================================= reg === */

/* The registry API (OCI distribution spec, Docker registry v2) for pulls:
 *
 *   struct reg_client *rc = calloc(1, sizeof *rc);
 *   struct reg_opts o = { .platform = "linux/arm/v7" };   or zeros
 *   reg_open(rc, "busybox", &o);
 *   struct reg_image img = {0};
 *   reg_manifest(rc, &img);          the image manifest for the platform:
 *                                    img.config, img.layers[i], img.digest
 *   reg_blob(rc, &img.layers[i], sink, ctx);   streams, resumes, verifies
 *   reg_image_free(&img);  reg_close(rc);
 *
 * Manifests: asked for with an Accept of the OCI index and manifest and
 * Docker's list and schema 2 types; read into memory (SB_MANIFEST_MAX),
 * their sha256 checked against the reference's digest, the index entry's
 * digest and size, and Docker-Content-Digest. From an index, the entry for
 * the platform (os/arch/variant, normalised: aarch64 = arm64/v8, armhf =
 * arm/v7; arm/v7 accepts v6 and v5 images if there is no v7) is chosen,
 * attestation manifests skipped. Schema 1 is refused.
 *
 * Blobs: the sink sees every byte once, in order; a dropped transfer is
 * resumed with Range (SB_REG_RETRIES times, with backoff); size and sha256
 * are checked at the end, so the data is unverified until reg_blob
 * returns 0 (unpack to a temporary place, commit after).
 *
 * Auth: anonymous; on 401, the WWW-Authenticate challenges are parsed:
 * Bearer (token from the realm with service and scope, sending Basic
 * credentials if there are some; "token" or "access_token" in the reply)
 * or Basic. Credentials: user and password, or a docker config.json's
 * "auths" entry for the registry. Tokens and credentials are never
 * printed, even by dbg, and are wiped from memory when replaced.
 *
 * Plain http only with opts.insecure; docker.io's API is at
 * registry-1.docker.io. struct reg_client is about 34 KB (the HTTP client
 * and parsed challenges): allocate it, or make it static; reg_close is
 * safe after a failed reg_open. A pull of 25 MB over https peaks at about
 * 340 KB RSS for the whole static program (430 KB with Debian's CA
 * bundle loaded). */

#define REG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define REG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define REG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REG_ACCEPT REG_MT_OCI_INDEX ", " REG_MT_DOCKER_LIST ", " \
	REG_MT_OCI_MANIFEST ", " REG_MT_DOCKER_MANIFEST

struct reg_opts {
	const char *platform;		/* "os/arch[/variant]"; NULL: this build's */
	const char *ca_file;		/* NULL: SB_CA_BUNDLE */
	const char *const *extra_ca;	/* more PEM files, NULL-terminated */
	const char *auth_file;		/* docker config.json, or NULL */
	const char *user, *password;	/* Basic credentials (before auth_file) */
	int insecure;			/* plain http to this registry */
	int timeout_ms;			/* I/O timeout; 0: SB_HTTP_IO_TIMEOUT_MS */
};

struct reg_platform {
	char os[16], arch[16], variant[16];
};

struct reg_challenge {
	char scheme[16];	/* lower case */
	char realm[1024];
	char service[256];
	char scope[1024];
	char error[64];
};

#define REG_CHALLENGES 4

struct reg_client {
	struct http_client http;
	struct ref ref;
	struct reg_platform want;
	char base[320];		/* https://host:port */
	char *basic;		/* "Basic <base64>", or NULL */
	char *authz;		/* what Authorization carries now, or NULL */
	struct reg_challenge ch[REG_CHALLENGES];
};

struct reg_desc {
	const char *media_type;	/* in the image's arena */
	char digest[72];
	uint64_t size;
};

struct reg_image {
	struct arena a;
	char *manifest;		/* the image manifest as served (arena) */
	size_t manifest_len;
	char digest[72];	/* its sha256 */
	const char *media_type;
	char index_digest[72];	/* the index it was chosen from, or "" */
	char platform[64];	/* the index entry's platform, or "" */
	struct reg_desc config;
	struct reg_desc *layers;
	size_t nlayers;
};

/* ---- small encodings ---------------------------------------------------- */

static const char reg_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* out holds 4 * ((n + 2) / 3) + 1 bytes. */
static void reg_b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *s = in;
	uint32_t v;

	for (; n >= 3; n -= 3, s += 3) {
		v = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
		*out++ = reg_b64[v >> 18];
		*out++ = reg_b64[v >> 12 & 63];
		*out++ = reg_b64[v >> 6 & 63];
		*out++ = reg_b64[v & 63];
	}
	if (n) {
		v = (uint32_t)s[0] << 16 | (n > 1 ? (uint32_t)s[1] << 8 : 0);
		*out++ = reg_b64[v >> 18];
		*out++ = reg_b64[v >> 12 & 63];
		*out++ = n > 1 ? reg_b64[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = 0;
}

/* Standard alphabet, padding required; out holds n / 4 * 3 bytes. */
static int reg_b64_decode(const char *in, size_t n, unsigned char *out,
    size_t *outlen)
{
	size_t i, o = 0;
	uint32_t v = 0;
	int pad = 0;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i++) {
		int d = b64_value((unsigned char)in[i]);

		if (in[i] == '=' && i >= n - 2 && (i == n - 1 || in[n - 1] == '='))
			pad++, d = 0;
		else if (d < 0 || pad)
			return -1;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(v >> 16);
			out[o++] = (unsigned char)(v >> 8);
			out[o++] = (unsigned char)v;
		}
	}
	*outlen = o - (size_t)pad;
	return 0;
}

static void reg_pct(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (ref_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			buf_put(b, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			buf_put(b, e, 3);
		}
	}
}

/* Replaces a secret string, wiping the old one. */
static void reg_secret_set(char **slot, char *s)
{
	if (*slot) {
		explicit_bzero(*slot, strlen(*slot));
		free(*slot);
	}
	*slot = s;
}

/* Frees an arena that held secrets, wiping it first. */
static void reg_arena_wipe(struct arena *a)
{
	struct arena_blk *b;

	for (b = a->head; b; b = b->next)
		explicit_bzero(b->data, b->used);
	arena_free(a);
}

/* ---- WWW-Authenticate (RFC 9110 11.6.1) --------------------------------- */

struct reg_lex {
	const char *p;
};

static void reg_lex_ows(struct reg_lex *l)
{
	while (http_ows(*l->p))
		l->p++;
}

static size_t reg_lex_token(struct reg_lex *l)
{
	const char *s = l->p;

	while (http_tchar((unsigned char)*l->p))
		l->p++;
	return (size_t)(l->p - s);
}

/* token / quoted-string into out (NUL-terminated); the value must fit. */
static int reg_lex_value(struct reg_lex *l, char *out, size_t size)
{
	size_t n = 0;

	if (*l->p != '"') {
		const char *s = l->p;
		size_t k = reg_lex_token(l);

		if (!k)
			return err_set("www-authenticate: missing parameter value");
		if (k >= size)
			return err_set("www-authenticate: parameter value too long");
		memcpy(out, s, k);
		out[k] = 0;
		return 0;
	}
	for (l->p++; *l->p != '"'; l->p++) {
		if (*l->p == '\\' && l->p[1])
			l->p++;
		if (!*l->p)
			return err_set("www-authenticate: unterminated quoted string");
		if ((unsigned char)*l->p < ' ' && *l->p != '\t')
			return err_set("www-authenticate: control character");
		if (n + 1 >= size)
			return err_set("www-authenticate: parameter value too long");
		out[n++] = *l->p;
	}
	l->p++;
	out[n] = 0;
	return 0;
}

/* A token68 credential after the scheme: token68 chars, then '='s, then
 * the end of the challenge. */
static int reg_lex_token68(struct reg_lex *l)
{
	const char *q = l->p;

	while (ref_alnum(*q) || (*q && strchr("-._~+/", *q)))
		q++;
	if (q == l->p)
		return 0;
	while (*q == '=')
		q++;
	while (http_ows(*q))
		q++;
	if (*q && *q != ',')
		return 0;
	l->p = q;
	return 1;
}

static char *reg_challenge_param(struct reg_challenge *c, const char *name,
    size_t n, size_t *size)
{
	if (http_word_is(name, n, "realm"))
		return *size = sizeof c->realm, c->realm;
	if (http_word_is(name, n, "service"))
		return *size = sizeof c->service, c->service;
	if (http_word_is(name, n, "scope"))
		return *size = sizeof c->scope, c->scope;
	if (http_word_is(name, n, "error"))
		return *size = sizeof c->error, c->error;
	return NULL;
}

/* auth-params of one challenge, up to the next scheme or the end. */
static int reg_challenge_params(struct reg_lex *l, struct reg_challenge *c)
{
	char junk[1024], *dst;
	const char *name;
	size_t n, size;

	for (;;) {
		while (*l->p == ',' || http_ows(*l->p))
			l->p++;
		if (!*l->p)
			return 0;
		name = l->p;
		if (!(n = reg_lex_token(l)))
			return err_set("www-authenticate: bad parameter");
		reg_lex_ows(l);
		if (*l->p != '=') {	/* a token alone: the next scheme */
			l->p = name;
			return 0;
		}
		l->p++;
		reg_lex_ows(l);
		dst = c ? reg_challenge_param(c, name, n, &size) : NULL;
		if (dst && *dst)
			return err_set("www-authenticate: parameter %.*s given twice",
			    (int)n, name);
		if (reg_lex_value(l, dst ? dst : junk, dst ? size : sizeof junk) < 0)
			return -1;
		reg_lex_ows(l);
		if (*l->p && *l->p != ',')
			return err_set("www-authenticate: expected ',' after a parameter");
	}
}

/* Parses a WWW-Authenticate value: comma-separated challenges, each
 * scheme [ token68 | #auth-param ]. Fills up to max (more are checked and
 * dropped) and returns how many were kept, or -1. */
static int reg_auth_parse(const char *v, struct reg_challenge *ch, int max)
{
	struct reg_lex l = { v };
	int n = 0;
	size_t k, i;
	const char *s;

	for (;;) {
		/* one past max is parsed (and checked) all the same, then dropped */
		struct reg_challenge spare, *c = n < max ? &ch[n] : &spare;

		while (*l.p == ',' || http_ows(*l.p))
			l.p++;
		if (!*l.p)
			return n;
		s = l.p;
		if (!(k = reg_lex_token(&l)))
			return err_set("www-authenticate: expected an auth scheme");
		memset(c, 0, sizeof *c);
		for (i = 0; i < k && i < sizeof c->scheme - 1; i++)
			c->scheme[i] = (char)tolower((unsigned char)s[i]);
		if (k >= sizeof c->scheme)
			c->scheme[0] = 0;
		n += n < max;
		if (*l.p && *l.p != ',' && !http_ows(*l.p))
			return err_set("www-authenticate: bad auth scheme");
		reg_lex_ows(&l);
		if (!reg_lex_token68(&l) && reg_challenge_params(&l, c) < 0)
			return -1;
	}
}

/* ---- platforms ------------------------------------------------------------ */

/* The platform this binary was built for. */
static const char *reg_platform_default(void)
{
#if defined(__x86_64__)
	return "linux/amd64";
#elif defined(__aarch64__)
	return "linux/arm64/v8";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
	return "linux/arm/v7";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH == 6
	return "linux/arm/v6";
#elif defined(__riscv) && __riscv_xlen == 64
	return "linux/riscv64";
#elif defined(__mips__) && defined(__MIPSEL__) && !defined(__mips64)
	return "linux/mipsle";
#elif defined(__i386__)
	return "linux/386";
#else
	return NULL;
#endif
}

/* Names as Go and containerd spell them: aarch64 = arm64 (variant v8),
 * armhf = arm/v7, armel = arm/v6, x86_64 = amd64, mipsel = mipsle. */
static void reg_platform_norm(struct reg_platform *p)
{
	static const char *const alias[][3] = {
		{ "x86_64", "amd64", "" }, { "x86-64", "amd64", "" },
		{ "aarch64", "arm64", "" }, { "armhf", "arm", "v7" },
		{ "armel", "arm", "v6" }, { "i386", "386", "" },
		{ "i686", "386", "" }, { "mipsel", "mipsle", "" },
		{ "mips64el", "mips64le", "" },
	};
	size_t i;
	char *s;

	for (s = p->os; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (s = p->arch; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (s = p->variant; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (i = 0; i < LEN(alias); i++) {
		if (strcmp(p->arch, alias[i][0]))
			continue;
		strcpy(p->arch, alias[i][1]);
		if (!p->variant[0])
			strcpy(p->variant, alias[i][2]);
	}
	if (!strcmp(p->arch, "arm64") && (!p->variant[0] || !strcmp(p->variant, "8")))
		strcpy(p->variant, "v8");
	if (!strcmp(p->arch, "arm")) {
		if (!p->variant[0])
			strcpy(p->variant, "v7");
		else if (p->variant[0] >= '5' && p->variant[0] <= '8' && !p->variant[1])
			p->variant[1] = p->variant[0], p->variant[0] = 'v',
			    p->variant[2] = 0;
	}
	if (!strcmp(p->arch, "amd64") && !strcmp(p->variant, "v1"))
		p->variant[0] = 0;
}

static int reg_platform_word(char *dst, size_t size, const char *s, size_t n)
{
	size_t i;

	if (!n || n >= size)
		return -1;
	for (i = 0; i < n; i++)
		if (!ref_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* "os/arch[/variant]" */
static int reg_platform_parse(struct reg_platform *p, const char *s)
{
	const char *a = strchr(s, '/'), *v = a ? strchr(a + 1, '/') : NULL;

	memset(p, 0, sizeof *p);
	if (!a || reg_platform_word(p->os, sizeof p->os, s, (size_t)(a - s)) < 0 ||
	    reg_platform_word(p->arch, sizeof p->arch, a + 1,
	    v ? (size_t)(v - a - 1) : strlen(a + 1)) < 0 ||
	    (v && reg_platform_word(p->variant, sizeof p->variant, v + 1,
	    strlen(v + 1)) < 0))
		return err_set("platform \"%.64s\": expected os/arch[/variant]", s);
	reg_platform_norm(p);
	return 0;
}

static void reg_platform_str(const struct reg_platform *p, char *buf, size_t n)
{
	strf(buf, n, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "",
	    p->variant);
}

/* 0: cannot run; higher is better: the same variant, else for arm an
 * older one (a v7 CPU runs v6 and v5 code). */
static int reg_platform_score(const struct reg_platform *want,
    const struct reg_platform *have)
{
	if (strcmp(want->os, have->os) || strcmp(want->arch, have->arch))
		return 0;
	if (!strcmp(want->variant, have->variant))
		return 100;
	if (!strcmp(want->arch, "arm") && want->variant[0] == 'v' &&
	    have->variant[0] == 'v' && have->variant[1] >= '5' &&
	    have->variant[1] < want->variant[1] && !have->variant[2])
		return 50 + have->variant[1] - '0';
	return 0;
}

/* ---- manifests -------------------------------------------------------- */

/* A string member, or NULL when absent, not a string, or holding a NUL. */
static const char *reg_jstr(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	if (!v || v->type != JSON_STRING || strlen(v->str) != v->len)
		return NULL;
	return v->str;
}

static int reg_desc_parse(const struct json *d, struct reg_desc *out,
    const char *what)
{
	const struct json *size = json_get(d, "size");
	const char *dg = reg_jstr(d, "digest");
	uint8_t bin[32];

	if (!d || d->type != JSON_OBJECT)
		return err_set("%s: not a descriptor object", what);
	if (!(out->media_type = reg_jstr(d, "mediaType")))
		return err_set("%s: no mediaType", what);
	if (!dg)
		return err_set("%s: no digest", what);
	if (sha_parse(dg, strlen(dg), bin) < 0)
		return err_ctx("%s", what);
	sha_hex(bin, out->digest);
	if (!size || size->type != JSON_NUMBER || !size->isint || size->neg ||
	    size->u > (uint64_t)INT64_MAX)
		return err_set("%s: size is not a non-negative integer", what);
	out->size = size->u;
	return 0;
}

enum { REG_INDEX = 1, REG_IMAGE };

/* Is this an index or an image manifest? The body's mediaType (which the
 * digest covers) wins over Content-Type; without either, the shape tells. */
static int reg_manifest_kind(const struct json *root, const char *ctype,
    const char **mtp)
{
	const struct json *sv = json_get(root, "schemaVersion");
	const struct json *m = json_get(root, "manifests"), *l = json_get(root, "layers");
	const char *mt = reg_jstr(root, "mediaType");

	if (!root || root->type != JSON_OBJECT)
		return err_set("manifest: not a JSON object");
	if (!mt)
		mt = ctype && *ctype ? ctype : "";
	*mtp = mt;
	if (!strncmp(mt, "application/vnd.docker.distribution.manifest.v1", 47))
		return err_set("manifest: schema 1 manifests are not supported");
	if (!sv || sv->type != JSON_NUMBER || !sv->isint || sv->neg || sv->u != 2)
		return err_set("manifest: schemaVersion is not 2");
	if (m && l)
		return err_set("manifest: both manifests and layers: ambiguous");
	if (!strcmp(mt, REG_MT_OCI_INDEX) || !strcmp(mt, REG_MT_DOCKER_LIST) ||
	    ((!*mt || !strcmp(mt, "application/json")) && m)) {
		if (!m || m->type != JSON_ARRAY)
			return err_set("manifest: index without a manifests array");
		return REG_INDEX;
	}
	if (!strcmp(mt, REG_MT_OCI_MANIFEST) || !strcmp(mt, REG_MT_DOCKER_MANIFEST) ||
	    ((!*mt || !strcmp(mt, "application/json")) && l)) {
		if (!l || l->type != JSON_ARRAY)
			return err_set("manifest: no layers array");
		return REG_IMAGE;
	}
	return err_set("manifest: unsupported media type \"%.100s\"", mt);
}

/* Attestations (buildx provenance, SBOM) sit in indexes as unknown/unknown
 * with a vnd.docker.reference.type annotation; they are not images. */
static int reg_is_attestation(const struct json *e, const struct reg_platform *p)
{
	const char *t = reg_jstr(json_get(e, "annotations"),
	    "vnd.docker.reference.type");

	return (t && !strcmp(t, "attestation-manifest")) ||
	    (!strcmp(p->os, "unknown") && !strcmp(p->arch, "unknown"));
}

static int reg_entry_platform(const struct json *e, struct reg_platform *p)
{
	const struct json *pl = json_get(e, "platform");
	const char *os = reg_jstr(pl, "os"), *arch = reg_jstr(pl, "architecture");
	const char *var = reg_jstr(pl, "variant");

	memset(p, 0, sizeof *p);
	if (!os || !arch || strlen(os) >= sizeof p->os ||
	    strlen(arch) >= sizeof p->arch ||
	    (var && strlen(var) >= sizeof p->variant))
		return -1;
	strcpy(p->os, os);
	strcpy(p->arch, arch);
	if (var)
		strcpy(p->variant, var);
	reg_platform_norm(p);
	return 0;
}

/* The index entry that best runs on want; the message lists what the
 * index has when nothing fits. */
static const struct json *reg_index_pick(const struct json *idx,
    const struct reg_platform *want, struct reg_platform *got)
{
	const struct json *e, *best = NULL;
	struct reg_platform p;
	char have[256] = "", one[64], w[64];
	int score, top = 0;
	size_t hl = 0;

	for (e = json_get(idx, "manifests")->child; e; e = e->next) {
		if (reg_entry_platform(e, &p) < 0 || reg_is_attestation(e, &p))
			continue;
		reg_platform_str(&p, one, sizeof one);
		if (hl < sizeof have - 1)
			hl += (size_t)strf(have + hl, sizeof have - hl, "%s%s",
			    hl ? ", " : "", one);
		if ((score = reg_platform_score(want, &p)) > top) {
			top = score;
			best = e;
			*got = p;
		}
	}
	if (!best) {
		reg_platform_str(want, w, sizeof w);
		err_set("no image for %s in the index (it has: %s)", w,
		    hl ? have : "nothing usable");
	}
	return best;
}

static int reg_image_layers(struct reg_image *img, const struct json *root)
{
	const struct json *l = json_get(root, "layers"), *e;
	char what[32];
	size_t i = 0;

	if (reg_desc_parse(json_get(root, "config"), &img->config, "manifest config") < 0)
		return -1;
	img->layers = arena_alloc(&img->a, (l->n ? l->n : 1) * sizeof *img->layers);
	if (!img->layers)
		return -1;
	for (e = l->child; e; e = e->next, i++) {
		strf(what, sizeof what, "manifest layer %zu", i + 1);
		if (reg_desc_parse(e, &img->layers[i], what) < 0)
			return -1;
	}
	img->nlayers = i;
	return 0;
}

/* ---- requests and auth ------------------------------------------------ */

static void reg_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* The message for an unexpected status, with the registry's error code and
 * message when the body has them ({"errors":[{"code","message"}]}). */
static int reg_status_err(struct http_client *cl, const char *who, const char *path)
{
	struct buf b = {0};
	struct arena a = {0};
	const struct json *root = NULL, *e;
	const char *code = NULL, *msg = NULL;
	char detail[200] = "";
	int st = cl->resp.status;

	if (http_body_buf(cl, &b, 16384) == 0 && b.len) {
		if ((root = json_parse(&a, b.p, b.len)) &&
		    (e = json_get(root, "errors")) && e->type == JSON_ARRAY && e->child) {
			code = reg_jstr(e->child, "code");
			msg = reg_jstr(e->child, "message");
			strf(detail, sizeof detail, ": %.40s%s%.120s", code ? code : "",
			    code && msg ? " " : "", msg ? msg : "");
		} else if (!root && b.p[0] != '<' && b.p[0] != '{') {
			/* plain text, e.g. Go's "Client sent an HTTP request
			 * to an HTTPS server." (not HTML or other JSON) */
			strf(detail, sizeof detail, ": %.*s",
			    (int)strcspn(b.p, "\r\n"), b.p);
		}
		reg_clean(detail);
	}
	arena_free(&a);
	buf_free(&b);
	return err_set("%s: HTTP %d on %s%s", who, st, path, detail);
}

static int reg_token_ok(const char *t)
{
	size_t n = strlen(t);

	if (!n || n > 65536)
		return 0;
	for (; *t; t++)
		if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

/* GET realm?service=..&scope=.. (Docker's token protocol); Basic
 * credentials go along when configured. */
static int reg_token(struct reg_client *rc, const struct reg_challenge *c)
{
	struct http_client *cl = &rc->http;
	struct buf url = {0}, body = {0};
	struct arena a = {0};
	struct http_req rq = { "GET", NULL, rc->basic, "application/json", 0 };
	const struct json *root;
	const char *tok, *s, *e;
	char *bearer, who[320], path[256], defscope[300];
	int r = -1;

	buf_puts(&url, c->realm);
	if (c->service[0]) {
		buf_puts(&url, strchr(c->realm, '?') ? "&service=" : "?service=");
		reg_pct(&url, c->service);
	}
	strf(defscope, sizeof defscope, "repository:%s:pull", rc->ref.path);
	/* several scopes are separated by spaces: one parameter each */
	for (s = c->scope[0] ? c->scope : defscope; *s; s = e) {
		char one[1024];

		s += strspn(s, " ");
		e = s + strcspn(s, " ");
		if (e == s)
			break;
		strf(one, sizeof one, "%.*s", (int)(e - s), s);
		buf_puts(&url, strchr(url.p, '?') ? "&scope=" : "?scope=");
		reg_pct(&url, one);
	}
	if (url.oom)
		return err_set("out of memory");
	rq.url = url.p;
	if (http_request(cl, &rq) < 0)
		goto out;
	memcpy(who, "token server ", 13);
	http_origin(who + 13, sizeof who - 13, cl->url.host, cl->url.port);
	strf(path, sizeof path, "%.*s", (int)strcspn(cl->url.path, "?"),
	    cl->url.path);
	dbg("reg: %s: status %d", who, cl->resp.status);
	if (cl->resp.status != 200) {
		reg_status_err(cl, who, path);
		err_ctx("%s: authentication failed", rc->ref.domain);
		goto out;
	}
	if (http_body_buf(cl, &body, 1 << 20) < 0 ||
	    !(root = json_parse(&a, body.p, body.len))) {
		err_ctx("%s", who);
		goto out;
	}
	tok = reg_jstr(root, "token");
	if (!tok || !*tok)
		tok = reg_jstr(root, "access_token");
	if (!tok || !reg_token_ok(tok)) {
		err_set("%s: no usable token in the reply", who);
		goto out;
	}
	if (!(bearer = malloc(strlen(tok) + 8))) {
		err_set("out of memory");
		goto out;
	}
	strf(bearer, strlen(tok) + 8, "Bearer %s", tok);
	reg_secret_set(&rc->authz, bearer);
	r = 0;
out:
	if (body.p)
		explicit_bzero(body.p, body.len);
	reg_arena_wipe(&a);	/* the parsed token */
	buf_free(&body);
	buf_free(&url);
	return r;
}

/* After a 401: pick a challenge and get credentials for it. */
static int reg_authenticate(struct reg_client *rc)
{
	struct http_client *cl = &rc->http;
	const char *v;
	char *copy;
	size_t i = 0;
	int n = 0, k, pick = -1;

	while (n < REG_CHALLENGES - 1 &&
	    (v = http_header_next(&cl->resp, "www-authenticate", &i))) {
		if ((k = reg_auth_parse(v, rc->ch + n, REG_CHALLENGES - 1 - n)) < 0)
			return err_ctx("%s", rc->ref.domain);
		n += k;
	}
	http_discard(cl);
	for (k = 0; k < n; k++)
		if (!strcmp(rc->ch[k].scheme, "bearer") && rc->ch[k].realm[0] &&
		    pick < 0)
			pick = k;
	if (pick >= 0) {
		if (!strcmp(rc->ch[pick].error, "insufficient_scope") && rc->authz &&
		    !strncmp(rc->authz, "Bearer ", 7))
			return err_set("%s: access denied (insufficient scope)",
			    rc->ref.domain);
		return reg_token(rc, &rc->ch[pick]);
	}
	for (k = 0; k < n; k++) {
		if (strcmp(rc->ch[k].scheme, "basic"))
			continue;
		if (!rc->basic)
			return err_set("%s: authentication required, and no "
			    "credentials for it", rc->ref.domain);
		if (!(copy = strdup(rc->basic)))
			return err_set("out of memory");
		reg_secret_set(&rc->authz, copy);
		return 0;
	}
	return err_set("%s: HTTP 401 without a usable WWW-Authenticate challenge",
	    rc->ref.domain);
}

/* GET from the registry with the current credentials; a 401 runs the
 * challenge once and retries. The response is left in rc->http. */
static int reg_get(struct reg_client *rc, const char *path, const char *accept,
    uint64_t from)
{
	char url[1024];
	int tries;

	if ((size_t)strf(url, sizeof url, "%s%s", rc->base, path) >= sizeof url)
		return err_set("%s: URL too long", rc->ref.domain);
	for (tries = 0;; tries++) {
		struct http_req rq = { "GET", url, rc->authz, accept, from };

		if (http_request(&rc->http, &rq) < 0)
			return -1;
		if (rc->http.resp.status != 401 || tries == 1)
			return 0;
		if (reg_authenticate(rc) < 0)
			return -1;
	}
}

/* Docker's config.json "auths": keys are "host[:port]", with or without
 * a scheme and path ("https://index.docker.io/v1/" is docker.io). */
static int reg_auth_key_is(const char *key, const char *domain)
{
	const char *k = key;
	size_t n;

	if (!strncasecmp(k, "https://", 8))
		k += 8;
	else if (!strncasecmp(k, "http://", 7))
		k += 7;
	n = strcspn(k, "/");
	if (!strcmp(domain, "docker.io") && (http_word_is(k, n, "index.docker.io") ||
	    http_word_is(k, n, "registry-1.docker.io")))
		return 1;
	return http_word_is(k, n, domain);
}

static int reg_basic_set(struct reg_client *rc, const char *user, const char *pass)
{
	size_t n = strlen(user) + strlen(pass) + 1;
	char *plain = malloc(n + 1), *hdr = malloc(4 * ((n + 2) / 3) + 8);

	if (!plain || !hdr) {
		free(plain);
		free(hdr);
		return err_set("out of memory");
	}
	strf(plain, n + 1, "%s:%s", user, pass);
	memcpy(hdr, "Basic ", 6);
	reg_b64_encode(plain, n, hdr + 6);
	explicit_bzero(plain, n);
	free(plain);
	reg_secret_set(&rc->basic, hdr);
	return 0;
}

static int reg_auth_file(struct reg_client *rc, const char *path)
{
	struct arena a = {0};
	const struct json *root, *auths, *e;
	const char *au, *user, *pass;
	unsigned char *dec = NULL;
	size_t len, dlen;
	char *text = read_file(path, 1 << 20, &len), *colon;
	int r = -1;

	if (!text)
		return -1;
	if (!(root = json_parse(&a, text, len))) {
		err_ctx("%s", path);
		goto out;
	}
	auths = json_get(root, "auths");
	for (e = auths && auths->type == JSON_OBJECT ? auths->child : NULL; e; e = e->next)
		if (reg_auth_key_is(e->key, rc->ref.domain))
			break;
	r = 0;
	if (!e)
		goto out;
	if ((au = reg_jstr(e, "auth")) && *au) {
		r = -1;
		dlen = strlen(au);
		if (!(dec = malloc(dlen / 4 * 3 + 1)) ||
		    reg_b64_decode(au, dlen, dec, &dlen) < 0 ||
		    !(colon = memchr(dec, ':', dlen))) {
			err_set("%s: auths.%s.auth is not base64 of user:password",
			    path, e->key);
			goto out;
		}
		dec[dlen] = 0;
		*colon = 0;
		r = reg_basic_set(rc, (char *)dec, colon + 1);
		explicit_bzero(dec, dlen);
	} else if ((user = reg_jstr(e, "username")) && (pass = reg_jstr(e, "password"))) {
		r = reg_basic_set(rc, user, pass);
	} else if (reg_jstr(e, "identitytoken")) {
		dbg("reg: %s: identitytoken is not supported", path);
	}
out:
	free(dec);
	explicit_bzero(text, len);
	free(text);
	reg_arena_wipe(&a);
	return r;
}

static void reg_close(struct reg_client *rc)
{
	http_free(&rc->http);
	reg_secret_set(&rc->basic, NULL);
	reg_secret_set(&rc->authz, NULL);
}

static int reg_open(struct reg_client *rc, const char *reference,
    const struct reg_opts *o)
{
	const char *plat = o->platform ? o->platform : reg_platform_default();
	char host[300];

	memset(rc, 0, sizeof *rc);
	http_init(&rc->http);
	if (ref_parse(&rc->ref, reference) < 0)
		return -1;
	if (!plat)
		return err_set("no default platform for this build: give one");
	if (reg_platform_parse(&rc->want, plat) < 0)
		return -1;
	rc->http.ca_file = o->ca_file;
	rc->http.extra_ca = o->extra_ca;
	rc->http.allow_http = o->insecure;
	if (o->timeout_ms > 0)
		rc->http.io_timeout_ms = o->timeout_ms;
	http_origin(host, sizeof host, rc->ref.host,
	    rc->ref.port ? rc->ref.port : o->insecure ? 80 : 443);
	strf(rc->base, sizeof rc->base, "%s://%s", o->insecure ? "http" : "https",
	    host);
	if (o->user) {
		if (strchr(o->user, ':'))
			return err_set("user name with ':'");
		return reg_basic_set(rc, o->user, o->password ? o->password : "");
	}
	if (o->auth_file && reg_auth_file(rc, o->auth_file) < 0) {
		reg_close(rc);
		return -1;
	}
	return 0;
}

/* ---- manifests over the wire ------------------------------------------ */

/* The media type in Content-Type, without parameters. */
static void reg_ctype(const struct http_resp *r, char *buf, size_t n)
{
	const char *v = http_header(r, "content-type");
	size_t k = v ? strcspn(v, "; \t") : 0;

	strf(buf, n, "%.*s", (int)(k < n ? k : n - 1), v ? v : "");
}

/* GETs a manifest by tag or digest into the arena and checks its digest
 * (against `want` when given, and against Docker-Content-Digest). */
static int reg_fetch(struct reg_client *rc, const char *tagdig, const char *want,
    int64_t size, struct reg_image *img, char **raw, size_t *len,
    char digest[72], char *ctype, size_t ctlen)
{
	struct http_client *cl = &rc->http;
	struct buf b = {0};
	char path[512], who[REF_STR_MAX];
	const char *hd;
	uint8_t sum[32], hb[32];
	int r = -1;

	strf(path, sizeof path, "/v2/%s/manifests/%s", rc->ref.path, tagdig);
	strf(who, sizeof who, "%s/%s%s%s", rc->ref.domain, rc->ref.path,
	    want ? "@" : ":", tagdig);
	if (size > SB_MANIFEST_MAX)
		return err_set("%s: manifest of %lld bytes, more than %d", who,
		    (long long)size, SB_MANIFEST_MAX);
	if (reg_get(rc, path, REG_ACCEPT, 0) < 0)
		return -1;
	if (cl->resp.status != 200)
		return reg_status_err(cl, rc->ref.domain, path);
	reg_ctype(&cl->resp, ctype, ctlen);
	hd = http_header(&cl->resp, "docker-content-digest");
	if (http_body_buf(cl, &b, SB_MANIFEST_MAX) < 0) {
		err_ctx("%s: manifest", who);
		goto out;
	}
	sha_sum(b.p, b.len, sum);
	sha_hex(sum, digest);
	if (want && strcmp(want, digest)) {
		err_set("%s: manifest digest mismatch: got %s", who, digest);
		goto out;
	}
	if (hd && !strncmp(hd, "sha256:", 7) && (sha_parse(hd, strlen(hd), hb) < 0 ||
	    memcmp(hb, sum, 32))) {
		err_set("%s: Docker-Content-Digest %.80s, but the manifest hashes "
		    "to %s", who, hd, digest);
		goto out;
	}
	if (size >= 0 && (uint64_t)b.len != (uint64_t)size) {
		err_set("%s: manifest of %zu bytes, the index says %lld", who,
		    b.len, (long long)size);
		goto out;
	}
	if (!(*raw = arena_strndup(&img->a, b.p, b.len)))
		goto out;
	*len = b.len;
	r = 0;
out:
	buf_free(&b);
	return r;
}

static void reg_image_free(struct reg_image *img)
{
	arena_free(&img->a);
	memset(img, 0, sizeof *img);
}

/* Resolves the reference to the image manifest for the platform. */
static int reg_manifest(struct reg_client *rc, struct reg_image *img)
{
	const struct json *root, *pick;
	struct reg_platform got;
	struct reg_desc d;
	char digest[72], ctype[128], *raw = NULL;
	const char *want = rc->ref.digest[0] ? rc->ref.digest : NULL;
	size_t len = 0;
	int64_t size = -1;
	int kind, depth;

	memset(img, 0, sizeof *img);
	for (depth = 0;; depth++) {
		if (reg_fetch(rc, want ? want : rc->ref.tag, want, size, img, &raw,
		    &len, digest, ctype, sizeof ctype) < 0)
			return -1;
		if (!(root = json_parse(&img->a, raw, len)) ||
		    (kind = reg_manifest_kind(root, ctype, &img->media_type)) < 0)
			return err_ctx("%s: manifest %s", rc->ref.domain, digest);
		/* it may be ctype, which lives here */
		if (!(img->media_type = arena_strdup(&img->a, img->media_type)))
			return -1;
		if (kind == REG_IMAGE)
			break;
		if (depth == 2)
			return err_set("%s: indexes nested too deep", rc->ref.domain);
		if (!depth)
			strcpy(img->index_digest, digest);
		if (!(pick = reg_index_pick(root, &rc->want, &got)))
			return err_ctx("%s/%s", rc->ref.domain, rc->ref.path);
		if (reg_desc_parse(pick, &d, "index entry") < 0)
			return err_ctx("%s: manifest %s", rc->ref.domain, digest);
		reg_platform_str(&got, img->platform, sizeof img->platform);
		if (!(want = arena_strdup(&img->a, d.digest)))
			return -1;
		size = (int64_t)d.size;
		dbg("reg: %s: %s for %s", digest, want, img->platform);
	}
	img->manifest = raw;
	img->manifest_len = len;
	strcpy(img->digest, digest);
	if (reg_image_layers(img, root) < 0)
		return err_ctx("%s: manifest %s", rc->ref.domain, digest);
	return 0;
}

/* ---- blobs -------------------------------------------------------------- */

struct reg_blobctx {
	struct sha_ctx h;
	uint64_t got, want, skip;
	http_sink sink;
	void *ctx;
	int fatal;		/* not worth a retry */
	const char *digest;
};

static int reg_blob_sink(void *v, const void *p, size_t n)
{
	struct reg_blobctx *b = v;
	const unsigned char *s = p;
	size_t k;

	if (b->skip) {	/* the server ignored Range: drop what we have */
		k = n < b->skip ? n : (size_t)b->skip;
		s += k;
		n -= k;
		b->skip -= k;
		if (!n)
			return 0;
	}
	if (n > b->want - b->got) {
		b->fatal = 1;
		return err_set("blob %s: more than the %llu bytes of its descriptor",
		    b->digest, (unsigned long long)b->want);
	}
	sha_update(&b->h, s, n);
	b->got += n;
	if (b->sink(b->ctx, s, n) < 0) {
		b->fatal = 1;
		return -1;
	}
	return 0;
}

/* "bytes first-last/total": does the range start where we are? */
static int reg_range_ok(const char *v, uint64_t from)
{
	uint64_t x = 0;

	if (!v || strncasecmp(v, "bytes ", 6))
		return 0;
	for (v += 6; *v >= '0' && *v <= '9'; v++) {
		if (x > UINT64_MAX / 10 - 1)
			return 0;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	return *v == '-' && x == from;
}

static int reg_blob_try(struct reg_client *rc, const char *path,
    struct reg_blobctx *b)
{
	struct http_client *cl = &rc->http;
	int st;
	uint64_t expect;

	if (reg_get(rc, path, NULL, b->got) < 0)
		return -1;
	st = cl->resp.status;
	if (st == 206 && b->got &&
	    reg_range_ok(http_header(&cl->resp, "content-range"), b->got)) {
		expect = b->want - b->got;
	} else if (st == 200) {
		b->skip = b->got;
		expect = b->want;
	} else {
		if (st < 500 && st != 429 && st != 408)
			b->fatal = 1;
		return reg_status_err(cl, rc->ref.domain, path);
	}
	if (cl->resp.length >= 0 && (uint64_t)cl->resp.length != expect) {
		b->fatal = 1;
		http_release(cl, 0);
		return err_set("blob %s: the server sends %lld bytes, the descriptor "
		    "says %llu", b->digest, (long long)cl->resp.length,
		    (unsigned long long)expect);
	}
	if (http_body(cl, reg_blob_sink, b) < 0)
		return -1;
	if (b->got != b->want)
		return err_set("blob %s: connection ended at %llu of %llu bytes",
		    b->digest, (unsigned long long)b->got, (unsigned long long)b->want);
	return 0;
}

static int reg_blob(struct reg_client *rc, const struct reg_desc *d,
    http_sink sink, void *ctx)
{
	struct reg_blobctx b;
	char path[512], hex[72];
	uint8_t sum[32];
	int attempt;

	memset(&b, 0, sizeof b);
	sha_init(&b.h);
	b.want = d->size;
	b.sink = sink;
	b.ctx = ctx;
	b.digest = d->digest;
	strf(path, sizeof path, "/v2/%s/blobs/%s", rc->ref.path, d->digest);
	for (attempt = 0; reg_blob_try(rc, path, &b) < 0; attempt++) {
		if (b.fatal || attempt == SB_REG_RETRIES)
			return -1;
		dbg("reg: %s: retry %d at byte %llu", sb_error(), attempt + 1,
		    (unsigned long long)b.got);
		sleep_ms(500 << attempt);
	}
	sha_final(&b.h, sum);
	sha_hex(sum, hex);
	if (strcmp(hex, d->digest))
		return err_set("blob %s: digest mismatch: got %s", d->digest, hex);
	return 0;
}

/* A small blob (the config) read whole; *out is malloc'd, NUL-terminated. */
static int reg_blob_read(struct reg_client *rc, const struct reg_desc *d,
    size_t max, char **out)
{
	struct buf b = {0};
	struct http_bufsink s = { &b, max };

	*out = NULL;
	if (d->size > max)
		return err_set("blob %s: %llu bytes, more than %zu", d->digest,
		    (unsigned long long)d->size, max);
	buf_put(&b, "", 0);
	if (b.oom || reg_blob(rc, d, http_buf_sink, &s) < 0) {
		if (b.oom)
			err_set("out of memory");
		buf_free(&b);
		return -1;
	}
	*out = b.p;
	return 0;
}

#endif /* SB_WITH_IMAGES */
/* ========================================================== config === */

/* config.json (OCI runtime-spec 1.2) into struct sb_config. Everything is
 * checked here, before anything is created: a wrong type, an unknown
 * capability or a limit this runtime cannot apply is an error naming its
 * JSON path. Unknown members are ignored, as the spec requires; members the
 * spec defines but sandbox does not implement are refused, never dropped. */

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

static const char *const capset_names[SB_CAP_SETS] = {
	"bounding", "effective", "inheritable", "permitted", "ambient"
};

static const struct { const char *name; int res; } rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

/* The spec's namespace names, indexed by enum sb_ns, with their flags. */
static const struct { const char *name; int flag; const char *proc; } ns_info[] = {
	[SB_NS_PID] = { "pid", CLONE_NEWPID, "pid" },
	[SB_NS_NET] = { "network", CLONE_NEWNET, "net" },
	[SB_NS_MNT] = { "mount", CLONE_NEWNS, "mnt" },
	[SB_NS_IPC] = { "ipc", CLONE_NEWIPC, "ipc" },
	[SB_NS_UTS] = { "uts", CLONE_NEWUTS, "uts" },
	[SB_NS_USER] = { "user", CLONE_NEWUSER, "user" },
	[SB_NS_CGROUP] = { "cgroup", CLONE_NEWCGROUP, "cgroup" },
	[SB_NS_TIME] = { "time", 0x80 /* CLONE_NEWTIME */, "time" },
};

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#define MNT_ATTR_RDONLY 0x1
#define MNT_ATTR_NOSUID 0x2
#define MNT_ATTR_NODEV 0x4
#define MNT_ATTR_NOEXEC 0x8
#define MNT_ATTR_ATIME 0x70
#define MNT_ATTR_RELATIME 0x0
#define MNT_ATTR_NOATIME 0x10
#define MNT_ATTR_STRICTATIME 0x20
#define MNT_ATTR_NODIRATIME 0x80
#define MNT_ATTR_NOSYMFOLLOW 0x200000

enum { OPT_SET, OPT_CLEAR, OPT_PROP, OPT_RSET, OPT_RCLEAR };

/* Mount options that are flags; any other option is passed to the
 * filesystem as data (size=, mode=, newinstance, ...). */
static const struct { const char *name; int kind; unsigned long flag; } mount_opts[] = {
	{ "ro", OPT_SET, MS_RDONLY }, { "rw", OPT_CLEAR, MS_RDONLY },
	{ "nosuid", OPT_SET, MS_NOSUID }, { "suid", OPT_CLEAR, MS_NOSUID },
	{ "nodev", OPT_SET, MS_NODEV }, { "dev", OPT_CLEAR, MS_NODEV },
	{ "noexec", OPT_SET, MS_NOEXEC }, { "exec", OPT_CLEAR, MS_NOEXEC },
	{ "sync", OPT_SET, MS_SYNCHRONOUS }, { "async", OPT_CLEAR, MS_SYNCHRONOUS },
	{ "dirsync", OPT_SET, MS_DIRSYNC }, { "remount", OPT_SET, MS_REMOUNT },
	{ "mand", OPT_SET, MS_MANDLOCK }, { "nomand", OPT_CLEAR, MS_MANDLOCK },
	{ "atime", OPT_CLEAR, MS_NOATIME }, { "noatime", OPT_SET, MS_NOATIME },
	{ "diratime", OPT_CLEAR, MS_NODIRATIME }, { "nodiratime", OPT_SET, MS_NODIRATIME },
	{ "relatime", OPT_SET, MS_RELATIME }, { "norelatime", OPT_CLEAR, MS_RELATIME },
	{ "strictatime", OPT_SET, MS_STRICTATIME },
	{ "nostrictatime", OPT_CLEAR, MS_STRICTATIME },
	{ "lazytime", OPT_SET, MS_LAZYTIME }, { "nolazytime", OPT_CLEAR, MS_LAZYTIME },
	{ "silent", OPT_SET, MS_SILENT }, { "loud", OPT_CLEAR, MS_SILENT },
	{ "iversion", OPT_SET, MS_I_VERSION }, { "noiversion", OPT_CLEAR, MS_I_VERSION },
	{ "nosymfollow", OPT_SET, MS_NOSYMFOLLOW }, { "symfollow", OPT_CLEAR, MS_NOSYMFOLLOW },
	{ "bind", OPT_SET, MS_BIND }, { "rbind", OPT_SET, MS_BIND | MS_REC },
	{ "private", OPT_PROP, MS_PRIVATE }, { "rprivate", OPT_PROP, MS_PRIVATE | MS_REC },
	{ "shared", OPT_PROP, MS_SHARED }, { "rshared", OPT_PROP, MS_SHARED | MS_REC },
	{ "slave", OPT_PROP, MS_SLAVE }, { "rslave", OPT_PROP, MS_SLAVE | MS_REC },
	{ "unbindable", OPT_PROP, MS_UNBINDABLE },
	{ "runbindable", OPT_PROP, MS_UNBINDABLE | MS_REC },
	{ "rro", OPT_RSET, MNT_ATTR_RDONLY }, { "rrw", OPT_RCLEAR, MNT_ATTR_RDONLY },
	{ "rnosuid", OPT_RSET, MNT_ATTR_NOSUID }, { "rsuid", OPT_RCLEAR, MNT_ATTR_NOSUID },
	{ "rnodev", OPT_RSET, MNT_ATTR_NODEV }, { "rdev", OPT_RCLEAR, MNT_ATTR_NODEV },
	{ "rnoexec", OPT_RSET, MNT_ATTR_NOEXEC }, { "rexec", OPT_RCLEAR, MNT_ATTR_NOEXEC },
	{ "rnosymfollow", OPT_RSET, MNT_ATTR_NOSYMFOLLOW },
	{ "rsymfollow", OPT_RCLEAR, MNT_ATTR_NOSYMFOLLOW },
	{ "rnodiratime", OPT_RSET, MNT_ATTR_NODIRATIME },
	{ "rdiratime", OPT_RCLEAR, MNT_ATTR_NODIRATIME },
};

static const struct { const char *name; const char *path; int kind; } hook_names[] = {
	{ "prestart", "hooks.prestart", SB_HOOK_PRESTART },
	{ "createRuntime", "hooks.createRuntime", SB_HOOK_CREATE_RUNTIME },
	{ "createContainer", "hooks.createContainer", SB_HOOK_CREATE_CONTAINER },
	{ "startContainer", "hooks.startContainer", SB_HOOK_START_CONTAINER },
	{ "poststart", "hooks.poststart", SB_HOOK_POSTSTART },
	{ "poststop", "hooks.poststop", SB_HOOK_POSTSTOP },
};

static int cap_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < LEN(cap_names); i++)
		if (!strcmp(cap_names[i], name))
			return (int)i;
	return -1;
}

static int cfg_want(const struct json *v, enum json_type t, const char *path)
{
	static const char *const names[] = {
		"null", "a boolean", "a boolean", "a number", "a string",
		"an array", "an object"
	};

	if (v->type == t || (t == JSON_TRUE && v->type == JSON_FALSE))
		return 0;
	return err_set("%s: expected %s", path, names[t]);
}

static const char *cfg_str(const struct json *v, const char *path)
{
	if (cfg_want(v, JSON_STRING, path) < 0)
		return NULL;
	if (strlen(v->str) != v->len) {
		err_set("%s: string holds a NUL character", path);
		return NULL;
	}
	return v->str;
}

static int cfg_bool(const struct json *v, const char *path, int *out)
{
	if (cfg_want(v, JSON_TRUE, path) < 0)
		return -1;
	*out = v->type == JSON_TRUE;
	return 0;
}

static int cfg_int(const struct json *v, const char *path, int64_t min,
    int64_t max, int64_t *out)
{
	int64_t x;

	if (cfg_want(v, JSON_NUMBER, path) < 0)
		return -1;
	if (!v->isint)
		return err_set("%s: expected an integer, got %s", path, v->str);
	if (v->neg ? v->u > (uint64_t)INT64_MAX + 1 : v->u > (uint64_t)INT64_MAX)
		return err_set("%s: %s is out of range", path, v->str);
	x = v->neg ? (int64_t)(0 - v->u) : (int64_t)v->u;
	if (x < min || x > max)
		return err_set("%s: %s is out of range [%lld, %lld]", path, v->str,
		    (long long)min, (long long)max);
	*out = x;
	return 0;
}

static int cfg_u64(const struct json *v, const char *path, uint64_t *out)
{
	if (cfg_want(v, JSON_NUMBER, path) < 0)
		return -1;
	if (!v->isint || (v->neg && v->u))
		return err_set("%s: expected an unsigned integer, got %s", path, v->str);
	*out = v->u;
	return 0;
}

static int cfg_u32(const struct json *v, const char *path, uint32_t *out)
{
	int64_t x;

	if (cfg_int(v, path, 0, UINT32_MAX, &x) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* A string array into a NULL-terminated vector. */
static const char **cfg_strv(struct arena *a, const struct json *v,
    const char *path, size_t *np)
{
	const char **out;
	struct json *e;
	char p[256];
	size_t i = 0;

	if (cfg_want(v, JSON_ARRAY, path) < 0)
		return NULL;
	if (!(out = arena_alloc(a, (v->n + 1) * sizeof *out)))
		return NULL;
	for (e = v->child; e; e = e->next, i++) {
		strf(p, sizeof p, "%s[%zu]", path, i);
		if (!(out[i] = cfg_str(e, p)))
			return NULL;
	}
	if (np)
		*np = v->n;
	return out;
}

/* A string-to-string object into key/value pairs. */
static struct sb_kv *cfg_kv(struct arena *a, const struct json *v,
    const char *path, size_t *np)
{
	struct sb_kv *out;
	struct json *m;
	char p[256];
	size_t i = 0;

	if (cfg_want(v, JSON_OBJECT, path) < 0)
		return NULL;
	if (!(out = arena_alloc(a, (v->n + 1) * sizeof *out)))
		return NULL;
	for (m = v->child; m; m = m->next, i++) {
		strf(p, sizeof p, "%s.%s", path, m->key);
		out[i].key = m->key;
		if (!(out[i].value = cfg_str(m, p)))
			return NULL;
	}
	*np = v->n;
	return out;
}

/* Members that the spec defines and sandbox does not implement: refused
 * when present (and not null), so that nothing asked for is dropped. */
static int cfg_refuse(const struct json *obj, const char *const *keys,
    const char *path)
{
	struct json *v;

	for (; *keys; keys++) {
		v = json_get(obj, *keys);
		if (v && v->type != JSON_NULL)
			return err_set("%s.%s: not supported by sandbox", path, *keys);
	}
	return 0;
}

static int cfg_caps(struct sb_config *c, const struct json *v)
{
	struct json *set, *e;
	char p[128];
	size_t s, i;
	int n;

	if (cfg_want(v, JSON_OBJECT, "process.capabilities") < 0)
		return -1;
	c->process.has_caps = 1;
	for (s = 0; s < SB_CAP_SETS; s++) {
		if (!(set = json_get(v, capset_names[s])) || set->type == JSON_NULL)
			continue;
		strf(p, sizeof p, "process.capabilities.%s", capset_names[s]);
		if (cfg_want(set, JSON_ARRAY, p) < 0)
			return -1;
		for (e = set->child, i = 0; e; e = e->next, i++) {
			strf(p, sizeof p, "process.capabilities.%s[%zu]",
			    capset_names[s], i);
			if (!cfg_str(e, p))
				return -1;
			if ((n = cap_from_name(e->str)) < 0)
				return err_set("%s: unknown capability \"%s\"", p, e->str);
			c->process.caps[s] |= 1ull << n;
		}
	}
	/* The kernel raises an ambient capability only if it is inheritable
	 * too; runc's spec lists ambient ones without, and asks for them to
	 * work: make them inheritable rather than refuse or drop them. */
	c->process.caps[SB_CAP_INHERITABLE] |= c->process.caps[SB_CAP_AMBIENT];
	return 0;
}

static int cfg_rlimits(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct sb_rlimit *r;
	struct json *e, *t;
	char p[128];
	size_t i = 0, j, k;

	if (cfg_want(v, JSON_ARRAY, "process.rlimits") < 0)
		return -1;
	if (!(r = c->process.rlimits = arena_alloc(a, (v->n + 1) * sizeof *r)))
		return -1;
	for (e = v->child; e; e = e->next, i++) {
		strf(p, sizeof p, "process.rlimits[%zu]", i);
		if (cfg_want(e, JSON_OBJECT, p) < 0)
			return -1;
		if (!(t = json_get(e, "type")))
			return err_set("%s.type: missing", p);
		strcat(p, ".type");
		if (!cfg_str(t, p))
			return -1;
		for (k = 0; k < LEN(rlimit_names); k++)
			if (!strcmp(rlimit_names[k].name, t->str))
				break;
		if (k == LEN(rlimit_names))
			return err_set("%s: unknown rlimit \"%s\"", p, t->str);
		r[i].resource = rlimit_names[k].res;
		for (j = 0; j < i; j++)
			if (r[j].resource == r[i].resource)
				return err_set("%s: duplicate rlimit \"%s\"", p, t->str);
		strf(p, sizeof p, "process.rlimits[%zu].soft", i);
		if (!(t = json_get(e, "soft")) || cfg_u64(t, p, &r[i].soft) < 0)
			return t ? -1 : err_set("%s: missing", p);
		strf(p, sizeof p, "process.rlimits[%zu].hard", i);
		if (!(t = json_get(e, "hard")) || cfg_u64(t, p, &r[i].hard) < 0)
			return t ? -1 : err_set("%s: missing", p);
		if (r[i].soft > r[i].hard)
			return err_set("process.rlimits[%zu]: soft limit above hard limit", i);
	}
	c->process.nrlimits = v->n;
	return 0;
}

static int cfg_user(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct sb_process *pr = &c->process;
	struct json *t, *e;
	char p[128];
	size_t i = 0;
	int64_t x;

	if (cfg_want(v, JSON_OBJECT, "process.user") < 0)
		return -1;
	if ((t = json_get(v, "uid")) && cfg_u32(t, "process.user.uid", &pr->uid) < 0)
		return -1;
	if ((t = json_get(v, "gid")) && cfg_u32(t, "process.user.gid", &pr->gid) < 0)
		return -1;
	if ((t = json_get(v, "umask")) && t->type != JSON_NULL) {
		if (cfg_int(t, "process.user.umask", 0, 0777, &x) < 0)
			return -1;
		pr->umask = x;
	}
	if ((t = json_get(v, "additionalGids")) && t->type != JSON_NULL) {
		if (cfg_want(t, JSON_ARRAY, "process.user.additionalGids") < 0)
			return -1;
		if (!(pr->gids = arena_alloc(a, (t->n + 1) * sizeof *pr->gids)))
			return -1;
		for (e = t->child; e; e = e->next, i++) {
			strf(p, sizeof p, "process.user.additionalGids[%zu]", i);
			if (cfg_u32(e, p, &pr->gids[i]) < 0)
				return -1;
		}
		pr->ngids = t->n;
	}
	return 0;
}

/* Labels for security modules this host does not run would be dropped
 * silently by applying nothing, so they are refused instead. */
static int cfg_lsm_label(const struct json *v, const char *path, const char **out)
{
	int apparmor = strstr(path, "apparmor") != NULL;
	const char *probe = apparmor ? "/sys/module/apparmor/parameters/enabled" :
	    "/sys/fs/selinux/enforce";

	if (!v || v->type == JSON_NULL || (v->type == JSON_STRING && !v->len))
		return 0;
	if (!cfg_str(v, path))
		return -1;
	if (access(probe, F_OK) < 0)
		return err_set("%s: %s is not enabled on this host", path,
		    apparmor ? "AppArmor" : "SELinux");
	if (out)
		*out = v->str;
	return 0;
}

static int cfg_process(struct arena *a, struct sb_config *c, const struct json *v)
{
	static const char *const unsupported[] = {
		"scheduler", "execCPUAffinity", "ioPriority", NULL
	};
	struct sb_process *pr = &c->process;
	struct json *t;
	size_t i;

	if (cfg_want(v, JSON_OBJECT, "process") < 0)
		return -1;
	if (cfg_refuse(v, unsupported, "process") < 0)
		return -1;
	if ((t = json_get(v, "terminal")) && cfg_bool(t, "process.terminal", &pr->terminal) < 0)
		return -1;
	if (!(t = json_get(v, "args")))
		return err_set("process.args: missing");
	if (!(pr->args = cfg_strv(a, t, "process.args", &i)))
		return -1;
	if (!i)
		return err_set("process.args: empty");
	if ((t = json_get(v, "env")) && t->type != JSON_NULL) {
		if (!(pr->env = cfg_strv(a, t, "process.env", &i)))
			return -1;
		while (i--)
			if (!strchr(pr->env[i], '='))
				return err_set("process.env[%zu]: \"%s\" is not KEY=value",
				    i, pr->env[i]);
	}
	if (!(t = json_get(v, "cwd")))
		return err_set("process.cwd: missing");
	if (!(pr->cwd = cfg_str(t, "process.cwd")))
		return -1;
	if (pr->cwd[0] != '/')
		return err_set("process.cwd: \"%s\" is not an absolute path", pr->cwd);
	if ((t = json_get(v, "user")) && cfg_user(a, c, t) < 0)
		return -1;
	if ((t = json_get(v, "rlimits")) && t->type != JSON_NULL && cfg_rlimits(a, c, t) < 0)
		return -1;
	if ((t = json_get(v, "noNewPrivileges")) &&
	    cfg_bool(t, "process.noNewPrivileges", &pr->no_new_privileges) < 0)
		return -1;
	if ((t = json_get(v, "capabilities")) && t->type != JSON_NULL && cfg_caps(c, t) < 0)
		return -1;
	if ((t = json_get(v, "oomScoreAdj")) && t->type != JSON_NULL &&
	    cfg_int(t, "process.oomScoreAdj", -1000, 1000, &pr->oom_score_adj) < 0)
		return -1;
	if (cfg_lsm_label(json_get(v, "apparmorProfile"), "process.apparmorProfile",
	    &pr->apparmor) < 0 ||
	    cfg_lsm_label(json_get(v, "selinuxLabel"), "process.selinuxLabel",
	    &pr->selinux) < 0)
		return -1;
	return 0;
}

static int cfg_mount_options(struct arena *a, struct sb_mount *m,
    const struct json *v, const char *path)
{
	struct buf data = {0};
	struct json *e;
	char p[256];
	size_t i = 0, k;

	if (cfg_want(v, JSON_ARRAY, path) < 0)
		return -1;
	for (e = v->child; e; e = e->next, i++) {
		strf(p, sizeof p, "%s[%zu]", path, i);
		if (!cfg_str(e, p))
			goto fail;
		for (k = 0; k < LEN(mount_opts); k++)
			if (!strcmp(mount_opts[k].name, e->str))
				break;
		if (k == LEN(mount_opts)) {
			if (!strcmp(e->str, "idmap") || !strcmp(e->str, "ridmap")) {
				err_set("%s: \"%s\": idmapped mounts are not supported by sandbox",
				    p, e->str);
				goto fail;
			}
			if (data.len)
				buf_put(&data, ",", 1);
			buf_puts(&data, e->str);
			continue;
		}
		switch (mount_opts[k].kind) {
		case OPT_SET:
			m->flags |= mount_opts[k].flag;
			m->clear &= ~mount_opts[k].flag;
			break;
		case OPT_CLEAR:
			m->flags &= ~mount_opts[k].flag;
			m->clear |= mount_opts[k].flag;
			break;
		case OPT_PROP:
			m->propagation = mount_opts[k].flag;
			break;
		case OPT_RSET:
			m->rec_set |= mount_opts[k].flag;
			m->rec_clear &= ~mount_opts[k].flag;
			break;
		case OPT_RCLEAR:
			m->rec_clear |= mount_opts[k].flag;
			m->rec_set &= ~mount_opts[k].flag;
			break;
		}
	}
	if (data.oom) {
		err_set("out of memory");
		goto fail;
	}
	if (data.len && !(m->data = arena_strdup(a, data.p)))
		goto fail;
	buf_free(&data);
	return 0;
fail:
	buf_free(&data);
	return -1;
}

static int cfg_mounts(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct sb_mount *m;
	struct json *e, *t;
	char p[128], q[160];
	size_t i = 0;

	if (cfg_want(v, JSON_ARRAY, "mounts") < 0)
		return -1;
	if (!(c->mounts = arena_alloc(a, (v->n + 1) * sizeof *c->mounts)))
		return -1;
	for (e = v->child; e; e = e->next, i++) {
		m = &c->mounts[i];
		strf(p, sizeof p, "mounts[%zu]", i);
		if (cfg_want(e, JSON_OBJECT, p) < 0)
			return -1;
		strf(q, sizeof q, "%s.destination", p);
		if (!(t = json_get(e, "destination")))
			return err_set("%s: missing", q);
		if (!(m->destination = cfg_str(t, q)))
			return -1;
		if (!*m->destination)
			return err_set("%s: empty", q);
		strf(q, sizeof q, "%s.type", p);
		if ((t = json_get(e, "type")) && t->type != JSON_NULL &&
		    !(m->type = cfg_str(t, q)))
			return -1;
		strf(q, sizeof q, "%s.source", p);
		if ((t = json_get(e, "source")) && t->type != JSON_NULL &&
		    !(m->source = cfg_str(t, q)))
			return -1;
		strf(q, sizeof q, "%s.options", p);
		if ((t = json_get(e, "options")) && t->type != JSON_NULL &&
		    cfg_mount_options(a, m, t, q) < 0)
			return -1;
		if (json_get(e, "uidMappings") || json_get(e, "gidMappings"))
			return err_set("%s: idmapped mounts are not supported by sandbox", p);
		m->bind = (m->flags & MS_BIND) || (m->type && !strcmp(m->type, "bind"));
		if (m->bind)
			m->flags |= MS_BIND;
		if (m->type && !strcmp(m->type, "bind"))
			m->type = NULL;
		if (!m->bind && !m->type)
			return err_set("%s.type: missing for a mount that is not a bind mount", p);
		if (m->bind && !m->source)
			return err_set("%s.source: missing for a bind mount", p);
		if (m->source && m->bind && m->source[0] != '/') {
			size_t n = strlen(c->bundle) + strlen(m->source) + 2;
			char *s = arena_alloc(a, n);

			if (!s)
				return -1;
			strf(s, n, "%s/%s", c->bundle, m->source);
			m->source = s;
		}
	}
	c->nmounts = v->n;
	return 0;
}

static int cfg_hooks(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct json *list, *e, *t;
	struct sb_hook *h;
	char p[128], q[160];
	size_t k, i;

	if (cfg_want(v, JSON_OBJECT, "hooks") < 0)
		return -1;
	for (k = 0; k < LEN(hook_names); k++) {
		if (!(list = json_get(v, hook_names[k].name)) || list->type == JSON_NULL)
			continue;
		if (cfg_want(list, JSON_ARRAY, hook_names[k].path) < 0)
			return -1;
		if (!(h = arena_alloc(a, (list->n + 1) * sizeof *h)))
			return -1;
		c->hooks[hook_names[k].kind] = h;
		c->nhooks[hook_names[k].kind] = list->n;
		for (e = list->child, i = 0; e; e = e->next, i++, h++) {
			strf(p, sizeof p, "%s[%zu]", hook_names[k].path, i);
			if (cfg_want(e, JSON_OBJECT, p) < 0)
				return -1;
			strf(q, sizeof q, "%s.path", p);
			if (!(t = json_get(e, "path")))
				return err_set("%s: missing", q);
			if (!(h->path = cfg_str(t, q)))
				return -1;
			if (h->path[0] != '/')
				return err_set("%s: \"%s\" is not an absolute path", q, h->path);
			strf(q, sizeof q, "%s.args", p);
			if ((t = json_get(e, "args")) && t->type != JSON_NULL &&
			    !(h->args = cfg_strv(a, t, q, NULL)))
				return -1;
			strf(q, sizeof q, "%s.env", p);
			if ((t = json_get(e, "env")) && t->type != JSON_NULL &&
			    !(h->env = cfg_strv(a, t, q, NULL)))
				return -1;
			h->timeout = SB_UNSET;
			strf(q, sizeof q, "%s.timeout", p);
			if ((t = json_get(e, "timeout")) && t->type != JSON_NULL &&
			    cfg_int(t, q, 1, INT32_MAX, &h->timeout) < 0)
				return -1;
		}
	}
	return 0;
}

static int cfg_namespaces(struct sb_config *c, const struct json *v)
{
	struct json *e, *t;
	char p[128];
	size_t i = 0, k;

	if (cfg_want(v, JSON_ARRAY, "linux.namespaces") < 0)
		return -1;
	for (e = v->child; e; e = e->next, i++) {
		strf(p, sizeof p, "linux.namespaces[%zu]", i);
		if (cfg_want(e, JSON_OBJECT, p) < 0)
			return -1;
		if (!(t = json_get(e, "type")))
			return err_set("%s.type: missing", p);
		strcat(p, ".type");
		if (!cfg_str(t, p))
			return -1;
		for (k = 0; k < SB_NS_COUNT; k++)
			if (!strcmp(ns_info[k].name, t->str))
				break;
		if (k == SB_NS_COUNT)
			return err_set("%s: unknown namespace type \"%s\"", p, t->str);
		if (c->ns[k].enabled)
			return err_set("%s: namespace \"%s\" listed twice", p, t->str);
		c->ns[k].enabled = 1;
		if ((t = json_get(e, "path")) && t->type != JSON_NULL) {
			strf(p, sizeof p, "linux.namespaces[%zu].path", i);
			if (!(c->ns[k].path = cfg_str(t, p)))
				return -1;
			if (c->ns[k].path[0] != '/')
				return err_set("%s: \"%s\" is not an absolute path", p,
				    c->ns[k].path);
		}
	}
	return 0;
}

static struct sb_idmap *cfg_idmaps(struct arena *a, const struct json *v,
    const char *path, size_t *np)
{
	static const char *const keys[] = { "containerID", "hostID", "size" };
	struct sb_idmap *m;
	struct json *e, *t;
	uint32_t x[3];
	char p[128];
	size_t i = 0, k;

	if (cfg_want(v, JSON_ARRAY, path) < 0)
		return NULL;
	if (!(m = arena_alloc(a, (v->n + 1) * sizeof *m)))
		return NULL;
	for (e = v->child; e; e = e->next, i++) {
		for (k = 0; k < 3; k++) {
			strf(p, sizeof p, "%s[%zu].%s", path, i, keys[k]);
			if (!(t = json_get(e, keys[k]))) {
				err_set("%s: missing", p);
				return NULL;
			}
			if (cfg_u32(t, p, &x[k]) < 0)
				return NULL;
		}
		m[i].container_id = x[0];
		m[i].host_id = x[1];
		m[i].size = x[2];
	}
	*np = v->n;
	return m;
}

static int cfg_devices(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct sb_device *d;
	struct json *e, *t;
	char p[128], q[160];
	size_t i = 0;
	int64_t x;

	if (cfg_want(v, JSON_ARRAY, "linux.devices") < 0)
		return -1;
	if (!(d = c->devices = arena_alloc(a, (v->n + 1) * sizeof *d)))
		return -1;
	for (e = v->child; e; e = e->next, i++, d++) {
		strf(p, sizeof p, "linux.devices[%zu]", i);
		if (cfg_want(e, JSON_OBJECT, p) < 0)
			return -1;
		strf(q, sizeof q, "%s.path", p);
		if (!(t = json_get(e, "path")))
			return err_set("%s: missing", q);
		if (!(d->path = cfg_str(t, q)))
			return -1;
		if (d->path[0] != '/')
			return err_set("%s: \"%s\" is not an absolute path", q, d->path);
		strf(q, sizeof q, "%s.type", p);
		if (!(t = json_get(e, "type")))
			return err_set("%s: missing", q);
		if (!cfg_str(t, q))
			return -1;
		if (t->len != 1 || !strchr("cbup", t->str[0]))
			return err_set("%s: \"%s\" is not one of c, b, u, p", q, t->str);
		d->type = t->str[0];
		d->major = d->minor = 0;
		if (d->type != 'p') {
			strf(q, sizeof q, "%s.major", p);
			if (!(t = json_get(e, "major")))
				return err_set("%s: missing", q);
			if (cfg_int(t, q, 0, 0xfff, &d->major) < 0)
				return -1;
			strf(q, sizeof q, "%s.minor", p);
			if (!(t = json_get(e, "minor")))
				return err_set("%s: missing", q);
			if (cfg_int(t, q, 0, 0xfffff, &d->minor) < 0)
				return -1;
		}
		strf(q, sizeof q, "%s.fileMode", p);
		if ((t = json_get(e, "fileMode")) && t->type != JSON_NULL) {
			if (cfg_int(t, q, 0, 07777, &x) < 0)
				return -1;
			d->mode = (uint32_t)x;
			d->has_mode = 1;
		}
		strf(q, sizeof q, "%s.uid", p);
		if ((t = json_get(e, "uid")) && t->type != JSON_NULL) {
			if (cfg_u32(t, q, &d->uid) < 0)
				return -1;
			d->has_uid = 1;
		}
		strf(q, sizeof q, "%s.gid", p);
		if ((t = json_get(e, "gid")) && t->type != JSON_NULL) {
			if (cfg_u32(t, q, &d->gid) < 0)
				return -1;
			d->has_gid = 1;
		}
	}
	c->ndevices = v->n;
	return 0;
}

static int cfg_devrules(struct arena *a, struct sb_resources *r, const struct json *v)
{
	struct sb_devrule *d;
	struct json *e, *t;
	char p[128], q[160];
	size_t i = 0;
	const char *s;

	if (cfg_want(v, JSON_ARRAY, "linux.resources.devices") < 0)
		return -1;
	if (!(d = r->devices = arena_alloc(a, (v->n + 1) * sizeof *d)))
		return -1;
	r->has_devices = 1;
	for (e = v->child; e; e = e->next, i++, d++) {
		strf(p, sizeof p, "linux.resources.devices[%zu]", i);
		if (cfg_want(e, JSON_OBJECT, p) < 0)
			return -1;
		strf(q, sizeof q, "%s.allow", p);
		if (!(t = json_get(e, "allow")))
			return err_set("%s: missing", q);
		if (cfg_bool(t, q, &d->allow) < 0)
			return -1;
		d->type = 'a';
		strf(q, sizeof q, "%s.type", p);
		if ((t = json_get(e, "type")) && t->type != JSON_NULL) {
			if (!cfg_str(t, q))
				return -1;
			if (t->len != 1 || !strchr("acb", t->str[0]))
				return err_set("%s: \"%s\" is not one of a, c, b", q, t->str);
			d->type = t->str[0];
		}
		d->major = d->minor = -1;
		strf(q, sizeof q, "%s.major", p);
		if ((t = json_get(e, "major")) && t->type != JSON_NULL &&
		    cfg_int(t, q, -1, 0xfff, &d->major) < 0)
			return -1;
		strf(q, sizeof q, "%s.minor", p);
		if ((t = json_get(e, "minor")) && t->type != JSON_NULL &&
		    cfg_int(t, q, -1, 0xfffff, &d->minor) < 0)
			return -1;
		strcpy(d->access, "rwm");
		strf(q, sizeof q, "%s.access", p);
		if ((t = json_get(e, "access")) && t->type != JSON_NULL) {
			if (!(s = cfg_str(t, q)))
				return -1;
			if (!*s || strlen(s) > 3 || strspn(s, "rwm") != strlen(s))
				return err_set("%s: \"%s\" is not a subset of \"rwm\"", q, s);
			strcpy(d->access, s);
		}
	}
	r->ndevices = v->n;
	return 0;
}

static int cfg_res_int(const struct json *obj, const char *key, const char *path,
    int64_t min, int64_t max, int64_t *out)
{
	struct json *t = json_get(obj, key);
	char p[160];

	*out = SB_UNSET;
	if (!t || t->type == JSON_NULL)
		return 0;
	strf(p, sizeof p, "%s.%s", path, key);
	return cfg_int(t, p, min, max, out);
}

/* Memory values: -1 is "unlimited", as runc reads them; 0 is "unset". */
static int cfg_memory(const struct json *v, struct sb_resources *r)
{
	static const char *const unsupported[] = {
		"kernel", "kernelTCP", "swappiness", "disableOOMKiller",
		"useHierarchy", "checkBeforeUpdate", NULL
	};
	const char *path = "linux.resources.memory";

	if (cfg_want(v, JSON_OBJECT, path) < 0 || cfg_refuse(v, unsupported, path) < 0)
		return -1;
	if (cfg_res_int(v, "limit", path, -1, INT64_MAX, &r->mem_limit) < 0 ||
	    cfg_res_int(v, "reservation", path, -1, INT64_MAX, &r->mem_reservation) < 0 ||
	    cfg_res_int(v, "swap", path, -1, INT64_MAX, &r->mem_swap) < 0)
		return -1;
	if (r->mem_limit == 0)
		r->mem_limit = SB_UNSET;
	if (r->mem_reservation == 0)
		r->mem_reservation = SB_UNSET;
	if (r->mem_swap == 0)
		r->mem_swap = SB_UNSET;
	if (r->mem_swap > 0 && r->mem_limit > 0 && r->mem_swap < r->mem_limit)
		return err_set("%s.swap: %lld is below memory.limit %lld (swap is memory plus swap)",
		    path, (long long)r->mem_swap, (long long)r->mem_limit);
	if (r->mem_swap > 0 && r->mem_limit == SB_UNSET)
		return err_set("%s.swap: set without memory.limit", path);
	return 0;
}

static int cfg_cpu(const struct json *v, struct sb_resources *r)
{
	static const char *const unsupported[] = {
		"realtimeRuntime", "realtimePeriod", "burst", "idle", NULL
	};
	const char *path = "linux.resources.cpu";
	struct json *t;

	if (cfg_want(v, JSON_OBJECT, path) < 0 || cfg_refuse(v, unsupported, path) < 0)
		return -1;
	if (cfg_res_int(v, "shares", path, 2, 262144, &r->cpu_shares) < 0 ||
	    cfg_res_int(v, "quota", path, -1, INT64_MAX, &r->cpu_quota) < 0 ||
	    cfg_res_int(v, "period", path, 1000, 1000000, &r->cpu_period) < 0)
		return -1;
	if (r->cpu_quota == 0)
		r->cpu_quota = SB_UNSET;
	if (r->cpu_quota > 0 && r->cpu_quota < 1000)
		return err_set("%s.quota: %lld is below the kernel's minimum 1000",
		    path, (long long)r->cpu_quota);
	if ((t = json_get(v, "cpus")) && t->type != JSON_NULL &&
	    !(r->cpus = cfg_str(t, "linux.resources.cpu.cpus")))
		return -1;
	if ((t = json_get(v, "mems")) && t->type != JSON_NULL &&
	    !(r->mems = cfg_str(t, "linux.resources.cpu.mems")))
		return -1;
	if (r->cpus && !*r->cpus)
		r->cpus = NULL;
	if (r->mems && !*r->mems)
		r->mems = NULL;
	return 0;
}

/* Keys of linux.resources.unified name files in the container's cgroup:
 * "controller.file", never a path. */
static int cfg_unified(struct arena *a, const struct json *v, struct sb_resources *r)
{
	size_t i;
	const char *k;

	if (!(r->unified = cfg_kv(a, v, "linux.resources.unified", &r->nunified)))
		return -1;
	for (i = 0; i < r->nunified; i++) {
		k = r->unified[i].key;
		if (!*k || strchr(k, '/') || !strchr(k, '.') || k[0] == '.')
			return err_set("linux.resources.unified.%s: not a cgroup file name", k);
		if (!strncmp(k, "cgroup.", 7) && strcmp(k, "cgroup.freeze") &&
		    strcmp(k, "cgroup.max.depth") && strcmp(k, "cgroup.max.descendants"))
			return err_set("linux.resources.unified.%s: not a resource file", k);
	}
	return 0;
}

static int cfg_resources(struct arena *a, struct sb_config *c, const struct json *v)
{
	static const char *const unsupported[] = {
		"hugepageLimits", "network", "rdma", NULL
	};
	static const char *const unsupported_io[] = {
		"leafWeight", "weightDevice", "throttleReadBpsDevice",
		"throttleWriteBpsDevice", "throttleReadIOPSDevice",
		"throttleWriteIOPSDevice", NULL
	};
	struct sb_resources *r = &c->res;
	struct json *t;

	r->mem_limit = r->mem_reservation = r->mem_swap = SB_UNSET;
	r->cpu_shares = r->cpu_quota = r->cpu_period = SB_UNSET;
	r->pids_limit = r->blkio_weight = SB_UNSET;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (cfg_want(v, JSON_OBJECT, "linux.resources") < 0 ||
	    cfg_refuse(v, unsupported, "linux.resources") < 0)
		return -1;
	c->has_resources = 1;
	if ((t = json_get(v, "devices")) && t->type != JSON_NULL && cfg_devrules(a, r, t) < 0)
		return -1;
	if ((t = json_get(v, "memory")) && t->type != JSON_NULL && cfg_memory(t, r) < 0)
		return -1;
	if ((t = json_get(v, "cpu")) && t->type != JSON_NULL && cfg_cpu(t, r) < 0)
		return -1;
	if ((t = json_get(v, "pids")) && t->type != JSON_NULL) {
		if (cfg_want(t, JSON_OBJECT, "linux.resources.pids") < 0 ||
		    cfg_res_int(t, "limit", "linux.resources.pids", -1, INT64_MAX,
		    &r->pids_limit) < 0)
			return -1;
		if (r->pids_limit == 0)
			r->pids_limit = SB_UNSET;
	}
	if ((t = json_get(v, "blockIO")) && t->type != JSON_NULL) {
		if (cfg_want(t, JSON_OBJECT, "linux.resources.blockIO") < 0 ||
		    cfg_refuse(t, unsupported_io, "linux.resources.blockIO") < 0 ||
		    cfg_res_int(t, "weight", "linux.resources.blockIO", 10, 1000,
		    &r->blkio_weight) < 0)
			return -1;
	}
	if ((t = json_get(v, "unified")) && t->type != JSON_NULL && cfg_unified(a, t, r) < 0)
		return -1;
	return 0;
}

static int cfg_time_offsets(struct sb_config *c, const struct json *v)
{
	static const char *const clocks[] = { "monotonic", "boottime" };
	struct json *o, *t;
	char p[128];
	size_t k;

	if (cfg_want(v, JSON_OBJECT, "linux.timeOffsets") < 0)
		return -1;
	c->has_time_offsets = 1;
	for (k = 0; k < 2; k++) {
		if (!(o = json_get(v, clocks[k])) || o->type == JSON_NULL)
			continue;
		strf(p, sizeof p, "linux.timeOffsets.%s", clocks[k]);
		if (cfg_want(o, JSON_OBJECT, p) < 0)
			return -1;
		strf(p, sizeof p, "linux.timeOffsets.%s.secs", clocks[k]);
		if ((t = json_get(o, "secs")) &&
		    cfg_int(t, p, INT32_MIN, INT32_MAX, &c->time_offset[k][0]) < 0)
			return -1;
		strf(p, sizeof p, "linux.timeOffsets.%s.nanosecs", clocks[k]);
		if ((t = json_get(o, "nanosecs")) &&
		    cfg_int(t, p, 0, 999999999, &c->time_offset[k][1]) < 0)
			return -1;
	}
	return 0;
}

static int propagation_from_name(const char *s, unsigned long *out)
{
	size_t k;

	for (k = 0; k < LEN(mount_opts); k++) {
		if (mount_opts[k].kind == OPT_PROP && !strcmp(mount_opts[k].name, s)) {
			*out = mount_opts[k].flag;
			return 0;
		}
	}
	return -1;
}

/* Which namespace a sysctl belongs to; runc and crun refuse the others,
 * since writing them would change the host. */
static int sysctl_ns(const char *key)
{
	static const char *const ipc[] = {
		"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni",
		"kernel.shm_rmid_forced",
	};
	size_t i;

	for (i = 0; i < LEN(ipc); i++)
		if (!strcmp(key, ipc[i]))
			return SB_NS_IPC;
	if (!strncmp(key, "fs.mqueue.", 10))
		return SB_NS_IPC;
	if (!strncmp(key, "net.", 4))
		return SB_NS_NET;
	if (!strcmp(key, "kernel.hostname") || !strcmp(key, "kernel.domainname"))
		return SB_NS_UTS;
	return -1;
}

static int cfg_sysctl(struct arena *a, struct sb_config *c, const struct json *v)
{
	size_t i;
	int ns;
	const char *k;

	if (!(c->sysctl = cfg_kv(a, v, "linux.sysctl", &c->nsysctl)))
		return -1;
	for (i = 0; i < c->nsysctl; i++) {
		k = c->sysctl[i].key;
		if (strstr(k, "..") || strchr(k, '/') || !*k)
			return err_set("linux.sysctl.%s: not a sysctl name", k);
		if ((ns = sysctl_ns(k)) < 0)
			return err_set("linux.sysctl.%s: not a namespaced sysctl; it would change the host", k);
		if (!c->ns[ns].enabled)
			return err_set("linux.sysctl.%s: needs a %s namespace", k, ns_info[ns].name);
	}
	return 0;
}

static int cfg_paths(const char **v, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i][0] != '/')
			return err_set("%s[%zu]: \"%s\" is not an absolute path", path, i, v[i]);
	return 0;
}

static int cfg_seccomp(struct arena *a, struct sb_config *c, const struct json *v);

static int cfg_linux(struct arena *a, struct sb_config *c, const struct json *v)
{
	static const char *const unsupported[] = {
		"intelRdt", "personality", "netDevices", "memoryPolicy", NULL
	};
	struct json *t;
	const char *s;

	if (cfg_want(v, JSON_OBJECT, "linux") < 0 ||
	    cfg_refuse(v, unsupported, "linux") < 0)
		return -1;
	if ((t = json_get(v, "namespaces")) && t->type != JSON_NULL && cfg_namespaces(c, t) < 0)
		return -1;
	if ((t = json_get(v, "seccomp")) && t->type != JSON_NULL && cfg_seccomp(a, c, t) < 0)
		return -1;
	if ((t = json_get(v, "uidMappings")) && t->type != JSON_NULL &&
	    !(c->uid_map = cfg_idmaps(a, t, "linux.uidMappings", &c->nuid_map)))
		return -1;
	if ((t = json_get(v, "gidMappings")) && t->type != JSON_NULL &&
	    !(c->gid_map = cfg_idmaps(a, t, "linux.gidMappings", &c->ngid_map)))
		return -1;
	if ((t = json_get(v, "devices")) && t->type != JSON_NULL && cfg_devices(a, c, t) < 0)
		return -1;
	if ((t = json_get(v, "cgroupsPath")) && t->type != JSON_NULL &&
	    !(c->cgroups_path = cfg_str(t, "linux.cgroupsPath")))
		return -1;
	if (cfg_resources(a, c, json_get(v, "resources")) < 0)
		return -1;
	if ((t = json_get(v, "rootfsPropagation")) && t->type != JSON_NULL) {
		if (!(s = cfg_str(t, "linux.rootfsPropagation")))
			return -1;
		if (propagation_from_name(s, &c->rootfs_propagation) < 0)
			return err_set("linux.rootfsPropagation: unknown propagation \"%s\"", s);
	}
	if ((t = json_get(v, "maskedPaths")) && t->type != JSON_NULL &&
	    (!(c->masked_paths = cfg_strv(a, t, "linux.maskedPaths", &c->nmasked)) ||
	    cfg_paths(c->masked_paths, c->nmasked, "linux.maskedPaths") < 0))
		return -1;
	if ((t = json_get(v, "readonlyPaths")) && t->type != JSON_NULL &&
	    (!(c->readonly_paths = cfg_strv(a, t, "linux.readonlyPaths", &c->nreadonly)) ||
	    cfg_paths(c->readonly_paths, c->nreadonly, "linux.readonlyPaths") < 0))
		return -1;
	if ((t = json_get(v, "sysctl")) && t->type != JSON_NULL && cfg_sysctl(a, c, t) < 0)
		return -1;
	if ((t = json_get(v, "timeOffsets")) && t->type != JSON_NULL && cfg_time_offsets(c, t) < 0)
		return -1;
	/* applying a mount label is not implemented: refused by the
	 * check when SELinux is off, and here when it is on */
	if (cfg_lsm_label(json_get(v, "mountLabel"), "linux.mountLabel", &s) < 0)
		return -1;
	if ((t = json_get(v, "mountLabel")) && t->type == JSON_STRING && t->len)
		return err_set("linux.mountLabel: not supported by sandbox");
	return 0;
}

/* Rules between members, once all are read. */
static int cfg_check(const struct sb_config *c)
{
	const struct sb_namespace *ns = c->ns;
	int new_user = ns[SB_NS_USER].enabled && !ns[SB_NS_USER].path;

	if ((c->hostname || c->domainname) && !ns[SB_NS_UTS].enabled)
		return err_set("hostname: needs a uts namespace");
	if ((c->nuid_map || c->ngid_map) && !new_user)
		return err_set("linux.uidMappings: given without a new user namespace");
	if (new_user && (!c->nuid_map || !c->ngid_map))
		return err_set("linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
	if (c->has_time_offsets && !(ns[SB_NS_TIME].enabled && !ns[SB_NS_TIME].path))
		return err_set("linux.timeOffsets: needs a new time namespace");
	if (c->process.caps[SB_CAP_AMBIENT] & ~c->process.caps[SB_CAP_PERMITTED])
		return err_set("process.capabilities.ambient: every ambient capability must also be permitted");
	return 0;
}

static int cfg_root(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct json *t;
	const char *path;
	size_t n;
	char *s;

	if (!v)
		return err_set("root: missing");
	if (cfg_want(v, JSON_OBJECT, "root") < 0)
		return -1;
	if (!(t = json_get(v, "path")))
		return err_set("root.path: missing");
	if (!(path = cfg_str(t, "root.path")))
		return -1;
	if (!*path)
		return err_set("root.path: empty");
	if ((t = json_get(v, "readonly")) && cfg_bool(t, "root.readonly", &c->root_readonly) < 0)
		return -1;
	if (path[0] == '/') {
		c->root = path;
		return 0;
	}
	n = strlen(c->bundle) + strlen(path) + 2;
	if (!(s = arena_alloc(a, n)))
		return -1;
	strf(s, n, "%s/%s", c->bundle, path);
	c->root = s;
	return 0;
}

/* org.sandbox.overlay: what run --image writes; the layers' names are
 * relative (short, for the mount string), the rest absolute. */
static int cfg_overlay(struct arena *a, struct sb_config *c, const struct json *v)
{
	const char *path = "org.sandbox.overlay";
	struct sb_overlay *o;
	struct json *t;

	if (cfg_want(v, JSON_OBJECT, path) < 0 || !(o = c->overlay = arena_alloc(a, sizeof *o)))
		return -1;
	if (!(t = json_get(v, "layers")) || !(o->layers = cfg_str(t, "org.sandbox.overlay.layers")) ||
	    !(t = json_get(v, "lower")) || !(o->lower = cfg_strv(a, t, "org.sandbox.overlay.lower", &o->nlower)) ||
	    !(t = json_get(v, "upper")) || !(o->upper = cfg_str(t, "org.sandbox.overlay.upper")) ||
	    !(t = json_get(v, "work")) || !(o->work = cfg_str(t, "org.sandbox.overlay.work")))
		return t ? -1 : err_set("%s: layers, lower, upper and work are needed", path);
	if (!o->nlower || o->nlower > SB_OVL_MAX_LOWER)
		return err_set("%s.lower: %zu layers, not 1 to %d", path, o->nlower, SB_OVL_MAX_LOWER);
	return 0;
}

static int cfg_top(struct arena *a, struct sb_config *c, const struct json *doc)
{
	struct json *t;

	if (cfg_want(doc, JSON_OBJECT, "(top level)") < 0)
		return -1;
	if (!(t = json_get(doc, "ociVersion")))
		return err_set("ociVersion: missing");
	if (!(c->oci_version = cfg_str(t, "ociVersion")))
		return -1;
	if (strncmp(c->oci_version, "1.", 2))
		return err_set("ociVersion: \"%s\" is not a 1.x version", c->oci_version);
	if (cfg_root(a, c, json_get(doc, "root")) < 0)
		return -1;
	if (!(t = json_get(doc, "process")))
		return err_set("process: missing");
	if (cfg_process(a, c, t) < 0)
		return -1;
	if ((t = json_get(doc, "hostname")) && t->type != JSON_NULL &&
	    !(c->hostname = cfg_str(t, "hostname")))
		return -1;
	if ((t = json_get(doc, "domainname")) && t->type != JSON_NULL &&
	    !(c->domainname = cfg_str(t, "domainname")))
		return -1;
	if ((t = json_get(doc, "mounts")) && t->type != JSON_NULL && cfg_mounts(a, c, t) < 0)
		return -1;
	if ((t = json_get(doc, "hooks")) && t->type != JSON_NULL && cfg_hooks(a, c, t) < 0)
		return -1;
	if ((t = json_get(doc, "annotations")) && t->type != JSON_NULL &&
	    !(c->annotations = cfg_kv(a, t, "annotations", &c->nannotations)))
		return -1;
	if (cfg_resources(a, c, NULL) < 0)
		return -1;
	if ((t = json_get(doc, "linux")) && t->type != JSON_NULL && cfg_linux(a, c, t) < 0)
		return -1;
	if ((t = json_get(doc, "org.sandbox.overlay")) && t->type != JSON_NULL && cfg_overlay(a, c, t) < 0)
		return -1;
	return cfg_check(c);
}

struct sb_config *sb_config_parse(const char *json, size_t len, const char *bundle)
{
	struct arena a = {0}, *ap;
	struct sb_config *c;
	struct json *doc;

	if (!(c = arena_alloc(&a, sizeof *c)))
		goto fail;
	c->process.umask = SB_UNSET;
	c->process.oom_score_adj = SB_UNSET;
	if (!(c->bundle = arena_strdup(&a, bundle)))
		goto fail;
	if (!(doc = json_parse(&a, json, len)) || cfg_top(&a, c, doc) < 0)
		goto fail;
	if (!(ap = arena_alloc(&a, sizeof *ap)))
		goto fail;
	*ap = a;
	c->priv = ap;
	return c;
fail:
	arena_free(&a);
	return NULL;
}

struct sb_config *sb_config_load(const char *bundle)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], *text;
	struct sb_config *c;
	size_t len;

	if (!realpath(bundle, dir)) {
		err_sys("bundle %s", bundle);
		return NULL;
	}
	strf(path, sizeof path, "%s/config.json", dir);
	if (!(text = read_file(path, SB_CONFIG_MAX, &len)))
		return NULL;
	c = sb_config_parse(text, len, dir);
	free(text);
	if (!c)
		err_ctx("%s", path);
	return c;
}

void sb_config_free(struct sb_config *c)
{
	struct arena a;

	if (!c)
		return;
	/* the arena struct lives in its own arena: copy it out first */
	a = *(struct arena *)c->priv;
	arena_free(&a);
}

#if SB_WITH_SECCOMP
/* ========================================================= seccomp === */

/* linux.seccomp (OCI runtime-spec 1.2) compiled to a classic BPF filter
 * without libseccomp, and a built-in profile with the effect of Docker's.
 *
 *   struct sec_profile p;
 *   sec_parse(a, json, &p)            linux.seccomp into rules (arena a);
 *                                     errors name the JSON path
 *   sec_default(a, caps, kver, &p)    Docker's default profile for a
 *                                     container with these capabilities
 *   struct sec_prog prog;
 *   sec_compile(a, &p, &prog)         the BPF program, in arena a (a 32 KB
 *                                     scratch buffer is malloc'ed and freed)
 *   sec_install(&prog)                in the container process, last: needs
 *                                     no_new_privs or CAP_SYS_ADMIN
 *   sec_index_make(&x); sec_index_find(&x, name, &nr); free(x.at)
 *                                     this target's number of a syscall
 *
 * The program: syscalls of any architecture but the native one kill the
 * process (and, on x86_64, those of the x32 ABI); then a binary search on
 * the syscall number over intervals of equal action reaches either a
 * return or the rules of one syscall, which test the 64-bit arguments
 * word by word. Rules for one syscall are ORed, the comparisons of a rule
 * ANDed; when several rules match, the most restrictive action wins, the
 * order the kernel uses between stacked filters (kill process, kill
 * thread, trap, errno, trace, log, allow; first in the profile on a tie).
 * As runc does, a syscall numbered above every syscall the profile names
 * gets ENOSYS instead of a non-allowing default action, so that programs
 * fall back from syscalls newer than the profile.
 *
 * Syscall numbers come from this target's <sys/syscall.h>: the table
 * below lists every name, each compiled in only when the headers define
 * it, so each target has exactly its own syscalls. Syscalls added since
 * Linux 5.1 have one number on every architecture (plus 4000 on MIPS
 * o32), so those that musl's headers lack still get their number.
 *
 * Limits: BPF_MAXINSNS (4096) instructions; arguments 0..5; no
 * SCMP_ACT_NOTIFY (no listener); architectures other than the native one
 * are accepted in a profile and their syscalls killed, not filtered. On
 * 32-bit targets only the low word of an argument is read: a 64-bit
 * kernel may sign-extend a 32-bit process's arguments (MIPS), so the
 * argument is taken as its 32-bit value, zero-extended.
 */
#include <stddef.h>
#include <sys/utsname.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#endif
#ifndef SECCOMP_RET_KILL_THREAD
#define SECCOMP_RET_KILL_THREAD 0
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000u
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000u
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG 2
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW 4
#endif
#ifndef AUDIT_ARCH_RISCV64
#define AUDIT_ARCH_RISCV64 (243 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE)
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* The native architecture: its audit value, as seccomp_data.arch has it,
 * and its name in a profile. */
#if defined(__x86_64__) && !defined(__ILP32__)
#define SEC_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SEC_ARCH_NAME "SCMP_ARCH_X86_64"
#define SEC_X32_BIT 0x40000000u /* __X32_SYSCALL_BIT */
#elif defined(__i386__)
#define SEC_AUDIT_ARCH AUDIT_ARCH_I386
#define SEC_ARCH_NAME "SCMP_ARCH_X86"
#elif defined(__aarch64__) && defined(__AARCH64EL__)
#define SEC_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define SEC_ARCH_NAME "SCMP_ARCH_AARCH64"
#elif defined(__arm__) && defined(__ARMEL__) && defined(__ARM_EABI__)
#define SEC_AUDIT_ARCH AUDIT_ARCH_ARM
#define SEC_ARCH_NAME "SCMP_ARCH_ARM"
#define SEC_PRIVATE_BASE 0x0f0000u /* __ARM_NR_BASE: set_tls, cacheflush... */
#elif defined(__riscv) && __riscv_xlen == 64
#define SEC_AUDIT_ARCH AUDIT_ARCH_RISCV64
#define SEC_ARCH_NAME "SCMP_ARCH_RISCV64"
#elif defined(__mips__) && defined(__MIPSEL__) && _MIPS_SIM == _ABIO32
#define SEC_AUDIT_ARCH AUDIT_ARCH_MIPSEL
#define SEC_ARCH_NAME "SCMP_ARCH_MIPSEL"
#else
#error "seccomp: add this architecture's AUDIT_ARCH_ value and profile name"
#endif
#ifndef SEC_PRIVATE_BASE
#define SEC_PRIVATE_BASE 0x100000000ull /* none */
#endif

/* 32-bit targets read the low word of arguments only (see above). */
#ifndef SEC_ARG32
#define SEC_ARG32 (__SIZEOF_LONG__ == 4)
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SEC_LO 0 /* offset of the low word of a 64-bit argument */
#define SEC_HI 4
#else
#define SEC_LO 4
#define SEC_HI 0
#endif

#define SEC_MAXINSNS BPF_MAXINSNS
#define SEC_NONE 0xffffffffu   /* not a syscall number of this target */
#define SEC_EPERM (SECCOMP_RET_ERRNO | EPERM)
#define SEC_ENOSYS (SECCOMP_RET_ERRNO | ENOSYS)

enum { SEC_NE, SEC_LT, SEC_LE, SEC_EQ, SEC_GE, SEC_GT, SEC_MASKED_EQ };

struct sec_arg {
	uint8_t index, op;          /* argument 0..5, SEC_NE... */
	uint64_t value, value2;     /* MASKED_EQ: (arg & value) == value2 */
};

struct sec_rule {
	uint32_t nr;                /* syscall number */
	uint32_t action;            /* SECCOMP_RET_* with its data */
	uint32_t order;             /* position in the profile */
	uint32_t nargs;
	const struct sec_arg *args; /* all must match */
};

struct sec_profile {
	uint32_t default_action;
	unsigned flags;             /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
	struct sec_rule *rules;
	size_t nrules;
};

struct sec_prog {
	struct sock_filter *insns;
	unsigned short len;
	unsigned flags;
};

/* ------------------------------------------------------ syscall table */

/* One entry per syscall name, sorted: "name\0", then a class letter (the
 * rule of Docker's default profile, see sec_default) and the number as
 * the headers spell it ("43", "0x0f0005", "(244 + 15)"; "+451": the
 * shared number of a syscall added since Linux 5.1), then "\0". Text,
 * because the preprocessor can stringify a macro but not turn it into
 * bytes; sec_sys_number reads it. */
#define SEC_STR_(x) #x
#define SEC_STR(x) SEC_STR_(x)
#define SEC_SYS(name, cls) #name "\0" cls SEC_STR(SYS_##name) "\0"
#define SEC_NR(name, nr, cls) #name "\0" cls SEC_STR(nr) "\0"
#define SEC_NEW(name, n, cls) #name "\0" cls "+" #n "\0"

static const char sec_sys_table[] =
#ifdef SYS__llseek
	SEC_SYS(_llseek, "a")
#endif
#ifdef SYS__newselect
	SEC_SYS(_newselect, "a")
#endif
#ifdef SYS__sysctl
	SEC_SYS(_sysctl, "-")
#endif
#ifdef SYS_accept
	SEC_SYS(accept, "a")
#endif
#ifdef SYS_accept4
	SEC_SYS(accept4, "a")
#endif
#ifdef SYS_access
	SEC_SYS(access, "a")
#endif
#ifdef SYS_acct
	SEC_SYS(acct, "q")
#endif
#ifdef SYS_add_key
	SEC_SYS(add_key, "-")
#endif
#ifdef SYS_adjtimex
	SEC_SYS(adjtimex, "a")
#endif
#ifdef SYS_alarm
	SEC_SYS(alarm, "a")
#endif
#ifdef SYS_arch_prctl
	SEC_SYS(arch_prctl, "x")
#endif
#ifdef SYS_arm_fadvise64_64
	SEC_SYS(arm_fadvise64_64, "r")
#endif
#ifdef SYS_arm_sync_file_range
	SEC_SYS(arm_sync_file_range, "r")
#endif
#ifdef SYS_bdflush
	SEC_SYS(bdflush, "-")
#endif
#ifdef SYS_bind
	SEC_SYS(bind, "a")
#endif
#ifdef SYS_bpf
	SEC_SYS(bpf, "B")
#endif
#ifdef __ARM_NR_breakpoint
	SEC_NR(breakpoint, __ARM_NR_breakpoint, "r")
#endif
#ifdef SYS_brk
	SEC_SYS(brk, "a")
#endif
#ifdef SYS_cachectl
	SEC_SYS(cachectl, "-")
#endif
#if defined(SYS_cacheflush)
	SEC_SYS(cacheflush, "r")
#elif defined(__ARM_NR_cacheflush)
	SEC_NR(cacheflush, __ARM_NR_cacheflush, "r")
#endif
#ifdef SYS_cachestat
	SEC_SYS(cachestat, "a")
#else
	SEC_NEW(cachestat, 451, "a")
#endif
#ifdef SYS_capget
	SEC_SYS(capget, "a")
#endif
#ifdef SYS_capset
	SEC_SYS(capset, "a")
#endif
#ifdef SYS_chdir
	SEC_SYS(chdir, "a")
#endif
#ifdef SYS_chmod
	SEC_SYS(chmod, "a")
#endif
#ifdef SYS_chown
	SEC_SYS(chown, "a")
#endif
#ifdef SYS_chown32
	SEC_SYS(chown32, "a")
#endif
#ifdef SYS_chroot
	SEC_SYS(chroot, "C")
#endif
#ifdef SYS_clock_adjtime
	SEC_SYS(clock_adjtime, "a")
#endif
#ifdef SYS_clock_adjtime64
	SEC_SYS(clock_adjtime64, "a")
#endif
#if defined(SYS_clock_getres)
	SEC_SYS(clock_getres, "a")
#elif defined(SYS_clock_getres_time32)
	SEC_NR(clock_getres, SYS_clock_getres_time32, "a")
#endif
#ifdef SYS_clock_getres_time64
	SEC_SYS(clock_getres_time64, "a")
#endif
#if defined(SYS_clock_gettime)
	SEC_SYS(clock_gettime, "a")
#elif defined(SYS_clock_gettime32)
	SEC_NR(clock_gettime, SYS_clock_gettime32, "a")
#endif
#ifdef SYS_clock_gettime64
	SEC_SYS(clock_gettime64, "a")
#endif
#if defined(SYS_clock_nanosleep)
	SEC_SYS(clock_nanosleep, "a")
#elif defined(SYS_clock_nanosleep_time32)
	SEC_NR(clock_nanosleep, SYS_clock_nanosleep_time32, "a")
#endif
#ifdef SYS_clock_nanosleep_time64
	SEC_SYS(clock_nanosleep_time64, "a")
#endif
#if defined(SYS_clock_settime)
	SEC_SYS(clock_settime, "T")
#elif defined(SYS_clock_settime32)
	SEC_NR(clock_settime, SYS_clock_settime32, "T")
#endif
#ifdef SYS_clock_settime64
	SEC_SYS(clock_settime64, "T")
#endif
#ifdef SYS_clone
	SEC_SYS(clone, "c")
#endif
#ifdef SYS_clone3
	SEC_SYS(clone3, "3")
#else
	SEC_NEW(clone3, 435, "3")
#endif
#ifdef SYS_close
	SEC_SYS(close, "a")
#endif
#ifdef SYS_close_range
	SEC_SYS(close_range, "a")
#else
	SEC_NEW(close_range, 436, "a")
#endif
#ifdef SYS_connect
	SEC_SYS(connect, "a")
#endif
#ifdef SYS_copy_file_range
	SEC_SYS(copy_file_range, "a")
#endif
#ifdef SYS_creat
	SEC_SYS(creat, "a")
#endif
#ifdef SYS_delete_module
	SEC_SYS(delete_module, "M")
#endif
#ifdef SYS_dup
	SEC_SYS(dup, "a")
#endif
#ifdef SYS_dup2
	SEC_SYS(dup2, "a")
#endif
#ifdef SYS_dup3
	SEC_SYS(dup3, "a")
#endif
#ifdef SYS_epoll_create
	SEC_SYS(epoll_create, "a")
#endif
#ifdef SYS_epoll_create1
	SEC_SYS(epoll_create1, "a")
#endif
#ifdef SYS_epoll_ctl
	SEC_SYS(epoll_ctl, "a")
#endif
#ifdef SYS_epoll_ctl_old
	SEC_SYS(epoll_ctl_old, "a")
#endif
#ifdef SYS_epoll_pwait
	SEC_SYS(epoll_pwait, "a")
#endif
#ifdef SYS_epoll_pwait2
	SEC_SYS(epoll_pwait2, "a")
#else
	SEC_NEW(epoll_pwait2, 441, "a")
#endif
#ifdef SYS_epoll_wait
	SEC_SYS(epoll_wait, "a")
#endif
#ifdef SYS_epoll_wait_old
	SEC_SYS(epoll_wait_old, "a")
#endif
#ifdef SYS_eventfd
	SEC_SYS(eventfd, "a")
#endif
#ifdef SYS_eventfd2
	SEC_SYS(eventfd2, "a")
#endif
#ifdef SYS_execve
	SEC_SYS(execve, "a")
#endif
#ifdef SYS_execveat
	SEC_SYS(execveat, "a")
#endif
#ifdef SYS_exit
	SEC_SYS(exit, "a")
#endif
#ifdef SYS_exit_group
	SEC_SYS(exit_group, "a")
#endif
#ifdef SYS_faccessat
	SEC_SYS(faccessat, "a")
#endif
#ifdef SYS_faccessat2
	SEC_SYS(faccessat2, "a")
#else
	SEC_NEW(faccessat2, 439, "a")
#endif
#ifdef SYS_fadvise64
	SEC_SYS(fadvise64, "a")
#endif
#ifdef SYS_fadvise64_64
	SEC_SYS(fadvise64_64, "a")
#endif
#ifdef SYS_fallocate
	SEC_SYS(fallocate, "a")
#endif
#ifdef SYS_fanotify_init
	SEC_SYS(fanotify_init, "A")
#endif
#ifdef SYS_fanotify_mark
	SEC_SYS(fanotify_mark, "a")
#endif
#ifdef SYS_fchdir
	SEC_SYS(fchdir, "a")
#endif
#ifdef SYS_fchmod
	SEC_SYS(fchmod, "a")
#endif
#ifdef SYS_fchmodat
	SEC_SYS(fchmodat, "a")
#endif
#ifdef SYS_fchmodat2
	SEC_SYS(fchmodat2, "a")
#else
	SEC_NEW(fchmodat2, 452, "a")
#endif
#ifdef SYS_fchown
	SEC_SYS(fchown, "a")
#endif
#ifdef SYS_fchown32
	SEC_SYS(fchown32, "a")
#endif
#ifdef SYS_fchownat
	SEC_SYS(fchownat, "a")
#endif
#ifdef SYS_fcntl
	SEC_SYS(fcntl, "a")
#endif
#ifdef SYS_fcntl64
	SEC_SYS(fcntl64, "a")
#endif
#ifdef SYS_fdatasync
	SEC_SYS(fdatasync, "a")
#endif
#ifdef SYS_fgetxattr
	SEC_SYS(fgetxattr, "a")
#endif
#ifdef SYS_file_getattr
	SEC_SYS(file_getattr, "-")
#else
	SEC_NEW(file_getattr, 468, "-")
#endif
#ifdef SYS_file_setattr
	SEC_SYS(file_setattr, "-")
#else
	SEC_NEW(file_setattr, 469, "-")
#endif
#ifdef SYS_finit_module
	SEC_SYS(finit_module, "M")
#endif
#ifdef SYS_flistxattr
	SEC_SYS(flistxattr, "a")
#endif
#ifdef SYS_flock
	SEC_SYS(flock, "a")
#endif
#ifdef SYS_fork
	SEC_SYS(fork, "a")
#endif
#ifdef SYS_fremovexattr
	SEC_SYS(fremovexattr, "a")
#endif
#ifdef SYS_fsconfig
	SEC_SYS(fsconfig, "A")
#else
	SEC_NEW(fsconfig, 431, "A")
#endif
#ifdef SYS_fsetxattr
	SEC_SYS(fsetxattr, "a")
#endif
#ifdef SYS_fsmount
	SEC_SYS(fsmount, "A")
#else
	SEC_NEW(fsmount, 432, "A")
#endif
#ifdef SYS_fsopen
	SEC_SYS(fsopen, "A")
#else
	SEC_NEW(fsopen, 430, "A")
#endif
#ifdef SYS_fspick
	SEC_SYS(fspick, "A")
#else
	SEC_NEW(fspick, 433, "A")
#endif
#ifdef SYS_fstat
	SEC_SYS(fstat, "a")
#endif
#ifdef SYS_fstat64
	SEC_SYS(fstat64, "a")
#endif
#ifdef SYS_fstatat64
	SEC_SYS(fstatat64, "a")
#endif
#ifdef SYS_fstatfs
	SEC_SYS(fstatfs, "a")
#endif
#ifdef SYS_fstatfs64
	SEC_SYS(fstatfs64, "a")
#endif
#ifdef SYS_fsync
	SEC_SYS(fsync, "a")
#endif
#ifdef SYS_ftruncate
	SEC_SYS(ftruncate, "a")
#endif
#ifdef SYS_ftruncate64
	SEC_SYS(ftruncate64, "a")
#endif
#ifdef SYS_futex
	SEC_SYS(futex, "a")
#endif
#ifdef SYS_futex_requeue
	SEC_SYS(futex_requeue, "a")
#else
	SEC_NEW(futex_requeue, 456, "a")
#endif
#ifdef SYS_futex_time64
	SEC_SYS(futex_time64, "a")
#endif
#ifdef SYS_futex_wait
	SEC_SYS(futex_wait, "a")
#else
	SEC_NEW(futex_wait, 455, "a")
#endif
#ifdef SYS_futex_waitv
	SEC_SYS(futex_waitv, "a")
#else
	SEC_NEW(futex_waitv, 449, "a")
#endif
#ifdef SYS_futex_wake
	SEC_SYS(futex_wake, "a")
#else
	SEC_NEW(futex_wake, 454, "a")
#endif
#ifdef SYS_futimesat
	SEC_SYS(futimesat, "a")
#endif
#ifdef SYS_get_mempolicy
	SEC_SYS(get_mempolicy, "n")
#endif
#ifdef SYS_get_robust_list
	SEC_SYS(get_robust_list, "a")
#endif
#ifdef SYS_get_thread_area
	SEC_SYS(get_thread_area, "a")
#endif
#ifdef __ARM_NR_get_tls
	SEC_NR(get_tls, __ARM_NR_get_tls, "-")
#endif
#ifdef SYS_getcpu
	SEC_SYS(getcpu, "a")
#endif
#ifdef SYS_getcwd
	SEC_SYS(getcwd, "a")
#endif
#ifdef SYS_getdents
	SEC_SYS(getdents, "a")
#endif
#ifdef SYS_getdents64
	SEC_SYS(getdents64, "a")
#endif
#ifdef SYS_getegid
	SEC_SYS(getegid, "a")
#endif
#ifdef SYS_getegid32
	SEC_SYS(getegid32, "a")
#endif
#ifdef SYS_geteuid
	SEC_SYS(geteuid, "a")
#endif
#ifdef SYS_geteuid32
	SEC_SYS(geteuid32, "a")
#endif
#ifdef SYS_getgid
	SEC_SYS(getgid, "a")
#endif
#ifdef SYS_getgid32
	SEC_SYS(getgid32, "a")
#endif
#ifdef SYS_getgroups
	SEC_SYS(getgroups, "a")
#endif
#ifdef SYS_getgroups32
	SEC_SYS(getgroups32, "a")
#endif
#ifdef SYS_getitimer
	SEC_SYS(getitimer, "a")
#endif
#ifdef SYS_getpeername
	SEC_SYS(getpeername, "a")
#endif
#ifdef SYS_getpgid
	SEC_SYS(getpgid, "a")
#endif
#ifdef SYS_getpgrp
	SEC_SYS(getpgrp, "a")
#endif
#ifdef SYS_getpid
	SEC_SYS(getpid, "a")
#endif
#ifdef SYS_getppid
	SEC_SYS(getppid, "a")
#endif
#ifdef SYS_getpriority
	SEC_SYS(getpriority, "a")
#endif
#ifdef SYS_getrandom
	SEC_SYS(getrandom, "a")
#endif
#ifdef SYS_getresgid
	SEC_SYS(getresgid, "a")
#endif
#ifdef SYS_getresgid32
	SEC_SYS(getresgid32, "a")
#endif
#ifdef SYS_getresuid
	SEC_SYS(getresuid, "a")
#endif
#ifdef SYS_getresuid32
	SEC_SYS(getresuid32, "a")
#endif
#ifdef SYS_getrlimit
	SEC_SYS(getrlimit, "a")
#endif
#ifdef SYS_getrusage
	SEC_SYS(getrusage, "a")
#endif
#ifdef SYS_getsid
	SEC_SYS(getsid, "a")
#endif
#ifdef SYS_getsockname
	SEC_SYS(getsockname, "a")
#endif
#ifdef SYS_getsockopt
	SEC_SYS(getsockopt, "a")
#endif
#ifdef SYS_gettid
	SEC_SYS(gettid, "a")
#endif
#if defined(SYS_gettimeofday)
	SEC_SYS(gettimeofday, "a")
#elif defined(SYS_gettimeofday_time32)
	SEC_NR(gettimeofday, SYS_gettimeofday_time32, "a")
#endif
#ifdef SYS_getuid
	SEC_SYS(getuid, "a")
#endif
#ifdef SYS_getuid32
	SEC_SYS(getuid32, "a")
#endif
#ifdef SYS_getxattr
	SEC_SYS(getxattr, "a")
#endif
#ifdef SYS_getxattrat
	SEC_SYS(getxattrat, "-")
#else
	SEC_NEW(getxattrat, 464, "-")
#endif
#ifdef SYS_init_module
	SEC_SYS(init_module, "M")
#endif
#ifdef SYS_inotify_add_watch
	SEC_SYS(inotify_add_watch, "a")
#endif
#ifdef SYS_inotify_init
	SEC_SYS(inotify_init, "a")
#endif
#ifdef SYS_inotify_init1
	SEC_SYS(inotify_init1, "a")
#endif
#ifdef SYS_inotify_rm_watch
	SEC_SYS(inotify_rm_watch, "a")
#endif
#ifdef SYS_io_cancel
	SEC_SYS(io_cancel, "a")
#endif
#ifdef SYS_io_destroy
	SEC_SYS(io_destroy, "a")
#endif
#ifdef SYS_io_getevents
	SEC_SYS(io_getevents, "a")
#endif
#ifdef SYS_io_pgetevents
	SEC_SYS(io_pgetevents, "a")
#endif
#ifdef SYS_io_pgetevents_time64
	SEC_SYS(io_pgetevents_time64, "a")
#endif
#ifdef SYS_io_setup
	SEC_SYS(io_setup, "a")
#endif
#ifdef SYS_io_submit
	SEC_SYS(io_submit, "a")
#endif
#ifdef SYS_io_uring_enter
	SEC_SYS(io_uring_enter, "a")
#else
	SEC_NEW(io_uring_enter, 426, "a")
#endif
#ifdef SYS_io_uring_register
	SEC_SYS(io_uring_register, "a")
#else
	SEC_NEW(io_uring_register, 427, "a")
#endif
#ifdef SYS_io_uring_setup
	SEC_SYS(io_uring_setup, "a")
#else
	SEC_NEW(io_uring_setup, 425, "a")
#endif
#ifdef SYS_ioctl
	SEC_SYS(ioctl, "a")
#endif
#ifdef SYS_ioperm
	SEC_SYS(ioperm, "R")
#endif
#ifdef SYS_iopl
	SEC_SYS(iopl, "R")
#endif
#ifdef SYS_ioprio_get
	SEC_SYS(ioprio_get, "a")
#endif
#ifdef SYS_ioprio_set
	SEC_SYS(ioprio_set, "a")
#endif
#ifdef SYS_ipc
	SEC_SYS(ipc, "a")
#endif
#ifdef SYS_kcmp
	SEC_SYS(kcmp, "t")
#endif
#ifdef SYS_kexec_file_load
	SEC_SYS(kexec_file_load, "-")
#endif
#ifdef SYS_kexec_load
	SEC_SYS(kexec_load, "-")
#endif
#ifdef SYS_keyctl
	SEC_SYS(keyctl, "-")
#endif
#ifdef SYS_kill
	SEC_SYS(kill, "a")
#endif
#ifdef SYS_landlock_add_rule
	SEC_SYS(landlock_add_rule, "a")
#else
	SEC_NEW(landlock_add_rule, 445, "a")
#endif
#ifdef SYS_landlock_create_ruleset
	SEC_SYS(landlock_create_ruleset, "a")
#else
	SEC_NEW(landlock_create_ruleset, 444, "a")
#endif
#ifdef SYS_landlock_restrict_self
	SEC_SYS(landlock_restrict_self, "a")
#else
	SEC_NEW(landlock_restrict_self, 446, "a")
#endif
#ifdef SYS_lchown
	SEC_SYS(lchown, "a")
#endif
#ifdef SYS_lchown32
	SEC_SYS(lchown32, "a")
#endif
#ifdef SYS_lgetxattr
	SEC_SYS(lgetxattr, "a")
#endif
#ifdef SYS_link
	SEC_SYS(link, "a")
#endif
#ifdef SYS_linkat
	SEC_SYS(linkat, "a")
#endif
#ifdef SYS_listen
	SEC_SYS(listen, "a")
#endif
#ifdef SYS_listmount
	SEC_SYS(listmount, "-")
#else
	SEC_NEW(listmount, 458, "-")
#endif
#ifdef SYS_listxattr
	SEC_SYS(listxattr, "a")
#endif
#ifdef SYS_listxattrat
	SEC_SYS(listxattrat, "-")
#else
	SEC_NEW(listxattrat, 465, "-")
#endif
#ifdef SYS_llistxattr
	SEC_SYS(llistxattr, "a")
#endif
#ifdef SYS_lookup_dcookie
	SEC_SYS(lookup_dcookie, "A")
#endif
#ifdef SYS_lremovexattr
	SEC_SYS(lremovexattr, "a")
#endif
#ifdef SYS_lseek
	SEC_SYS(lseek, "a")
#endif
#ifdef SYS_lsetxattr
	SEC_SYS(lsetxattr, "a")
#endif
#ifdef SYS_lsm_get_self_attr
	SEC_SYS(lsm_get_self_attr, "-")
#else
	SEC_NEW(lsm_get_self_attr, 459, "-")
#endif
#ifdef SYS_lsm_list_modules
	SEC_SYS(lsm_list_modules, "-")
#else
	SEC_NEW(lsm_list_modules, 461, "-")
#endif
#ifdef SYS_lsm_set_self_attr
	SEC_SYS(lsm_set_self_attr, "-")
#else
	SEC_NEW(lsm_set_self_attr, 460, "-")
#endif
#ifdef SYS_lstat
	SEC_SYS(lstat, "a")
#endif
#ifdef SYS_lstat64
	SEC_SYS(lstat64, "a")
#endif
#ifdef SYS_madvise
	SEC_SYS(madvise, "a")
#endif
#ifdef SYS_map_shadow_stack
	SEC_SYS(map_shadow_stack, "a")
#else
	SEC_NEW(map_shadow_stack, 453, "a")
#endif
#ifdef SYS_mbind
	SEC_SYS(mbind, "n")
#endif
#ifdef SYS_membarrier
	SEC_SYS(membarrier, "a")
#endif
#ifdef SYS_memfd_create
	SEC_SYS(memfd_create, "a")
#endif
#ifdef SYS_memfd_secret
	SEC_SYS(memfd_secret, "a")
#else
	SEC_NEW(memfd_secret, 447, "a")
#endif
#ifdef SYS_migrate_pages
	SEC_SYS(migrate_pages, "-")
#endif
#ifdef SYS_mincore
	SEC_SYS(mincore, "a")
#endif
#ifdef SYS_mkdir
	SEC_SYS(mkdir, "a")
#endif
#ifdef SYS_mkdirat
	SEC_SYS(mkdirat, "a")
#endif
#ifdef SYS_mknod
	SEC_SYS(mknod, "a")
#endif
#ifdef SYS_mknodat
	SEC_SYS(mknodat, "a")
#endif
#ifdef SYS_mlock
	SEC_SYS(mlock, "a")
#endif
#ifdef SYS_mlock2
	SEC_SYS(mlock2, "a")
#endif
#ifdef SYS_mlockall
	SEC_SYS(mlockall, "a")
#endif
#ifdef SYS_mmap
	SEC_SYS(mmap, "a")
#endif
#ifdef SYS_mmap2
	SEC_SYS(mmap2, "a")
#endif
#ifdef SYS_modify_ldt
	SEC_SYS(modify_ldt, "X")
#endif
#ifdef SYS_mount
	SEC_SYS(mount, "A")
#endif
#ifdef SYS_mount_setattr
	SEC_SYS(mount_setattr, "A")
#else
	SEC_NEW(mount_setattr, 442, "A")
#endif
#ifdef SYS_move_mount
	SEC_SYS(move_mount, "A")
#else
	SEC_NEW(move_mount, 429, "A")
#endif
#ifdef SYS_move_pages
	SEC_SYS(move_pages, "-")
#endif
#ifdef SYS_mprotect
	SEC_SYS(mprotect, "a")
#endif
#ifdef SYS_mq_getsetattr
	SEC_SYS(mq_getsetattr, "a")
#endif
#ifdef SYS_mq_notify
	SEC_SYS(mq_notify, "a")
#endif
#ifdef SYS_mq_open
	SEC_SYS(mq_open, "a")
#endif
#ifdef SYS_mq_timedreceive
	SEC_SYS(mq_timedreceive, "a")
#endif
#ifdef SYS_mq_timedreceive_time64
	SEC_SYS(mq_timedreceive_time64, "a")
#endif
#ifdef SYS_mq_timedsend
	SEC_SYS(mq_timedsend, "a")
#endif
#ifdef SYS_mq_timedsend_time64
	SEC_SYS(mq_timedsend_time64, "a")
#endif
#ifdef SYS_mq_unlink
	SEC_SYS(mq_unlink, "a")
#endif
#ifdef SYS_mremap
	SEC_SYS(mremap, "a")
#endif
#ifdef SYS_mseal
	SEC_SYS(mseal, "-")
#else
	SEC_NEW(mseal, 462, "-")
#endif
#ifdef SYS_msgctl
	SEC_SYS(msgctl, "a")
#endif
#ifdef SYS_msgget
	SEC_SYS(msgget, "a")
#endif
#ifdef SYS_msgrcv
	SEC_SYS(msgrcv, "a")
#endif
#ifdef SYS_msgsnd
	SEC_SYS(msgsnd, "a")
#endif
#ifdef SYS_msync
	SEC_SYS(msync, "a")
#endif
#ifdef SYS_munlock
	SEC_SYS(munlock, "a")
#endif
#ifdef SYS_munlockall
	SEC_SYS(munlockall, "a")
#endif
#ifdef SYS_munmap
	SEC_SYS(munmap, "a")
#endif
#ifdef SYS_name_to_handle_at
	SEC_SYS(name_to_handle_at, "a")
#endif
#ifdef SYS_nanosleep
	SEC_SYS(nanosleep, "a")
#endif
#ifdef SYS_newfstatat
	SEC_SYS(newfstatat, "a")
#endif
#ifdef SYS_nice
	SEC_SYS(nice, "-")
#endif
#ifdef SYS_open
	SEC_SYS(open, "a")
#endif
#ifdef SYS_open_by_handle_at
	SEC_SYS(open_by_handle_at, "D")
#endif
#ifdef SYS_open_tree
	SEC_SYS(open_tree, "A")
#else
	SEC_NEW(open_tree, 428, "A")
#endif
#ifdef SYS_open_tree_attr
	SEC_SYS(open_tree_attr, "-")
#else
	SEC_NEW(open_tree_attr, 467, "-")
#endif
#ifdef SYS_openat
	SEC_SYS(openat, "a")
#endif
#ifdef SYS_openat2
	SEC_SYS(openat2, "a")
#else
	SEC_NEW(openat2, 437, "a")
#endif
#ifdef SYS_pause
	SEC_SYS(pause, "a")
#endif
#ifdef SYS_pciconfig_iobase
	SEC_SYS(pciconfig_iobase, "-")
#endif
#ifdef SYS_pciconfig_read
	SEC_SYS(pciconfig_read, "-")
#endif
#ifdef SYS_pciconfig_write
	SEC_SYS(pciconfig_write, "-")
#endif
#ifdef SYS_perf_event_open
	SEC_SYS(perf_event_open, "P")
#endif
#ifdef SYS_personality
	SEC_SYS(personality, "p")
#endif
#ifdef SYS_pidfd_getfd
	SEC_SYS(pidfd_getfd, "t")
#else
	SEC_NEW(pidfd_getfd, 438, "t")
#endif
#ifdef SYS_pidfd_open
	SEC_SYS(pidfd_open, "a")
#else
	SEC_NEW(pidfd_open, 434, "a")
#endif
#ifdef SYS_pidfd_send_signal
	SEC_SYS(pidfd_send_signal, "a")
#else
	SEC_NEW(pidfd_send_signal, 424, "a")
#endif
#ifdef SYS_pipe
	SEC_SYS(pipe, "a")
#endif
#ifdef SYS_pipe2
	SEC_SYS(pipe2, "a")
#endif
#ifdef SYS_pivot_root
	SEC_SYS(pivot_root, "-")
#endif
#ifdef SYS_pkey_alloc
	SEC_SYS(pkey_alloc, "a")
#endif
#ifdef SYS_pkey_free
	SEC_SYS(pkey_free, "a")
#endif
#ifdef SYS_pkey_mprotect
	SEC_SYS(pkey_mprotect, "a")
#endif
#ifdef SYS_poll
	SEC_SYS(poll, "a")
#endif
#ifdef SYS_ppoll
	SEC_SYS(ppoll, "a")
#endif
#ifdef SYS_ppoll_time64
	SEC_SYS(ppoll_time64, "a")
#endif
#ifdef SYS_prctl
	SEC_SYS(prctl, "a")
#endif
#ifdef SYS_pread64
	SEC_SYS(pread64, "a")
#endif
#ifdef SYS_preadv
	SEC_SYS(preadv, "a")
#endif
#ifdef SYS_preadv2
	SEC_SYS(preadv2, "a")
#endif
#ifdef SYS_prlimit64
	SEC_SYS(prlimit64, "a")
#endif
#ifdef SYS_process_madvise
	SEC_SYS(process_madvise, "t")
#else
	SEC_NEW(process_madvise, 440, "t")
#endif
#ifdef SYS_process_mrelease
	SEC_SYS(process_mrelease, "a")
#else
	SEC_NEW(process_mrelease, 448, "a")
#endif
#ifdef SYS_process_vm_readv
	SEC_SYS(process_vm_readv, "k")
#endif
#ifdef SYS_process_vm_writev
	SEC_SYS(process_vm_writev, "k")
#endif
#ifdef SYS_pselect6
	SEC_SYS(pselect6, "a")
#endif
#ifdef SYS_pselect6_time64
	SEC_SYS(pselect6_time64, "a")
#endif
#ifdef SYS_ptrace
	SEC_SYS(ptrace, "k")
#endif
#ifdef SYS_pwrite64
	SEC_SYS(pwrite64, "a")
#endif
#ifdef SYS_pwritev
	SEC_SYS(pwritev, "a")
#endif
#ifdef SYS_pwritev2
	SEC_SYS(pwritev2, "a")
#endif
#ifdef SYS_quotactl
	SEC_SYS(quotactl, "A")
#endif
#ifdef SYS_quotactl_fd
	SEC_SYS(quotactl_fd, "A")
#else
	SEC_NEW(quotactl_fd, 443, "A")
#endif
#ifdef SYS_read
	SEC_SYS(read, "a")
#endif
#ifdef SYS_readahead
	SEC_SYS(readahead, "a")
#endif
#ifdef SYS_readdir
	SEC_SYS(readdir, "-")
#endif
#ifdef SYS_readlink
	SEC_SYS(readlink, "a")
#endif
#ifdef SYS_readlinkat
	SEC_SYS(readlinkat, "a")
#endif
#ifdef SYS_readv
	SEC_SYS(readv, "a")
#endif
#ifdef SYS_reboot
	SEC_SYS(reboot, "b")
#endif
#ifdef SYS_recv
	SEC_SYS(recv, "a")
#endif
#ifdef SYS_recvfrom
	SEC_SYS(recvfrom, "a")
#endif
#ifdef SYS_recvmmsg
	SEC_SYS(recvmmsg, "a")
#endif
#ifdef SYS_recvmmsg_time64
	SEC_SYS(recvmmsg_time64, "a")
#endif
#ifdef SYS_recvmsg
	SEC_SYS(recvmsg, "a")
#endif
#ifdef SYS_remap_file_pages
	SEC_SYS(remap_file_pages, "a")
#endif
#ifdef SYS_removexattr
	SEC_SYS(removexattr, "a")
#endif
#ifdef SYS_removexattrat
	SEC_SYS(removexattrat, "-")
#else
	SEC_NEW(removexattrat, 466, "-")
#endif
#ifdef SYS_rename
	SEC_SYS(rename, "a")
#endif
#ifdef SYS_renameat
	SEC_SYS(renameat, "a")
#endif
#ifdef SYS_renameat2
	SEC_SYS(renameat2, "a")
#endif
#ifdef SYS_request_key
	SEC_SYS(request_key, "-")
#endif
#ifdef SYS_restart_syscall
	SEC_SYS(restart_syscall, "a")
#endif
#ifdef SYS_riscv_flush_icache
	SEC_SYS(riscv_flush_icache, "v")
#endif
#ifdef SYS_rmdir
	SEC_SYS(rmdir, "a")
#endif
#ifdef SYS_rseq
	SEC_SYS(rseq, "a")
#endif
#ifdef SYS_rt_sigaction
	SEC_SYS(rt_sigaction, "a")
#endif
#ifdef SYS_rt_sigpending
	SEC_SYS(rt_sigpending, "a")
#endif
#ifdef SYS_rt_sigprocmask
	SEC_SYS(rt_sigprocmask, "a")
#endif
#ifdef SYS_rt_sigqueueinfo
	SEC_SYS(rt_sigqueueinfo, "a")
#endif
#ifdef SYS_rt_sigreturn
	SEC_SYS(rt_sigreturn, "a")
#endif
#ifdef SYS_rt_sigsuspend
	SEC_SYS(rt_sigsuspend, "a")
#endif
#ifdef SYS_rt_sigtimedwait
	SEC_SYS(rt_sigtimedwait, "a")
#endif
#ifdef SYS_rt_sigtimedwait_time64
	SEC_SYS(rt_sigtimedwait_time64, "a")
#endif
#ifdef SYS_rt_tgsigqueueinfo
	SEC_SYS(rt_tgsigqueueinfo, "a")
#endif
#ifdef SYS_s390_pci_mmio_read
	SEC_SYS(s390_pci_mmio_read, "z")
#endif
#ifdef SYS_s390_pci_mmio_write
	SEC_SYS(s390_pci_mmio_write, "z")
#endif
#ifdef SYS_s390_runtime_instr
	SEC_SYS(s390_runtime_instr, "z")
#endif
#ifdef SYS_sched_get_priority_max
	SEC_SYS(sched_get_priority_max, "a")
#endif
#ifdef SYS_sched_get_priority_min
	SEC_SYS(sched_get_priority_min, "a")
#endif
#ifdef SYS_sched_getaffinity
	SEC_SYS(sched_getaffinity, "a")
#endif
#ifdef SYS_sched_getattr
	SEC_SYS(sched_getattr, "a")
#endif
#ifdef SYS_sched_getparam
	SEC_SYS(sched_getparam, "a")
#endif
#ifdef SYS_sched_getscheduler
	SEC_SYS(sched_getscheduler, "a")
#endif
#ifdef SYS_sched_rr_get_interval
	SEC_SYS(sched_rr_get_interval, "a")
#endif
#ifdef SYS_sched_rr_get_interval_time64
	SEC_SYS(sched_rr_get_interval_time64, "a")
#endif
#ifdef SYS_sched_setaffinity
	SEC_SYS(sched_setaffinity, "a")
#endif
#ifdef SYS_sched_setattr
	SEC_SYS(sched_setattr, "a")
#endif
#ifdef SYS_sched_setparam
	SEC_SYS(sched_setparam, "a")
#endif
#ifdef SYS_sched_setscheduler
	SEC_SYS(sched_setscheduler, "a")
#endif
#ifdef SYS_sched_yield
	SEC_SYS(sched_yield, "a")
#endif
#ifdef SYS_seccomp
	SEC_SYS(seccomp, "a")
#endif
#ifdef SYS_select
	SEC_SYS(select, "a")
#endif
#ifdef SYS_semctl
	SEC_SYS(semctl, "a")
#endif
#ifdef SYS_semget
	SEC_SYS(semget, "a")
#endif
#ifdef SYS_semop
	SEC_SYS(semop, "a")
#endif
#ifdef SYS_semtimedop
	SEC_SYS(semtimedop, "a")
#endif
#ifdef SYS_semtimedop_time64
	SEC_SYS(semtimedop_time64, "a")
#endif
#ifdef SYS_send
	SEC_SYS(send, "a")
#endif
#ifdef SYS_sendfile
	SEC_SYS(sendfile, "a")
#endif
#ifdef SYS_sendfile64
	SEC_SYS(sendfile64, "a")
#endif
#ifdef SYS_sendmmsg
	SEC_SYS(sendmmsg, "a")
#endif
#ifdef SYS_sendmsg
	SEC_SYS(sendmsg, "a")
#endif
#ifdef SYS_sendto
	SEC_SYS(sendto, "a")
#endif
#ifdef SYS_set_mempolicy
	SEC_SYS(set_mempolicy, "n")
#endif
#ifdef SYS_set_mempolicy_home_node
	SEC_SYS(set_mempolicy_home_node, "n")
#else
	SEC_NEW(set_mempolicy_home_node, 450, "n")
#endif
#ifdef SYS_set_robust_list
	SEC_SYS(set_robust_list, "a")
#endif
#ifdef SYS_set_thread_area
	SEC_SYS(set_thread_area, "a")
#endif
#ifdef SYS_set_tid_address
	SEC_SYS(set_tid_address, "a")
#endif
#ifdef __ARM_NR_set_tls
	SEC_NR(set_tls, __ARM_NR_set_tls, "r")
#endif
#ifdef SYS_setdomainname
	SEC_SYS(setdomainname, "A")
#endif
#ifdef SYS_setfsgid
	SEC_SYS(setfsgid, "a")
#endif
#ifdef SYS_setfsgid32
	SEC_SYS(setfsgid32, "a")
#endif
#ifdef SYS_setfsuid
	SEC_SYS(setfsuid, "a")
#endif
#ifdef SYS_setfsuid32
	SEC_SYS(setfsuid32, "a")
#endif
#ifdef SYS_setgid
	SEC_SYS(setgid, "a")
#endif
#ifdef SYS_setgid32
	SEC_SYS(setgid32, "a")
#endif
#ifdef SYS_setgroups
	SEC_SYS(setgroups, "a")
#endif
#ifdef SYS_setgroups32
	SEC_SYS(setgroups32, "a")
#endif
#ifdef SYS_sethostname
	SEC_SYS(sethostname, "A")
#endif
#ifdef SYS_setitimer
	SEC_SYS(setitimer, "a")
#endif
#ifdef SYS_setns
	SEC_SYS(setns, "A")
#endif
#ifdef SYS_setpgid
	SEC_SYS(setpgid, "a")
#endif
#ifdef SYS_setpriority
	SEC_SYS(setpriority, "a")
#endif
#ifdef SYS_setregid
	SEC_SYS(setregid, "a")
#endif
#ifdef SYS_setregid32
	SEC_SYS(setregid32, "a")
#endif
#ifdef SYS_setresgid
	SEC_SYS(setresgid, "a")
#endif
#ifdef SYS_setresgid32
	SEC_SYS(setresgid32, "a")
#endif
#ifdef SYS_setresuid
	SEC_SYS(setresuid, "a")
#endif
#ifdef SYS_setresuid32
	SEC_SYS(setresuid32, "a")
#endif
#ifdef SYS_setreuid
	SEC_SYS(setreuid, "a")
#endif
#ifdef SYS_setreuid32
	SEC_SYS(setreuid32, "a")
#endif
#ifdef SYS_setrlimit
	SEC_SYS(setrlimit, "a")
#endif
#ifdef SYS_setsid
	SEC_SYS(setsid, "a")
#endif
#ifdef SYS_setsockopt
	SEC_SYS(setsockopt, "a")
#endif
#if defined(SYS_settimeofday)
	SEC_SYS(settimeofday, "T")
#elif defined(SYS_settimeofday_time32)
	SEC_NR(settimeofday, SYS_settimeofday_time32, "T")
#endif
#ifdef SYS_setuid
	SEC_SYS(setuid, "a")
#endif
#ifdef SYS_setuid32
	SEC_SYS(setuid32, "a")
#endif
#ifdef SYS_setxattr
	SEC_SYS(setxattr, "a")
#endif
#ifdef SYS_setxattrat
	SEC_SYS(setxattrat, "-")
#else
	SEC_NEW(setxattrat, 463, "-")
#endif
#ifdef SYS_sgetmask
	SEC_SYS(sgetmask, "-")
#endif
#ifdef SYS_shmat
	SEC_SYS(shmat, "a")
#endif
#ifdef SYS_shmctl
	SEC_SYS(shmctl, "a")
#endif
#ifdef SYS_shmdt
	SEC_SYS(shmdt, "a")
#endif
#ifdef SYS_shmget
	SEC_SYS(shmget, "a")
#endif
#ifdef SYS_shutdown
	SEC_SYS(shutdown, "a")
#endif
#ifdef SYS_sigaction
	SEC_SYS(sigaction, "-")
#endif
#ifdef SYS_sigaltstack
	SEC_SYS(sigaltstack, "a")
#endif
#ifdef SYS_signal
	SEC_SYS(signal, "-")
#endif
#ifdef SYS_signalfd
	SEC_SYS(signalfd, "a")
#endif
#ifdef SYS_signalfd4
	SEC_SYS(signalfd4, "a")
#endif
#ifdef SYS_sigpending
	SEC_SYS(sigpending, "-")
#endif
#ifdef SYS_sigprocmask
	SEC_SYS(sigprocmask, "a")
#endif
#ifdef SYS_sigreturn
	SEC_SYS(sigreturn, "a")
#endif
#ifdef SYS_sigsuspend
	SEC_SYS(sigsuspend, "-")
#endif
#ifdef SYS_socket
	SEC_SYS(socket, "s")
#endif
#ifdef SYS_socketcall
	SEC_SYS(socketcall, "a")
#endif
#ifdef SYS_socketpair
	SEC_SYS(socketpair, "a")
#endif
#ifdef SYS_splice
	SEC_SYS(splice, "a")
#endif
#ifdef SYS_ssetmask
	SEC_SYS(ssetmask, "-")
#endif
#ifdef SYS_stat
	SEC_SYS(stat, "a")
#endif
#ifdef SYS_stat64
	SEC_SYS(stat64, "a")
#endif
#ifdef SYS_statfs
	SEC_SYS(statfs, "a")
#endif
#ifdef SYS_statfs64
	SEC_SYS(statfs64, "a")
#endif
#ifdef SYS_statmount
	SEC_SYS(statmount, "-")
#else
	SEC_NEW(statmount, 457, "-")
#endif
#ifdef SYS_statx
	SEC_SYS(statx, "a")
#endif
#ifdef SYS_stime
	SEC_SYS(stime, "T")
#endif
#ifdef SYS_swapcontext
	SEC_SYS(swapcontext, "w")
#endif
#ifdef SYS_swapoff
	SEC_SYS(swapoff, "-")
#endif
#ifdef SYS_swapon
	SEC_SYS(swapon, "-")
#endif
#ifdef SYS_symlink
	SEC_SYS(symlink, "a")
#endif
#ifdef SYS_symlinkat
	SEC_SYS(symlinkat, "a")
#endif
#ifdef SYS_sync
	SEC_SYS(sync, "a")
#endif
#ifdef SYS_sync_file_range
	SEC_SYS(sync_file_range, "a")
#endif
#ifdef SYS_sync_file_range2
	SEC_SYS(sync_file_range2, "r")
#endif
#ifdef SYS_syncfs
	SEC_SYS(syncfs, "a")
#endif
#ifdef SYS_syscall
	SEC_SYS(syscall, "-")
#endif
#ifdef SYS_sysfs
	SEC_SYS(sysfs, "-")
#endif
#ifdef SYS_sysinfo
	SEC_SYS(sysinfo, "a")
#endif
#ifdef SYS_syslog
	SEC_SYS(syslog, "L")
#endif
#ifdef SYS_sysmips
	SEC_SYS(sysmips, "-")
#endif
#ifdef SYS_tee
	SEC_SYS(tee, "a")
#endif
#ifdef SYS_tgkill
	SEC_SYS(tgkill, "a")
#endif
#ifdef SYS_time
	SEC_SYS(time, "a")
#endif
#ifdef SYS_timer_create
	SEC_SYS(timer_create, "a")
#endif
#ifdef SYS_timer_delete
	SEC_SYS(timer_delete, "a")
#endif
#ifdef SYS_timer_getoverrun
	SEC_SYS(timer_getoverrun, "a")
#endif
#if defined(SYS_timer_gettime)
	SEC_SYS(timer_gettime, "a")
#elif defined(SYS_timer_gettime32)
	SEC_NR(timer_gettime, SYS_timer_gettime32, "a")
#endif
#ifdef SYS_timer_gettime64
	SEC_SYS(timer_gettime64, "a")
#endif
#if defined(SYS_timer_settime)
	SEC_SYS(timer_settime, "a")
#elif defined(SYS_timer_settime32)
	SEC_NR(timer_settime, SYS_timer_settime32, "a")
#endif
#ifdef SYS_timer_settime64
	SEC_SYS(timer_settime64, "a")
#endif
#ifdef SYS_timerfd
	SEC_SYS(timerfd, "-")
#endif
#ifdef SYS_timerfd_create
	SEC_SYS(timerfd_create, "a")
#endif
#if defined(SYS_timerfd_gettime)
	SEC_SYS(timerfd_gettime, "a")
#elif defined(SYS_timerfd_gettime32)
	SEC_NR(timerfd_gettime, SYS_timerfd_gettime32, "a")
#endif
#ifdef SYS_timerfd_gettime64
	SEC_SYS(timerfd_gettime64, "a")
#endif
#if defined(SYS_timerfd_settime)
	SEC_SYS(timerfd_settime, "a")
#elif defined(SYS_timerfd_settime32)
	SEC_NR(timerfd_settime, SYS_timerfd_settime32, "a")
#endif
#ifdef SYS_timerfd_settime64
	SEC_SYS(timerfd_settime64, "a")
#endif
#ifdef SYS_times
	SEC_SYS(times, "a")
#endif
#ifdef SYS_tkill
	SEC_SYS(tkill, "a")
#endif
#ifdef SYS_truncate
	SEC_SYS(truncate, "a")
#endif
#ifdef SYS_truncate64
	SEC_SYS(truncate64, "a")
#endif
#ifdef SYS_ugetrlimit
	SEC_SYS(ugetrlimit, "a")
#endif
#ifdef SYS_umask
	SEC_SYS(umask, "a")
#endif
#ifdef SYS_umount
	SEC_SYS(umount, "A")
#endif
#ifdef SYS_umount2
	SEC_SYS(umount2, "A")
#endif
#ifdef SYS_uname
	SEC_SYS(uname, "a")
#endif
#ifdef SYS_unlink
	SEC_SYS(unlink, "a")
#endif
#ifdef SYS_unlinkat
	SEC_SYS(unlinkat, "a")
#endif
#ifdef SYS_unshare
	SEC_SYS(unshare, "A")
#endif
#ifdef SYS_uselib
	SEC_SYS(uselib, "-")
#endif
#ifdef SYS_userfaultfd
	SEC_SYS(userfaultfd, "-")
#endif
#ifdef __ARM_NR_usr26
	SEC_NR(usr26, __ARM_NR_usr26, "-")
#endif
#ifdef __ARM_NR_usr32
	SEC_NR(usr32, __ARM_NR_usr32, "-")
#endif
#ifdef SYS_ustat
	SEC_SYS(ustat, "-")
#endif
#ifdef SYS_utime
	SEC_SYS(utime, "a")
#endif
#ifdef SYS_utimensat
	SEC_SYS(utimensat, "a")
#endif
#ifdef SYS_utimensat_time64
	SEC_SYS(utimensat_time64, "a")
#endif
#ifdef SYS_utimes
	SEC_SYS(utimes, "a")
#endif
#ifdef SYS_vfork
	SEC_SYS(vfork, "a")
#endif
#ifdef SYS_vhangup
	SEC_SYS(vhangup, "y")
#endif
#ifdef SYS_vm86
	SEC_SYS(vm86, "-")
#endif
#ifdef SYS_vmsplice
	SEC_SYS(vmsplice, "a")
#endif
#ifdef SYS_wait4
	SEC_SYS(wait4, "a")
#endif
#ifdef SYS_waitid
	SEC_SYS(waitid, "a")
#endif
#ifdef SYS_waitpid
	SEC_SYS(waitpid, "a")
#endif
#ifdef SYS_write
	SEC_SYS(write, "a")
#endif
#ifdef SYS_writev
	SEC_SYS(writev, "a")
#endif
	;

/* Syscalls added since Linux 5.1 are numbered alike everywhere, from
 * pidfd_send_signal (424), plus the ABI's base (4000 on MIPS o32). */
#ifdef SYS_pidfd_send_signal
#define SEC_SHARED_BASE ((uint32_t)SYS_pidfd_send_signal - 424)
#endif

struct sec_sys {
	const char *name;
	char cls;                   /* Docker's rule, see sec_default */
	const char *num;            /* the number as text */
};

/* The entry at p into e; returns the next one, or NULL at the end. */
static const char *sec_sys_next(const char *p, struct sec_sys *e)
{
	if (p >= sec_sys_table + sizeof sec_sys_table - 1)
		return NULL;
	e->name = p;
	p += strlen(p) + 1;
	e->cls = *p;
	e->num = p + 1;
	return p + strlen(p) + 1;
}

/* A sum of decimal or hex terms, in parentheses or not; a leading '+'
 * counts from the shared base. SEC_NONE if it cannot be read. */
static uint32_t sec_sys_number(const char *s)
{
	uint32_t nr = 0;
	const char *end;

	if (*s == '+') {
#ifdef SEC_SHARED_BASE
		nr = SEC_SHARED_BASE;
#else
		return SEC_NONE;
#endif
	}
	for (; *s; s = end) {
		end = (char *)s + 1;
		if (strchr("+() ", *s))
			continue;
		nr += (uint32_t)num(s, &end);
		if (end == s)
			return SEC_NONE;
	}
	return nr;
}

/* The table's entries in an array, for a binary search while a profile
 * is read (hundreds of names). */
struct sec_index {
	const char **at;
	size_t n;
};

static int sec_index_make(struct sec_index *x)
{
	const char *p = sec_sys_table;
	struct sec_sys e;

	for (x->n = 0; (p = sec_sys_next(p, &e)); x->n++)
		;
	if (!(x->at = malloc(x->n * sizeof *x->at)))
		return err_set("out of memory");
	for (x->n = 0, p = sec_sys_table; (p = sec_sys_next(p, &e));)
		x->at[x->n++] = e.name;
	return 0;
}

static int sec_index_find(const struct sec_index *x, const char *name, uint32_t *nr)
{
	size_t lo = 0, hi = x->n, mid;
	struct sec_sys e;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(x->at[mid], name)) < 0) {
			lo = mid + 1;
		} else if (c > 0) {
			hi = mid;
		} else {
			/* at[] holds only the table's own entries: there is a next */
			if (!sec_sys_next(x->at[mid], &e))
				return -1;
			*nr = sec_sys_number(e.num);
			return *nr == SEC_NONE ? -1 : 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ parse */

#define SEC_PATH "linux.seccomp"

static const struct { const char *name; uint32_t ret; } sec_actions[] = {
	{ "SCMP_ACT_KILL", SECCOMP_RET_KILL_THREAD },   /* as libseccomp */
	{ "SCMP_ACT_KILL_THREAD", SECCOMP_RET_KILL_THREAD },
	{ "SCMP_ACT_KILL_PROCESS", SECCOMP_RET_KILL_PROCESS },
	{ "SCMP_ACT_TRAP", SECCOMP_RET_TRAP },
	{ "SCMP_ACT_ERRNO", SECCOMP_RET_ERRNO },
	{ "SCMP_ACT_TRACE", SECCOMP_RET_TRACE },
	{ "SCMP_ACT_ALLOW", SECCOMP_RET_ALLOW },
	{ "SCMP_ACT_LOG", SECCOMP_RET_LOG },
	{ "SCMP_ACT_NOTIFY", SECCOMP_RET_USER_NOTIF },
};

/* In enum order. */
static const char sec_op_names[] = "SCMP_CMP_NE\0SCMP_CMP_LT\0SCMP_CMP_LE\0"
    "SCMP_CMP_EQ\0SCMP_CMP_GE\0SCMP_CMP_GT\0SCMP_CMP_MASKED_EQ\0";

/* Bit n is flag 1 << n; those from NEW_LISTENER on serve a listener. */
static const char sec_flag_names[] = "SECCOMP_FILTER_FLAG_TSYNC\0"
    "SECCOMP_FILTER_FLAG_LOG\0SECCOMP_FILTER_FLAG_SPEC_ALLOW\0"
    "SECCOMP_FILTER_FLAG_NEW_LISTENER\0SECCOMP_FILTER_FLAG_TSYNC_ESRCH\0"
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\0";
#define SEC_FLAG_LISTENER 3

static const char sec_arch_names[] = "SCMP_ARCH_X86\0SCMP_ARCH_X86_64\0"
    "SCMP_ARCH_X32\0SCMP_ARCH_ARM\0SCMP_ARCH_AARCH64\0SCMP_ARCH_MIPS\0"
    "SCMP_ARCH_MIPS64\0SCMP_ARCH_MIPS64N32\0SCMP_ARCH_MIPSEL\0"
    "SCMP_ARCH_MIPSEL64\0SCMP_ARCH_MIPSEL64N32\0SCMP_ARCH_PPC\0"
    "SCMP_ARCH_PPC64\0SCMP_ARCH_PPC64LE\0SCMP_ARCH_S390\0SCMP_ARCH_S390X\0"
    "SCMP_ARCH_PARISC\0SCMP_ARCH_PARISC64\0SCMP_ARCH_RISCV64\0"
    "SCMP_ARCH_LOONGARCH64\0SCMP_ARCH_M68K\0SCMP_ARCH_SH\0SCMP_ARCH_SHEB\0";

/* The position of s in a list of NUL-terminated names, or -1. */
static int sec_list_index(const char *list, const char *s)
{
	int i;

	for (i = 0; *list; list += strlen(list) + 1, i++)
		if (!strcmp(list, s))
			return i;
	return -1;
}

/* An action with, for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, its errnoRet
 * (EPERM when absent, as runc does). */
static int sec_action(const struct json *v, const char *path,
    const struct json *ret, const char *rpath, uint32_t *out)
{
	const char *s;
	int64_t data = EPERM;
	size_t i;

	if (!v)
		return err_set("%s: missing", path);
	if (!(s = cfg_str(v, path)))
		return -1;
	for (i = 0; i < LEN(sec_actions) && strcmp(sec_actions[i].name, s); i++)
		;
	if (i == LEN(sec_actions))
		return err_set("%s: unknown action \"%s\"", path, s);
	*out = sec_actions[i].ret;
	if (*out == SECCOMP_RET_USER_NOTIF)
		return err_set("%s: %s is not supported by sandbox", path, s);
	if (ret && ret->type != JSON_NULL) {
		if (*out != SECCOMP_RET_ERRNO && *out != SECCOMP_RET_TRACE)
			return err_set("%s: not allowed with %s", rpath, s);
		/* the kernel caps an errno at MAX_ERRNO */
		if (cfg_int(ret, rpath, 0, *out == SECCOMP_RET_ERRNO ? 4095 : 0xffff,
		    &data) < 0)
			return -1;
	}
	if (*out == SECCOMP_RET_ERRNO || *out == SECCOMP_RET_TRACE)
		*out |= (uint32_t)data;
	return 0;
}

/* Only the native architecture is filtered; the others are killed. */
static int sec_arches(const struct json *v)
{
	const struct json *e;
	char p[64];
	size_t i = 0;

	if (cfg_want(v, JSON_ARRAY, SEC_PATH ".architectures") < 0)
		return -1;
	for (e = v->child; e; e = e->next, i++) {
		strf(p, sizeof p, SEC_PATH ".architectures[%zu]", i);
		if (!cfg_str(e, p))
			return -1;
		if (sec_list_index(sec_arch_names, e->str) < 0)
			return err_set("%s: unknown architecture \"%s\"", p, e->str);
		if (strcmp(e->str, SEC_ARCH_NAME))
			dbg("%s: %s ignored: the filter kills every syscall not of %s",
			    p, e->str, SEC_ARCH_NAME);
	}
	return 0;
}

static int sec_flags(const struct json *v, unsigned *flags)
{
	const struct json *e;
	char p[64];
	size_t i = 0;
	int bit;

	if (cfg_want(v, JSON_ARRAY, SEC_PATH ".flags") < 0)
		return -1;
	for (e = v->child; e; e = e->next, i++) {
		strf(p, sizeof p, SEC_PATH ".flags[%zu]", i);
		if (!cfg_str(e, p))
			return -1;
		if ((bit = sec_list_index(sec_flag_names, e->str)) < 0)
			return err_set("%s: unknown flag \"%s\"", p, e->str);
		if (bit >= SEC_FLAG_LISTENER)
			return err_set("%s: %s needs a notify listener, not supported by sandbox",
			    p, e->str);
		*flags |= 1u << bit;
	}
	return 0;
}

static int sec_arg(const struct json *v, const char *path, struct sec_arg *c)
{
	const struct json *t;
	char p[128];
	int64_t x;
	int op;

	if (cfg_want(v, JSON_OBJECT, path) < 0)
		return -1;
	strf(p, sizeof p, "%s.index", path);
	if (!(t = json_get(v, "index")))
		return err_set("%s: missing", p);
	if (cfg_int(t, p, 0, 5, &x) < 0)
		return -1;
	c->index = (uint8_t)x;
	strf(p, sizeof p, "%s.value", path);
	if (!(t = json_get(v, "value")))
		return err_set("%s: missing", p);
	if (cfg_u64(t, p, &c->value) < 0)
		return -1;
	strf(p, sizeof p, "%s.valueTwo", path);
	if ((t = json_get(v, "valueTwo")) && t->type != JSON_NULL &&
	    cfg_u64(t, p, &c->value2) < 0)
		return -1;
	strf(p, sizeof p, "%s.op", path);
	if (!(t = json_get(v, "op")))
		return err_set("%s: missing", p);
	if (!cfg_str(t, p))
		return -1;
	if ((op = sec_list_index(sec_op_names, t->str)) < 0)
		return err_set("%s: unknown operator \"%s\"", p, t->str);
	c->op = (uint8_t)op;
	return 0;
}

static int sec_args(struct arena *a, const struct json *v, const char *path,
    struct sec_arg **args, uint32_t *nargs)
{
	const struct json *e;
	char p[96];

	if (!v || v->type == JSON_NULL)
		return 0;
	strf(p, sizeof p, "%s.args", path);
	if (cfg_want(v, JSON_ARRAY, p) < 0)
		return -1;
	if (v->n && !(*args = arena_alloc(a, v->n * sizeof **args)))
		return -1;
	for (e = v->child; e; e = e->next, ++*nargs) {
		strf(p, sizeof p, "%s.args[%u]", path, (unsigned)*nargs);
		if (sec_arg(e, p, &(*args)[*nargs]) < 0)
			return -1;
	}
	return 0;
}

/* A rule for each name this target knows. Unknown names are skipped, as
 * runc does: one profile serves several architectures and kernels. */
static int sec_names(const struct json *v, const char *path, const struct sec_rule *r,
    const struct sec_index *x, struct sec_profile *p)
{
	const struct json *e;
	char q[96];
	uint32_t nr;
	size_t j = 0;

	strf(q, sizeof q, "%s.names", path);
	if (!v)
		return err_set("%s: missing", q);
	if (cfg_want(v, JSON_ARRAY, q) < 0)
		return -1;
	if (!v->n)
		return err_set("%s: empty", q);
	for (e = v->child; e; e = e->next, j++) {
		strf(q, sizeof q, "%s.names[%zu]", path, j);
		if (!cfg_str(e, q))
			return -1;
		if (sec_index_find(x, e->str, &nr) < 0) {
			dbg("%s: unknown syscall \"%s\" skipped", q, e->str);
			continue;
		}
		p->rules[p->nrules] = *r;
		p->rules[p->nrules].nr = nr;
		p->rules[p->nrules].order = (uint32_t)p->nrules;
		p->nrules++;
	}
	return 0;
}

/* One element of syscalls[]. */
static int sec_syscall(struct arena *a, const struct json *v, size_t i,
    const struct sec_index *x, struct sec_profile *p)
{
	struct sec_arg *args = NULL;
	struct sec_rule r = { 0, 0, 0, 0, NULL };
	char path[64], pa[96], pe[96];

	strf(path, sizeof path, SEC_PATH ".syscalls[%zu]", i);
	strf(pa, sizeof pa, "%s.action", path);
	strf(pe, sizeof pe, "%s.errnoRet", path);
	if (cfg_want(v, JSON_OBJECT, path) < 0 ||
	    sec_action(json_get(v, "action"), pa, json_get(v, "errnoRet"), pe, &r.action) < 0 ||
	    sec_args(a, json_get(v, "args"), path, &args, &r.nargs) < 0)
		return -1;
	r.args = args;
	return sec_names(json_get(v, "names"), path, &r, x, p);
}

/* Members for a notify listener, which sandbox does not provide. */
static int sec_no_listener(const struct json *v)
{
	static const char *const keys[] = { "listenerPath", "listenerMetadata" };
	const struct json *t;
	size_t i;

	for (i = 0; i < LEN(keys); i++) {
		t = json_get(v, keys[i]);
		if (t && t->type != JSON_NULL && !(t->type == JSON_STRING && !t->len))
			return err_set(SEC_PATH ".%s: not supported by sandbox (no notify listener)",
			    keys[i]);
	}
	return 0;
}

/* linux.seccomp into p; its rules are allocated in a. */
static int sec_parse(struct arena *a, const struct json *v, struct sec_profile *p)
{
	const struct json *t, *e, *names;
	struct sec_index x;
	size_t i = 0, cap = 0;
	int r = 0;

	memset(p, 0, sizeof *p);
	if (cfg_want(v, JSON_OBJECT, SEC_PATH) < 0 ||
	    sec_action(json_get(v, "defaultAction"), SEC_PATH ".defaultAction",
	    json_get(v, "defaultErrnoRet"), SEC_PATH ".defaultErrnoRet",
	    &p->default_action) < 0 || sec_no_listener(v) < 0)
		return -1;
	if ((t = json_get(v, "architectures")) && t->type != JSON_NULL &&
	    sec_arches(t) < 0)
		return -1;
	if ((t = json_get(v, "flags")) && t->type != JSON_NULL &&
	    sec_flags(t, &p->flags) < 0)
		return -1;
	if (!(t = json_get(v, "syscalls")) || t->type == JSON_NULL)
		return 0;
	if (cfg_want(t, JSON_ARRAY, SEC_PATH ".syscalls") < 0)
		return -1;
	for (e = t->child; e; e = e->next)
		if (e->type == JSON_OBJECT && (names = json_get(e, "names")) &&
		    names->type == JSON_ARRAY)
			cap += names->n;
	if ((cap && !(p->rules = arena_alloc(a, cap * sizeof *p->rules))) ||
	    sec_index_make(&x) < 0)
		return -1;
	for (e = t->child; e && r == 0; e = e->next, i++)
		r = sec_syscall(a, e, i, &x, p);
	free(x.at);
	return r;
}

/* ---------------------------------------------------- default profile */

/* The effect of Docker's default profile (moby profiles/seccomp/
 * default.json, 2024), from the class letters of the table:
 *   a  allowed             k  allowed on Linux >= 4.8 or with SYS_PTRACE
 *   s  socket, but not AF_VSOCK
 *   p  personality: only PER_LINUX, PER_LINUX32, UNAME26 and the query
 *   c  clone: anything with SYS_ADMIN, else no namespace flags
 *   3  clone3: with SYS_ADMIN, else ENOSYS (its flags are in memory, so
 *      the filter cannot check them; libc falls back to clone)
 *   r x X v  only on arm/arm64, x86_64, x86, riscv64 (Docker's "arches")
 *   A L B P D b C M q t R T y n  allowed with a capability (table below)
 *   -  not in the profile
 * Everything else gets EPERM. An allow-list, as Docker's: a deny-list
 * would let through every syscall newer than the list. */
#define SEC_NOCAP 0xff

static const struct { char cls; uint8_t cap, or_cap; } sec_dflt_caps[] = {
	{ 'A', CAP_SYS_ADMIN, SEC_NOCAP },
	{ 'c', CAP_SYS_ADMIN, SEC_NOCAP },
	{ '3', CAP_SYS_ADMIN, SEC_NOCAP },
	{ 'L', CAP_SYS_ADMIN, CAP_SYSLOG },
	{ 'B', CAP_SYS_ADMIN, CAP_BPF },
	{ 'P', CAP_SYS_ADMIN, CAP_PERFMON },
	{ 'D', CAP_DAC_READ_SEARCH, SEC_NOCAP },
	{ 'b', CAP_SYS_BOOT, SEC_NOCAP },
	{ 'C', CAP_SYS_CHROOT, SEC_NOCAP },
	{ 'M', CAP_SYS_MODULE, SEC_NOCAP },
	{ 'q', CAP_SYS_PACCT, SEC_NOCAP },
	{ 't', CAP_SYS_PTRACE, SEC_NOCAP },
	{ 'k', CAP_SYS_PTRACE, SEC_NOCAP },
	{ 'R', CAP_SYS_RAWIO, SEC_NOCAP },
	{ 'T', CAP_SYS_TIME, SEC_NOCAP },
	{ 'y', CAP_SYS_TTY_CONFIG, SEC_NOCAP },
	{ 'n', CAP_SYS_NICE, SEC_NOCAP },
};

static const char sec_dflt_native[] = "a"
#if defined(__arm__) || defined(__aarch64__)
    "r"
#endif
#if defined(__x86_64__)
    "xX"
#elif defined(__i386__)
    "X"
#endif
#if defined(__riscv)
    "v"
#endif
    ;

#define SEC_AF_VSOCK 40
#define SEC_CLONE_NS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
    CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static const struct sec_arg sec_dflt_vsock = { 0, SEC_NE, SEC_AF_VSOCK, 0 };
static const struct sec_arg sec_dflt_clone = { 0, SEC_MASKED_EQ, SEC_CLONE_NS, 0 };
static const struct sec_arg sec_dflt_persona[] = {
	{ 0, SEC_EQ, 0, 0 },                /* PER_LINUX */
	{ 0, SEC_EQ, 0x0008, 0 },           /* PER_LINUX32 */
	{ 0, SEC_EQ, 0x20000, 0 },          /* UNAME26 */
	{ 0, SEC_EQ, 0x20008, 0 },          /* UNAME26 | PER_LINUX32 */
	{ 0, SEC_EQ, 0xffffffff, 0 },       /* query */
};

static int sec_dflt_cap(char cls, uint64_t caps)
{
	size_t i;

	for (i = 0; i < LEN(sec_dflt_caps); i++)
		if (sec_dflt_caps[i].cls == cls)
			return (caps >> sec_dflt_caps[i].cap & 1) ||
			    (sec_dflt_caps[i].or_cap != SEC_NOCAP &&
			    (caps >> sec_dflt_caps[i].or_cap & 1));
	return 0;
}

static void sec_dflt_rule(struct sec_profile *p, uint32_t nr, uint32_t action,
    const struct sec_arg *arg)
{
	struct sec_rule *r = &p->rules[p->nrules];

	r->nr = nr;
	r->action = action;
	r->order = (uint32_t)p->nrules++;
	r->nargs = arg != NULL;
	r->args = arg;
}

/* Linux version as major << 16 | minor << 8 | patch (at most 255). */
static unsigned sec_kernel_version(void)
{
	struct utsname u;
	unsigned long long v[3] = { 0, 0, 0 };
	const char *s, *end;
	int i;

	if (uname(&u) < 0)
		return 0;
	for (s = u.release, i = 0; i < 3; i++, s = end + (*end == '.')) {
		v[i] = dec(s, &end);
		if (end == s)
			break;
	}
	return (unsigned)(v[0] << 16 | (v[1] > 255 ? 255 : v[1]) << 8 |
	    (v[2] > 255 ? 255 : v[2]));
}

/* Docker's default profile for a container with the capabilities caps
 * (Docker looks at the bounding set) on a kernel of version kver
 * (sec_kernel_version()). Rules in a. */
static int sec_default(struct arena *a, uint64_t caps, unsigned kver,
    struct sec_profile *p)
{
	const char *s = sec_sys_table;
	struct sec_sys e;
	size_t n = LEN(sec_dflt_persona);
	uint32_t nr;
	size_t i;

	memset(p, 0, sizeof *p);
	p->default_action = SEC_EPERM;
	while ((s = sec_sys_next(s, &e)))
		n++;
	if (!(p->rules = arena_alloc(a, n * sizeof *p->rules)))
		return -1;
	for (s = sec_sys_table; (s = sec_sys_next(s, &e));) {
		if (e.cls == '-' || (nr = sec_sys_number(e.num)) == SEC_NONE)
			continue;
		if (strchr(sec_dflt_native, e.cls) || sec_dflt_cap(e.cls, caps) ||
		    (e.cls == 'k' && kver >= (4 << 16 | 8 << 8)))
			sec_dflt_rule(p, nr, SECCOMP_RET_ALLOW, NULL);
		else if (e.cls == 's')
			sec_dflt_rule(p, nr, SECCOMP_RET_ALLOW, &sec_dflt_vsock);
		else if (e.cls == 'c')
			sec_dflt_rule(p, nr, SECCOMP_RET_ALLOW, &sec_dflt_clone);
		else if (e.cls == '3')
			sec_dflt_rule(p, nr, SEC_ENOSYS, NULL);
		else if (e.cls == 'p')
			for (i = 0; i < LEN(sec_dflt_persona); i++)
				sec_dflt_rule(p, nr, SECCOMP_RET_ALLOW, &sec_dflt_persona[i]);
	}
	return 0;
}

/* ---------------------------------------------------------- compile */

/* The program is assembled backwards, from its last instruction: every
 * jump goes forward, so its target is already placed and its distance
 * known. A label is the count of instructions emitted when the target
 * was; a jump emitted now at count n reaches label L with offset n - L.
 * Conditional jumps have 8-bit offsets: a farther target gets an
 * unconditional BPF_JA (32-bit offset) next to the jump. */
struct sec_asm {
	struct sock_filter *buf;    /* SEC_MAXINSNS, filled from the end */
	uint32_t n;
	int full;
	uint32_t ret_k[4], ret_at[4];   /* recent returns, to share */
};

static uint32_t sec_emit(struct sec_asm *a, uint16_t code, uint8_t jt,
    uint8_t jf, uint32_t k)
{
	struct sock_filter *f;

	if (a->n == SEC_MAXINSNS) {
		a->full = 1;
		return a->n;
	}
	f = &a->buf[SEC_MAXINSNS - ++a->n];
	f->code = code;
	f->jt = jt;
	f->jf = jf;
	f->k = k;
	return a->n;
}

static uint32_t sec_ld(struct sec_asm *a, uint32_t off)
{
	return sec_emit(a, BPF_LD | BPF_W | BPF_ABS, 0, 0, off);
}

static uint32_t sec_ret(struct sec_asm *a, uint32_t k)
{
	unsigned i = (k ^ k >> 16) & 3;

	if (a->ret_at[i] && a->ret_k[i] == k && a->n - a->ret_at[i] < 128)
		return a->ret_at[i];
	a->ret_k[i] = k;
	return a->ret_at[i] = sec_emit(a, BPF_RET | BPF_K, 0, 0, k);
}

/* if (A op k) goto lt; else goto lf */
static uint32_t sec_jump(struct sec_asm *a, uint16_t op, uint32_t k,
    uint32_t lt, uint32_t lf)
{
	while (a->n - lt > 255 || a->n - lf > 255) {
		if (a->full)
			return a->n;
		if (a->n - lt > 255)
			lt = sec_emit(a, BPF_JMP | BPF_JA, 0, 0, a->n - lt);
		else
			lf = sec_emit(a, BPF_JMP | BPF_JA, 0, 0, a->n - lf);
	}
	return sec_emit(a, BPF_JMP | op | BPF_K, (uint8_t)(a->n - lt),
	    (uint8_t)(a->n - lf), k);
}

/* The low word of an argument against the low word of c. */
static uint32_t sec_cmp_lo(struct sec_asm *a, const struct sec_arg *c,
    uint32_t off, uint32_t ok, uint32_t fail)
{
	uint32_t k = (uint32_t)c->value;

	switch (c->op) {
	case SEC_MASKED_EQ:
		if (!k)
			return (uint32_t)c->value2 ? fail : ok;
		sec_jump(a, BPF_JEQ, (uint32_t)c->value2, ok, fail);
		if (k != 0xffffffffu)
			sec_emit(a, BPF_ALU | BPF_AND | BPF_K, 0, 0, k);
		break;
	case SEC_EQ: sec_jump(a, BPF_JEQ, k, ok, fail); break;
	case SEC_NE: sec_jump(a, BPF_JEQ, k, fail, ok); break;
	case SEC_GT: sec_jump(a, BPF_JGT, k, ok, fail); break;
	case SEC_GE: sec_jump(a, BPF_JGE, k, ok, fail); break;
	case SEC_LT: sec_jump(a, BPF_JGE, k, fail, ok); break;
	default: sec_jump(a, BPF_JGT, k, fail, ok); break;
	}
	return sec_ld(a, off + SEC_LO);
}

/* One comparison of a 64-bit argument: the high words decide unless
 * equal, then the low words. Returns the entry label. */
static uint32_t sec_cmp(struct sec_asm *a, const struct sec_arg *c,
    uint32_t ok, uint32_t fail)
{
	uint32_t off = offsetof(struct seccomp_data, args) + 8 * c->index;
	uint32_t hi = (uint32_t)(c->value >> 32), hi2 = (uint32_t)(c->value2 >> 32);
	uint32_t above, below, lo;

	/* where a high word above or below the value's sends the test */
	switch (c->op) {
	case SEC_EQ: case SEC_MASKED_EQ: above = below = fail; break;
	case SEC_NE: above = below = ok; break;
	case SEC_GT: case SEC_GE: above = ok; below = fail; break;
	default: above = fail; below = ok; break;
	}
	lo = sec_cmp_lo(a, c, off, ok, fail);
	if (c->op == SEC_MASKED_EQ) {
		if (SEC_ARG32 || !hi)
			return hi2 ? fail : lo;
		sec_jump(a, BPF_JEQ, hi2, lo, fail);
		if (hi != 0xffffffffu)
			sec_emit(a, BPF_ALU | BPF_AND | BPF_K, 0, 0, hi);
		return sec_ld(a, off + SEC_HI);
	}
	if (SEC_ARG32)              /* the argument's high word is 0 */
		return hi ? below : lo;
	if (above == below || !hi)  /* nothing is below 0 */
		sec_jump(a, BPF_JEQ, hi, lo, above);
	else if (hi == 0xffffffffu) /* nor above ~0 */
		sec_jump(a, BPF_JEQ, hi, lo, below);
	else
		sec_jump(a, BPF_JGT, hi, above, sec_jump(a, BPF_JEQ, hi, lo, below));
	return sec_ld(a, off + SEC_HI);
}

/* The rules of one syscall, most restrictive first; the first match
 * returns, no match returns dflt. */
static uint32_t sec_chain(struct sec_asm *a, const struct sec_rule *const *r,
    size_t n, uint32_t dflt)
{
	uint32_t fail = sec_ret(a, dflt), ok;
	size_t j;

	while (n--) {
		ok = sec_ret(a, r[n]->action);
		for (j = r[n]->nargs; j--;)
			ok = sec_cmp(a, &r[n]->args[j], ok, fail);
		fail = ok;
	}
	return fail;
}

/* Syscall numbers from lo up to the next interval's lo: one action, or
 * the rules of one syscall. */
struct sec_ival {
	uint32_t lo;
	uint32_t ret;
	const struct sec_rule *const *rules;
	size_t nrules;
};

static size_t sec_ival_add(struct sec_ival *v, size_t n, uint32_t lo, uint32_t ret,
    const struct sec_rule *const *rules, size_t nrules)
{
	if (!rules && n && !v[n - 1].rules && v[n - 1].ret == ret)
		return n;
	v[n].lo = lo;
	v[n].ret = ret;
	v[n].rules = rules;
	v[n].nrules = nrules;
	return n + 1;
}

/* Numbers no rule names, [from, to): the default action, or ENOSYS above
 * the largest ordinary number named (the stub) when enosys is set. */
static size_t sec_ival_gap(struct sec_ival *v, size_t n, uint64_t from, uint64_t to,
    uint32_t dflt, uint64_t enosys)
{
	if (from < to && from < SEC_PRIVATE_BASE) {
		n = sec_ival_add(v, n, (uint32_t)from, from >= enosys ? SEC_ENOSYS : dflt,
		    NULL, 0);
		from = SEC_PRIVATE_BASE;
	}
	if (from < to)
		n = sec_ival_add(v, n, (uint32_t)from, dflt, NULL, 0);
	return n;
}

/* ENOSYS for numbers above those named, unless the default allows: as
 * runc's patchbpf, which libseccomp-based runtimes all share. */
static uint64_t sec_enosys_from(const struct sec_profile *p)
{
	uint32_t act = p->default_action & SECCOMP_RET_ACTION_FULL;
	uint64_t from = 0;
	size_t i;

	if (act == SECCOMP_RET_ALLOW || act == SECCOMP_RET_LOG ||
	    act == SECCOMP_RET_TRACE || p->default_action == SEC_ENOSYS)
		return 1ull << 32;
	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].nr + 1ull > from && p->rules[i].nr + 0ull < SEC_PRIVATE_BASE)
			from = p->rules[i].nr + 1ull;
	return from ? from : 1ull << 32;
}

/* The kernel's order of actions between filters: lower is stronger. */
static int32_t sec_rank(uint32_t action)
{
	return (int32_t)(action & SECCOMP_RET_ACTION_FULL);
}

static int sec_rule_cmp(const struct sec_rule *a, const struct sec_rule *b)
{
	if (a->nr != b->nr)
		return a->nr < b->nr ? -1 : 1;
	if (sec_rank(a->action) != sec_rank(b->action))
		return sec_rank(a->action) < sec_rank(b->action) ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* sort_ptrs's comparison: pointers to the elements, as qsort's. */
static int sec_rule_ptr_cmp(const void *a, const void *b)
{
	return sec_rule_cmp(*(const struct sec_rule *const *)a, *(const struct sec_rule *const *)b);
}

/* The number line cut into intervals, from rules sorted by sec_rule_cmp.
 * v has room for 2 * nrules + 4. */
static size_t sec_intervals(const struct sec_profile *p,
    const struct sec_rule *const *r, struct sec_ival *v)
{
	uint64_t enosys = sec_enosys_from(p), next = 0;
	uint32_t dflt = p->default_action;
	size_t i, j, k, n = 0;

	for (i = 0; i < p->nrules; i = j) {
		for (j = i + 1; j < p->nrules && r[j]->nr == r[i]->nr; j++)
			;
		n = sec_ival_gap(v, n, next, r[i]->nr, dflt, enosys);
		/* rules after an unconditional one are never reached */
		for (k = i; k < j && r[k]->nargs; k++)
			;
		if (k == i)
			n = sec_ival_add(v, n, r[i]->nr, r[i]->action, NULL, 0);
		else
			n = sec_ival_add(v, n, r[i]->nr, 0, r + i, k - i + (k < j));
		next = r[i]->nr + 1ull;
	}
	return sec_ival_gap(v, n, next, 1ull << 32, dflt, enosys);
}

/* A binary search on the syscall number (in A) over v[lo..hi). */
static uint32_t sec_tree(struct sec_asm *a, const struct sec_ival *v,
    size_t lo, size_t hi, uint32_t dflt)
{
	size_t mid = lo + (hi - lo) / 2;
	uint32_t right, left;

	if (hi - lo == 1)
		return v[lo].rules ? sec_chain(a, v[lo].rules, v[lo].nrules, dflt) :
		    sec_ret(a, v[lo].ret);
	right = sec_tree(a, v, mid, hi, dflt);
	left = sec_tree(a, v, lo, mid, dflt);
	return sec_jump(a, BPF_JGE, v[mid].lo, right, left);
}

/* The whole program, from its end: the search, the x32 check, the
 * architecture check. */
static void sec_program(struct sec_asm *a, const struct sec_ival *v, size_t n,
    uint32_t dflt)
{
	uint32_t next = sec_tree(a, v, 0, n, dflt), kill;

#ifdef SEC_X32_BIT
	/* x32 syscalls are x86_64's with this bit: another ABI, other
	 * numbers; -1 is no syscall (ptrace's skip) and goes on */
	kill = sec_ret(a, SECCOMP_RET_KILL_PROCESS);
	kill = sec_jump(a, BPF_JEQ, 0xffffffffu, next, kill);
	next = sec_jump(a, BPF_JGE, SEC_X32_BIT, kill, next);
#endif
	next = sec_ld(a, offsetof(struct seccomp_data, nr));
	kill = sec_ret(a, SECCOMP_RET_KILL_PROCESS);
	sec_jump(a, BPF_JEQ, SEC_AUDIT_ARCH, next, kill);
	sec_ld(a, offsetof(struct seccomp_data, arch));
}

/* p into a BPF program in a. */
static int sec_compile(struct arena *a, const struct sec_profile *p,
    struct sec_prog *out)
{
	const struct sec_rule **r = malloc((p->nrules + 1) * sizeof *r);
	struct sec_ival *v = malloc((2 * p->nrules + 4) * sizeof *v);
	struct sec_asm as = { malloc(SEC_MAXINSNS * sizeof *as.buf), 0, 0, {0}, {0} };
	size_t i, n;
	int ret = -1;

	if (!r || !v || !as.buf) {
		err_set("out of memory");
		goto out;
	}
	for (i = 0; i < p->nrules; i++)
		r[i] = &p->rules[i];
	sort_ptrs((void *)r, p->nrules, sec_rule_ptr_cmp);
	n = sec_intervals(p, r, v);
	sec_program(&as, v, n, p->default_action);
	if (as.full) {
		err_set(SEC_PATH ": the filter needs more than %d BPF instructions",
		    SEC_MAXINSNS);
		goto out;
	}
	if (!(out->insns = arena_alloc(a, as.n * sizeof *out->insns)))
		goto out;
	memcpy(out->insns, as.buf + SEC_MAXINSNS - as.n, as.n * sizeof *out->insns);
	out->len = (unsigned short)as.n;
	out->flags = p->flags;
	dbg(SEC_PATH ": %zu rules, %zu intervals, %u BPF instructions", p->nrules, n,
	    (unsigned)as.n);
	ret = 0;
out:
	free(r);
	free(v);
	free(as.buf);
	return ret;
}

/* ------------------------------------------------------------ install */

/* In the container process. The kernel wants no_new_privs or
 * CAP_SYS_ADMIN: with noNewPrivileges, call it last before execve;
 * without, before the capabilities are dropped, as runc does. */
static int sec_install(const struct sec_prog *prog)
{
	struct sock_fprog fp = { prog->len, prog->insns };
	long r;

	if (prog->flags)
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags, &fp);
	else
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
	if (r > 0)  /* TSYNC: a thread that could not follow */
		return err_set(SEC_PATH ": thread %ld cannot take the filter", r);
	if (r < 0 && errno == EACCES)
		return err_set(SEC_PATH ": installing a filter needs "
		    "process.noNewPrivileges or CAP_SYS_ADMIN");
	if (r < 0)
		return err_sys(SEC_PATH ": install the filter");
	return 0;
}

/* linux.seccomp, checked and compiled while the config is read: errors
 * show at create, and the container process only installs the result. */
static int cfg_seccomp(struct arena *a, struct sb_config *c, const struct json *v)
{
	struct sec_profile p;

	if (!(c->seccomp = arena_alloc(a, sizeof *c->seccomp)))
		return -1;
	return sec_parse(a, v, &p) < 0 || sec_compile(a, &p, c->seccomp) < 0 ? -1 : 0;
}

#else /* !SB_WITH_SECCOMP */

/* Without the filter compiler, a config that asks for a filter is refused:
 * running it unfiltered would be a silent change of meaning. */
struct sec_prog { int unused; };

static int sec_install(const struct sec_prog *prog)
{
	(void)prog;
	return err_set("seccomp is not built in (SB_WITH_SECCOMP=0)");
}

static int cfg_seccomp(struct arena *a, struct sb_config *c, const struct json *v)
{
	(void)a, (void)c, (void)v;
	return err_set("linux.seccomp: seccomp is not built in (SB_WITH_SECCOMP=0)");
}
#endif /* SB_WITH_SECCOMP */

/* ============================================================== cg === */

/* Cgroups. A controller is used through cgroup v2 when the v2 hierarchy
 * has it, else through the v1 hierarchy that has it (hybrid hosts, such
 * as systemd's with v2 holding only hugetlb, and old kernels); a limit that
 * neither can apply is refused before anything is created. The v2 group
 * is made whenever a v2 hierarchy is mounted, even one without
 * controllers: its cgroup.procs, cgroup.freeze and cgroup.kill track,
 * pause and kill the container on any host. */

enum {
	CG_CPU, CG_CPUSET, CG_MEMORY, CG_PIDS, CG_IO, CG_FREEZER, CG_DEVICES,
	CG_NCTL
};

/* v2 name (NULL: built into v2, no controller to enable) and v1 name */
static const char *const cg_v2name[CG_NCTL] = {
	"cpu", "cpuset", "memory", "pids", "io", NULL, NULL
};
static const char *const cg_v1name[CG_NCTL] = {
	"cpu", "cpuset", "memory", "pids", "blkio", "freezer", "devices"
};
static const char *const cg_cfgname[CG_NCTL] = {
	"linux.resources.cpu", "linux.resources.cpu", "linux.resources.memory",
	"linux.resources.pids", "linux.resources.blockIO", "(freezer)",
	"linux.resources.devices"
};

struct cg_hier {
	char *mnt;          /* mount point */
	char *opts;         /* v1 super options without rw/ro: "cpu,cpuacct" */
	char *self;         /* this process's cgroup in it, from /proc/self/cgroup */
	unsigned ctl;       /* CG_* bits it holds (v1) */
	char *dir;          /* the container's group in it, when used */
	int v2;
};

struct cg {
	struct cg_hier h[16];
	int nh;
	int v2;             /* index of the v2 hierarchy, -1 if none */
	unsigned v2avail;   /* controllers listed in its root cgroup.controllers */
	unsigned v2ctl;     /* controllers applied through v2 */
	char v2list[256];   /* its root's cgroup.controllers */
	char v2enable[256]; /* controllers to enable on the way down, by name */
	int where[CG_NCTL]; /* hierarchy applying each controller, -1 */
	int devices_bpf;    /* device rules as an eBPF program on the v2 group */
};

static void cg_free(struct cg *cg)
{
	int i;

	for (i = 0; i < cg->nh; i++) {
		free(cg->h[i].mnt);
		free(cg->h[i].opts);
		free(cg->h[i].self);
		free(cg->h[i].dir);
	}
	memset(cg, 0, sizeof *cg);
	cg->v2 = -1;
}

static unsigned cg_v1_bits(const char *opts)
{
	char tmp[256], *tok, *save;
	unsigned bits = 0;
	int k;

	strf(tmp, sizeof tmp, "%s", opts);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		for (k = 0; k < CG_NCTL; k++)
			if (!strcmp(tok, cg_v1name[k]))
				bits |= 1u << k;
	return bits;
}

/* The v1 super options that name the hierarchy: "rw,memory" -> "memory". */
static char *cg_v1_opts(const char *super)
{
	struct buf b = {0};
	char tmp[256], *tok, *save;

	strf(tmp, sizeof tmp, "%s", super);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "rw") || !strcmp(tok, "ro"))
			continue;
		if (b.len)
			buf_put(&b, ",", 1);
		buf_puts(&b, tok);
	}
	if (!b.len)
		buf_put(&b, "", 0);
	return b.oom ? NULL : b.p;
}

static int cg_add_hier(struct cg *cg, const char *mnt, const char *super, int v2)
{
	struct cg_hier *h;
	int i;

	for (i = 0; i < cg->nh; i++)
		if (!strcmp(cg->h[i].mnt, mnt))
			return 0;
	if (cg->nh == (int)LEN(cg->h))
		return 0;
	h = &cg->h[cg->nh];
	if (!(h->mnt = strdup(mnt)) || !(h->opts = v2 ? strdup("") : cg_v1_opts(super)))
		return err_set("out of memory");
	h->v2 = v2;
	h->ctl = v2 ? 0 : cg_v1_bits(h->opts);
	if (v2)
		cg->v2 = cg->nh;
	cg->nh++;
	return 0;
}

/* Mounted hierarchies, from /proc/self/mountinfo: "... MNT OPTS ... - TYPE SRC SUPER" */
static int cg_find_mounts(struct cg *cg)
{
	char *text, *line, *save, *f[12], *sep, *tok, *save2;
	int n, rc = 0;

	if (!(text = read_file("/proc/self/mountinfo", 1 << 22, NULL)))
		return -1;
	for (line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
		if (!(sep = strstr(line, " - ")))
			continue;
		*sep = 0;
		for (n = 0, tok = strtok_r(line, " ", &save2); tok && n < 5;
		    tok = strtok_r(NULL, " ", &save2))
			f[n++] = tok;
		for (tok = strtok_r(sep + 3, " ", &save2); tok && n < 8;
		    tok = strtok_r(NULL, " ", &save2))
			f[n++] = tok;
		if (n < 8)
			continue;
		if (!strcmp(f[5], "cgroup2"))
			rc = cg_add_hier(cg, f[4], f[7], 1);
		else if (!strcmp(f[5], "cgroup"))
			rc = cg_add_hier(cg, f[4], f[7], 0);
	}
	free(text);
	return rc;
}

/* Our own cgroup in each hierarchy, for relative cgroupsPath values:
 * lines "ID:CONTROLLERS:PATH", "0::PATH" for v2. */
static int cg_find_self(struct cg *cg)
{
	char *text, *line, *save, *c1, *c2;
	int i;

	if (!(text = read_file("/proc/self/cgroup", 1 << 16, NULL)))
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!(c1 = strchr(line, ':')) || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = 0;
		for (i = 0; i < cg->nh; i++) {
			struct cg_hier *h = &cg->h[i];

			if (h->self)
				continue;
			if (h->v2 ? !strcmp(c1 + 1, "") : !strcmp(c1 + 1, h->opts))
				if (!(h->self = strdup(c2 + 1)))
					return free(text), err_set("out of memory");
		}
	}
	free(text);
	return 0;
}

static int cg_discover(struct cg *cg)
{
	char path[PATH_MAX], *text, *tok, *save;
	int k;

	memset(cg, 0, sizeof *cg);
	cg->v2 = -1;
	for (k = 0; k < CG_NCTL; k++)
		cg->where[k] = -1;
	if (cg_find_mounts(cg) < 0 || cg_find_self(cg) < 0)
		return -1;
	if (cg->v2 < 0)
		return 0;
	if (pathf(path, sizeof path, "%s/cgroup.controllers", cg->h[cg->v2].mnt) < 0 ||
	    !(text = read_file(path, 4096, NULL)))
		return -1;
	strf(cg->v2list, sizeof cg->v2list, "%s", text);
	for (tok = strtok_r(text, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		for (k = 0; k < CG_NCTL; k++)
			if (cg_v2name[k] && !strcmp(tok, cg_v2name[k]))
				cg->v2avail |= 1u << k;
	free(text);
	return 0;
}

/* Whether a space-separated list holds word. */
static int cg_word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)); p += n)
		if ((p == list || isspace((unsigned char)p[-1])) &&
		    (!p[n] || isspace((unsigned char)p[n])))
			return 1;
	return 0;
}

static int cg_v1_index(const struct cg *cg, int ctl)
{
	int i;

	for (i = 0; i < cg->nh; i++)
		if (!cg->h[i].v2 && (cg->h[i].ctl & (1u << ctl)))
			return i;
	return -1;
}

/* Controllers a config's resources need. */
static unsigned cg_needed(const struct sb_resources *r)
{
	unsigned need = 0;

	if (r->mem_limit != SB_UNSET || r->mem_reservation != SB_UNSET ||
	    r->mem_swap != SB_UNSET)
		need |= 1u << CG_MEMORY;
	if (r->cpu_shares != SB_UNSET || r->cpu_quota != SB_UNSET ||
	    r->cpu_period != SB_UNSET)
		need |= 1u << CG_CPU;
	if (r->cpus || r->mems)
		need |= 1u << CG_CPUSET;
	if (r->pids_limit != SB_UNSET)
		need |= 1u << CG_PIDS;
	if (r->blkio_weight != SB_UNSET)
		need |= 1u << CG_IO;
	if (r->has_devices)
		need |= 1u << CG_DEVICES;
	return need;
}

/* The controller a unified key belongs to ("memory.high" -> memory), or
 * -1 for core files. */
static int cg_unified_ctl(const char *key, char *name, size_t n)
{
	const char *dot = strchr(key, '.');

	strf(name, n, "%.*s", (int)(dot - key), key);
	return strcmp(name, "cgroup") ? 0 : -1;
}

/* Decides where each needed controller is applied; refuses what cannot be.
 * Called before anything is created. */
static int cg_plan(struct cg *cg, const struct sb_config *c)
{
	unsigned need = cg_needed(&c->res);
	char name[64];
	size_t i;
	int k;

	for (k = 0; k < CG_NCTL; k++) {
		int in_v2 = cg->v2 >= 0 && (cg->v2avail & (1u << k));
		int v1 = cg_v1_index(cg, k);

		if (k == CG_FREEZER) {
			/* v2 freezes without a controller */
			cg->where[k] = cg->v2 >= 0 ? cg->v2 : v1;
			continue;
		}
		if (k == CG_DEVICES) {
			/* v2's device control is an eBPF program, which works on
			 * hybrid hosts too; v1's devices controller otherwise */
			if (!(need & (1u << k)))
				continue;
			if (cg->v2 >= 0) {
				cg->where[k] = cg->v2;
				cg->devices_bpf = 1;
			} else if (v1 >= 0) {
				cg->where[k] = v1;
			} else {
				return err_set("%s: no cgroup v2 hierarchy and no v1 devices controller on this host",
				    cg_cfgname[k]);
			}
			continue;
		}
		if (!(need & (1u << k)))
			continue;
		if (in_v2) {
			cg->where[k] = cg->v2;
			cg->v2ctl |= 1u << k;
		} else if (v1 >= 0) {
			cg->where[k] = v1;
		} else {
			return err_set("%s: cannot be applied: no %s controller in cgroup v2 or v1 on this host",
			    cg_cfgname[k], cg_v2name[k]);
		}
	}
	for (i = 0; i < c->res.nunified; i++) {
		const char *key = c->res.unified[i].key;

		if (cg->v2 < 0)
			return err_set("linux.resources.unified.%s: no cgroup v2 hierarchy on this host", key);
		if (cg_unified_ctl(key, name, sizeof name) < 0)
			continue;
		if (!cg_word_in(cg->v2list, name))
			return err_set("linux.resources.unified.%s: no %s controller in cgroup v2 on this host",
			    key, name);
		if (!cg_word_in(cg->v2enable, name) &&
		    strlen(cg->v2enable) + strlen(name) + 2 < sizeof cg->v2enable) {
			if (*cg->v2enable)
				strcat(cg->v2enable, " ");
			strcat(cg->v2enable, name);
		}
	}
	for (k = 0; k < CG_NCTL; k++) {
		if (!(cg->v2ctl & (1u << k)) || cg_word_in(cg->v2enable, cg_v2name[k]))
			continue;
		if (*cg->v2enable)
			strcat(cg->v2enable, " ");
		strcat(cg->v2enable, cg_v2name[k]);
	}
	return 0;
}

/* The container's group below a hierarchy: absolute cgroupsPath values
 * are from the hierarchy's root, relative ones from our own cgroup. */
static char *cg_dir(const struct cg_hier *h, const char *rel)
{
	struct buf b = {0};

	buf_puts(&b, h->mnt);
	if (rel[0] != '/' && h->self && strcmp(h->self, "/"))
		buf_puts(&b, h->self);
	if (rel[0] != '/')
		buf_put(&b, "/", 1);
	buf_puts(&b, rel);
	return b.oom ? NULL : b.p;
}

static int cg_check_path(const char *rel)
{
	const char *p;

	if (!*rel)
		return err_set("linux.cgroupsPath: empty");
	for (p = rel; *p; ) {
		size_t n = strcspn(p, "/");

		if ((n == 2 && !strncmp(p, "..", 2)) || (n == 1 && *p == '.'))
			return err_set("linux.cgroupsPath: \"%s\" has a . or .. component", rel);
		p += n;
		p += *p == '/';
	}
	return 0;
}

/* Enables controllers in a v2 cgroup's subtree_control, only those not
 * enabled yet: on a router nothing else will have done it. */
static int cg_enable(const char *dir, const char *names)
{
	char path[PATH_MAX], cmd[512] = "", list[256], *have, *tok, *save;

	if (!*names)
		return 0;
	if (pathf(path, sizeof path, "%s/cgroup.subtree_control", dir) < 0 ||
	    !(have = read_file(path, 4096, NULL)))
		return -1;
	strf(list, sizeof list, "%s", names);
	for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (cg_word_in(have, tok))
			continue;
		if (*cmd)
			strcat(cmd, " ");
		strcat(cmd, "+");
		strcat(cmd, tok);
	}
	free(have);
	if (*cmd && write_file(path, cmd) < 0)
		return err_ctx("enable controllers \"%s\"", cmd);
	return 0;
}

/* v1 cpuset groups start empty and refuse tasks until they have CPUs and
 * memory nodes: give each level its parent's. */
static int cg_cpuset_inherit(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[PATH_MAX], parent[PATH_MAX], *v, *cur;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (pathf(path, sizeof path, "%s/%s", dir, files[i]) < 0 ||
		    !(cur = read_file(path, 65536, NULL)))
			return -1;
		if (cur[0] && cur[0] != '\n') {
			free(cur);
			continue;
		}
		free(cur);
		if (pathf(parent, sizeof parent, "%.*s/%s", (int)(strrchr(dir, '/') - dir),
		    dir, files[i]) < 0 || !(v = read_file(parent, 65536, NULL)))
			return -1;
		if (write_file(path, v) < 0)
			return free(v), -1;
		free(v);
	}
	return 0;
}

static int cg_populated(const char *dir)
{
	char path[PATH_MAX], *procs;
	int busy;

	if (pathf(path, sizeof path, "%s/cgroup.procs", dir) < 0 ||
	    !(procs = read_file(path, 1 << 20, NULL)))
		return -1;
	busy = procs[0] != 0;
	free(procs);
	return busy;
}

/* mkdir of every level below the hierarchy's root; v2 levels get the
 * controllers enabled, v1 cpuset levels their parent's CPUs. */
static int cg_mkdirs(const struct cg *cg, const struct cg_hier *h)
{
	char path[PATH_MAX];
	size_t root = strlen(h->mnt);
	char *p;
	int made;

	if (pathf(path, sizeof path, "%s", h->dir) < 0)
		return -1;
	for (p = path + root + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		char save = *p;

		*p = 0;
		if (h->v2) {
			char *slash = strrchr(path, '/');

			*slash = 0;
			if (cg_enable(path, cg->v2enable) < 0)
				return -1;
			*slash = '/';
		}
		made = mkdir(path, 0755) == 0;
		if (!made && errno != EEXIST)
			return err_sys("mkdir %s", path);
		if (made && !h->v2 && (h->ctl & (1u << CG_CPUSET)) && cg_cpuset_inherit(path) < 0)
			return -1;
		if (!save)
			break;
		*p = save;
	}
	if (cg_populated(h->dir) > 0)
		return err_set("cgroup %s exists and holds processes", h->dir);
	return 0;
}

static int cg_used(const struct cg *cg, int i)
{
	int k;

	if (i == cg->v2)
		return 1;
	for (k = 0; k < CG_NCTL; k++)
		if (cg->where[k] == i)
			return 1;
	return 0;
}

static int cg_kill_all(const struct cg_hier *h)
{
	char path[PATH_MAX], *procs, *p;
	long long pid;

	if (h->v2) {
		if (pathf(path, sizeof path, "%s/cgroup.kill", h->dir) < 0)
			return -1;
		if (access(path, F_OK) == 0)
			return write_file(path, "1");
	}
	if (pathf(path, sizeof path, "%s/cgroup.procs", h->dir) < 0 ||
	    !(procs = read_file(path, 1 << 20, NULL)))
		return -1;
	for (p = strtok(procs, "\n"); p; p = strtok(NULL, "\n"))
		if (parse_ll(p, 1, INT_MAX, &pid) == 0)
			kill((pid_t)pid, SIGKILL);
	free(procs);
	return 0;
}

/* Removes the container's groups; whatever still runs in them is killed
 * first (a frozen v1 group is thawed, or SIGKILL would wait). */
static int cg_destroy(struct cg *cg)
{
	int i, rc = 0, fz = cg->where[CG_FREEZER];
	int64_t deadline;
	char path[PATH_MAX];

	if (fz >= 0 && cg->h[fz].dir && !cg->h[fz].v2) {
		if (pathf(path, sizeof path, "%s/freezer.state", cg->h[fz].dir) == 0)
			write_file(path, "THAWED");
	}
	for (i = 0; i < cg->nh; i++) {
		struct cg_hier *h = &cg->h[i];

		if (!h->dir)
			continue;
		deadline = now_ms() + SB_CGROUP_DRAIN_MS;
		while (rmdir(h->dir) < 0) {
			if (errno == ENOENT)
				break;
			if (errno != EBUSY || now_ms() > deadline) {
				rc = err_sys("rmdir %s", h->dir);
				break;
			}
			cg_kill_all(h);
			sleep_ms(2);
		}
		free(h->dir);
		h->dir = NULL;
	}
	return rc;
}

static int cg_create(struct cg *cg, const char *rel)
{
	int i;

	if (cg_check_path(rel) < 0)
		return -1;
	for (i = 0; i < cg->nh; i++) {
		struct cg_hier *h = &cg->h[i];

		if (!cg_used(cg, i))
			continue;
		if (!(h->dir = cg_dir(h, rel)))
			return err_set("out of memory");
		if (cg_mkdirs(cg, h) < 0) {
			free(h->dir);
			h->dir = NULL;
			cg_destroy(cg);
			return -1;
		}
	}
	return 0;
}

static int cg_write(const struct cg *cg, int ctl, const char *file, const char *fmt, ...)
{
	char path[PATH_MAX], val[256];
	va_list ap;

	va_start(ap, fmt);
	vstrf(val, sizeof val, fmt, ap);
	va_end(ap);
	if (pathf(path, sizeof path, "%s/%s", cg->h[cg->where[ctl]].dir, file) < 0 ||
	    write_file(path, val) < 0)
		return err_ctx("%s: set %s to %s", cg_cfgname[ctl], file, val);
	return 0;
}

static int cg_exists(const struct cg *cg, int ctl, const char *file)
{
	char path[PATH_MAX];

	return pathf(path, sizeof path, "%s/%s", cg->h[cg->where[ctl]].dir, file) == 0 &&
	    access(path, F_OK) == 0;
}

static int cg_is_v2(const struct cg *cg, int ctl)
{
	return cg->where[ctl] >= 0 && cg->h[cg->where[ctl]].v2;
}

static int cg_apply_memory(const struct cg *cg, const struct sb_resources *r)
{
	if (cg_is_v2(cg, CG_MEMORY)) {
		if (r->mem_limit != SB_UNSET && (r->mem_limit < 0 ?
		    cg_write(cg, CG_MEMORY, "memory.max", "max") :
		    cg_write(cg, CG_MEMORY, "memory.max", "%lld", (long long)r->mem_limit)) < 0)
			return -1;
		if (r->mem_reservation != SB_UNSET && (r->mem_reservation < 0 ?
		    cg_write(cg, CG_MEMORY, "memory.low", "max") :
		    cg_write(cg, CG_MEMORY, "memory.low", "%lld", (long long)r->mem_reservation)) < 0)
			return -1;
		if (r->mem_swap == SB_UNSET)
			return 0;
		if (!cg_exists(cg, CG_MEMORY, "memory.swap.max"))
			return err_set("linux.resources.memory.swap: this kernel has no swap accounting");
		if (r->mem_swap < 0 || r->mem_limit < 0)
			return cg_write(cg, CG_MEMORY, "memory.swap.max", "max");
		/* OCI's swap is memory plus swap; v2 limits swap alone */
		return cg_write(cg, CG_MEMORY, "memory.swap.max", "%lld",
		    (long long)(r->mem_swap - r->mem_limit));
	}
	if (r->mem_limit != SB_UNSET &&
	    cg_write(cg, CG_MEMORY, "memory.limit_in_bytes", "%lld", (long long)r->mem_limit) < 0)
		return -1;
	if (r->mem_reservation != SB_UNSET &&
	    cg_write(cg, CG_MEMORY, "memory.soft_limit_in_bytes", "%lld",
	    (long long)r->mem_reservation) < 0)
		return -1;
	if (r->mem_swap == SB_UNSET)
		return 0;
	if (!cg_exists(cg, CG_MEMORY, "memory.memsw.limit_in_bytes"))
		return err_set("linux.resources.memory.swap: this kernel has no swap accounting");
	return cg_write(cg, CG_MEMORY, "memory.memsw.limit_in_bytes", "%lld", (long long)r->mem_swap);
}

static int cg_apply_cpu(const struct cg *cg, const struct sb_resources *r)
{
	int64_t period = r->cpu_period == SB_UNSET ? 100000 : r->cpu_period;

	if (cg_is_v2(cg, CG_CPU)) {
		/* crun's mapping of shares [2, 262144] onto weight [1, 10000] */
		if (r->cpu_shares != SB_UNSET &&
		    cg_write(cg, CG_CPU, "cpu.weight", "%lld",
		    (long long)(1 + ((r->cpu_shares - 2) * 9999) / 262142)) < 0)
			return -1;
		if (r->cpu_quota == SB_UNSET && r->cpu_period == SB_UNSET)
			return 0;
		if (r->cpu_quota == SB_UNSET || r->cpu_quota < 0)
			return cg_write(cg, CG_CPU, "cpu.max", "max %lld", (long long)period);
		return cg_write(cg, CG_CPU, "cpu.max", "%lld %lld",
		    (long long)r->cpu_quota, (long long)period);
	}
	if (r->cpu_shares != SB_UNSET &&
	    cg_write(cg, CG_CPU, "cpu.shares", "%lld", (long long)r->cpu_shares) < 0)
		return -1;
	if (r->cpu_period != SB_UNSET &&
	    cg_write(cg, CG_CPU, "cpu.cfs_period_us", "%lld", (long long)period) < 0)
		return -1;
	if (r->cpu_quota != SB_UNSET &&
	    cg_write(cg, CG_CPU, "cpu.cfs_quota_us", "%lld",
	    (long long)(r->cpu_quota < 0 ? -1 : r->cpu_quota)) < 0)
		return -1;
	return 0;
}

static int cg_apply_io(const struct cg *cg, const struct sb_resources *r)
{
	if (r->blkio_weight == SB_UNSET)
		return 0;
	if (cg_is_v2(cg, CG_IO)) {
		if (cg_exists(cg, CG_IO, "io.bfq.weight"))
			return cg_write(cg, CG_IO, "io.bfq.weight", "%lld", (long long)r->blkio_weight);
		if (cg_exists(cg, CG_IO, "io.weight"))
			return cg_write(cg, CG_IO, "io.weight", "default %lld",
			    (long long)(1 + (r->blkio_weight - 10) * 9999 / 990));
	} else {
		if (cg_exists(cg, CG_IO, "blkio.weight"))
			return cg_write(cg, CG_IO, "blkio.weight", "%lld", (long long)r->blkio_weight);
		if (cg_exists(cg, CG_IO, "blkio.bfq.weight"))
			return cg_write(cg, CG_IO, "blkio.bfq.weight", "%lld", (long long)r->blkio_weight);
	}
	return err_set("linux.resources.blockIO.weight: the io controller has no weight file (no BFQ or io.cost on this kernel)");
}

/* The device rules runc and crun add after the config's own: the nodes
 * every container gets, and mknod (not use) of any device. */
static const struct sb_devrule cg_default_devrules[] = {
	{ 1, 'c', -1, -1, "m" }, { 1, 'b', -1, -1, "m" },
	{ 1, 'c', 1, 3, "rwm" }, { 1, 'c', 1, 5, "rwm" }, { 1, 'c', 1, 7, "rwm" },
	{ 1, 'c', 1, 8, "rwm" }, { 1, 'c', 1, 9, "rwm" }, { 1, 'c', 5, 0, "rwm" },
	{ 1, 'c', 5, 1, "rwm" }, { 1, 'c', 5, 2, "rwm" }, { 1, 'c', 136, -1, "rwm" },
};

static void cg_devrule_text(const struct sb_devrule *d, char *out, size_t n)
{
	char maj[24] = "*", min[24] = "*";

	if (d->major >= 0)
		strf(maj, sizeof maj, "%lld", (long long)d->major);
	if (d->minor >= 0)
		strf(min, sizeof min, "%lld", (long long)d->minor);
	if (d->type == 'a')
		strf(out, n, "a");
	else
		strf(out, n, "%c %s:%s %s", d->type, maj, min, d->access);
}

/* All device rules in order: the config's, the defaults, then one per
 * linux.devices node, as runc does. Returns a malloc'd array. */
static struct sb_devrule *cg_devrules(const struct sb_config *c, size_t *np)
{
	size_t n = c->res.ndevices + LEN(cg_default_devrules) + c->ndevices, i, k = 0;
	struct sb_devrule *v = calloc(n ? n : 1, sizeof *v);

	if (!v)
		return NULL;
	for (i = 0; i < c->res.ndevices; i++)
		v[k++] = c->res.devices[i];
	for (i = 0; i < LEN(cg_default_devrules); i++)
		v[k++] = cg_default_devrules[i];
	for (i = 0; i < c->ndevices; i++) {
		const struct sb_device *d = &c->devices[i];

		if (d->type == 'p')
			continue;
		v[k].allow = 1;
		v[k].type = d->type == 'b' ? 'b' : 'c';
		v[k].major = d->major;
		v[k].minor = d->minor;
		strcpy(v[k].access, "rwm");
		k++;
	}
	*np = k;
	return v;
}

static int cg_devices_bpf(const struct cg *cg, const struct sb_devrule *v, size_t n);

static int cg_apply_devices(const struct cg *cg, const struct sb_config *c)
{
	struct sb_devrule *v;
	char rule[64];
	size_t n, i;
	int rc = 0;

	if (!(cg_needed(&c->res) & (1u << CG_DEVICES)))
		return 0;
	if (!(v = cg_devrules(c, &n)))
		return err_set("out of memory");
	if (cg->devices_bpf) {
		rc = cg_devices_bpf(cg, v, n);
	} else {
		for (i = 0; i < n && rc == 0; i++) {
			cg_devrule_text(&v[i], rule, sizeof rule);
			rc = cg_write(cg, CG_DEVICES, v[i].allow ? "devices.allow" :
			    "devices.deny", "%s", rule);
		}
	}
	free(v);
	return rc;
}

static int cg_apply(const struct cg *cg, const struct sb_config *c)
{
	const struct sb_resources *r = &c->res;
	char path[PATH_MAX];
	size_t i;

	if (cg->where[CG_MEMORY] >= 0 && cg_apply_memory(cg, r) < 0)
		return -1;
	if (cg->where[CG_CPU] >= 0 && cg_apply_cpu(cg, r) < 0)
		return -1;
	if (cg->where[CG_CPUSET] >= 0) {
		if (r->cpus && cg_write(cg, CG_CPUSET, "cpuset.cpus", "%s", r->cpus) < 0)
			return -1;
		if (r->mems && cg_write(cg, CG_CPUSET, "cpuset.mems", "%s", r->mems) < 0)
			return -1;
	}
	if (r->pids_limit != SB_UNSET && (r->pids_limit < 0 ?
	    cg_write(cg, CG_PIDS, "pids.max", "max") :
	    cg_write(cg, CG_PIDS, "pids.max", "%lld", (long long)r->pids_limit)) < 0)
		return -1;
	if (cg->where[CG_IO] >= 0 && cg_apply_io(cg, r) < 0)
		return -1;
	if (cg_apply_devices(cg, c) < 0)
		return -1;
	for (i = 0; i < r->nunified; i++) {
		if (pathf(path, sizeof path, "%s/%s", cg->h[cg->v2].dir, r->unified[i].key) < 0 ||
		    write_file(path, r->unified[i].value) < 0)
			return err_ctx("linux.resources.unified.%s", r->unified[i].key);
	}
	return 0;
}

/* Opens cgroup.procs of the groups in the v1 hierarchies (v2: set), for
 * moving the container in. */
static int cg_open_procs(const struct cg *cg, int v2, int *fds, int max)
{
	char path[PATH_MAX];
	int i, n = 0;

	for (i = 0; i < cg->nh && n < max; i++) {
		if (!cg->h[i].dir || cg->h[i].v2 != v2)
			continue;
		if (pathf(path, sizeof path, "%s/cgroup.procs", cg->h[i].dir) < 0 ||
		    (fds[n] = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
			if (errno != ENAMETOOLONG)
				err_sys("open %s", path);
			while (n--)
				close(fds[n]);
			return -1;
		}
		n++;
	}
	return n;
}

/* How many times the kernel's OOM killer struck in the memory group. */
static long long cg_oom_kills(const struct cg *cg)
{
	char path[PATH_MAX], *text, *p;
	long long n = 0;
	int i = cg->where[CG_MEMORY];

	if (i < 0 || !cg->h[i].dir)
		return 0;
	if (pathf(path, sizeof path, "%s/%s", cg->h[i].dir,
	    cg->h[i].v2 ? "memory.events" : "memory.oom_control") < 0 ||
	    !(text = read_file(path, 65536, NULL)))
		return 0;
	if ((p = strstr(text, "oom_kill ")))
		n = (long long)dec(p + 9, NULL);
	free(text);
	return n;
}

/* Device rules on cgroup v2 are an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * attached to the group. The rules are tried last to first, as later OCI
 * rules override earlier ones; the first match decides, and a request no
 * rule matches is allowed, as in a fresh v1 devices group. */
enum { R_CTX = 1, R_TYPE = 2, R_ACC = 3, R_MAJ = 4, R_MIN = 5, R_TMP = 1, R_KEEP = 6 };

static struct bpf_insn bpf_op(uint8_t code, int dst, int src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { code, (uint8_t)dst, (uint8_t)src, off, imm };

	return i;
}

/* The request's fields from the context, at the start of every rule:
 * then no register's value lives from one rule into the next, so the
 * verifier sees the same state at each rule however it got there and
 * checks each rule once (with the loads only at the top, it walked the
 * rest of the program again for every way into it: 0.3-0.5 ms of a
 * container's start). */
static size_t cg_bpf_load_ctx(struct bpf_insn *b)
{
	b[0] = bpf_op(BPF_LDX | BPF_MEM | BPF_W, R_TYPE, R_KEEP, 0, 0);
	b[1] = bpf_op(BPF_ALU64 | BPF_MOV | BPF_X, R_ACC, R_TYPE, 0, 0);
	b[2] = bpf_op(BPF_ALU64 | BPF_RSH | BPF_K, R_ACC, 0, 0, 16);
	b[3] = bpf_op(BPF_ALU64 | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff);
	b[4] = bpf_op(BPF_LDX | BPF_MEM | BPF_W, R_MAJ, R_KEEP, 4, 0);
	b[5] = bpf_op(BPF_LDX | BPF_MEM | BPF_W, R_MIN, R_KEEP, 8, 0);
	return 6;
}

static size_t cg_bpf_rule(struct bpf_insn *b, const struct sb_devrule *d)
{
	uint32_t acc = 0;
	size_t n = cg_bpf_load_ctx(b), first = n, j;
	const char *a;

	for (a = d->access; *a; a++)
		acc |= *a == 'm' ? BPF_DEVCG_ACC_MKNOD : *a == 'r' ? BPF_DEVCG_ACC_READ :
		    BPF_DEVCG_ACC_WRITE;
	if (d->type != 'a')
		b[n++] = bpf_op(BPF_JMP | BPF_JNE | BPF_K, R_TYPE, 0, 0,
		    d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	if (acc != 7) {
		b[n++] = bpf_op(BPF_ALU64 | BPF_MOV | BPF_X, R_TMP, R_ACC, 0, 0);
		/* allow: the request must fit in the rule; deny: touch it */
		b[n++] = bpf_op(BPF_ALU64 | BPF_AND | BPF_K, R_TMP, 0, 0,
		    (int32_t)(d->allow ? ~acc & 7 : acc));
		b[n++] = bpf_op(BPF_JMP | (d->allow ? BPF_JNE : BPF_JEQ) | BPF_K,
		    R_TMP, 0, 0, 0);
	}
	if (d->major >= 0)
		b[n++] = bpf_op(BPF_JMP | BPF_JNE | BPF_K, R_MAJ, 0, 0, (int32_t)d->major);
	if (d->minor >= 0)
		b[n++] = bpf_op(BPF_JMP | BPF_JNE | BPF_K, R_MIN, 0, 0, (int32_t)d->minor);
	b[n++] = bpf_op(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, d->allow);
	b[n++] = bpf_op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	for (j = first; j + 2 < n; j++)
		if (BPF_CLASS(b[j].code) == BPF_JMP)
			b[j].off = (int16_t)(n - j - 1);
	return n;
}

static int cg_devices_bpf(const struct cg *cg, const struct sb_devrule *v, size_t n)
{
	struct bpf_insn *p;
	union bpf_attr at;
	size_t k = 0, i;
	int prog, dir = -1, rc = -1;

	if (!(p = calloc(3 + n * 15, sizeof *p)))
		return err_set("out of memory");
	/* the context, kept where the rules' scratch register is not */
	p[k++] = bpf_op(BPF_ALU64 | BPF_MOV | BPF_X, R_KEEP, R_CTX, 0, 0);
	/* a rule that matches everything ends the program: the verifier
	 * refuses code it cannot reach */
	for (i = n; i-- > 0; ) {
		k += cg_bpf_rule(p + k, &v[i]);
		if (v[i].type == 'a' && v[i].major < 0 && v[i].minor < 0 &&
		    !strcmp(v[i].access, "rwm"))
			break;
	}
	if (i == (size_t)-1) {
		p[k++] = bpf_op(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
		p[k++] = bpf_op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}

	memset(&at, 0, sizeof at);
	at.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	at.insns = (uint64_t)(uintptr_t)p;
	at.insn_cnt = (uint32_t)k;
	at.license = (uint64_t)(uintptr_t)"GPL";
	if ((prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &at, sizeof at)) < 0) {
		/* again with the verifier's log, for its reason, at its end;
		 * a log too small fails the load (ENOSPC), so only here */
		char log[16384] = "";
		size_t len;

		at.log_buf = (uint64_t)(uintptr_t)log;
		at.log_size = sizeof log;
		at.log_level = 1;
		syscall(SYS_bpf, BPF_PROG_LOAD, &at, sizeof at);
		len = strlen(log);
		err_sys("linux.resources.devices: load the eBPF device filter%s%s",
		    len ? ": ..." : "", log + (len > 300 ? len - 300 : 0));
		goto out;
	}
	if ((dir = open(cg->h[cg->v2].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_sys("open %s", cg->h[cg->v2].dir);
		goto out;
	}
	memset(&at, 0, sizeof at);
	at.target_fd = (uint32_t)dir;
	at.attach_bpf_fd = (uint32_t)prog;
	at.attach_type = BPF_CGROUP_DEVICE;
	at.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof at) < 0) {
		err_sys("linux.resources.devices: attach the eBPF device filter to %s",
		    cg->h[cg->v2].dir);
		goto out;
	}
	rc = 0;
out:
	if (prog >= 0)
		close(prog);
	if (dir >= 0)
		close(dir);
	free(p);
	return rc;
}

/* ============================================================= mnt === */

/* Mounts inside the container's mount namespace. Every destination is
 * resolved inside the rootfs as if the rootfs were "/" (openat2 with
 * RESOLVE_IN_ROOT, or an equivalent walk on kernels before 5.6), created
 * when missing, and mounted through /proc/self/fd/N of the resolved
 * O_PATH descriptor, so a symlink in the rootfs, even one swapped in
 * while we work, cannot aim a mount at a host path. */

struct mnt_ctx {
	const struct sb_config *c;
	const struct cg *cg;
	int rootfd;         /* O_PATH on the rootfs, as the host sees it */
	int userns;         /* in a new user namespace: no mknod */
	int cgroupns;       /* in a new cgroup namespace */
};

/* MS_* flags a mount has now; a remount must repeat the ones the kernel
 * locked (in a user namespace, clearing nosuid/nodev/ro fails). */
static unsigned long mnt_current_flags(int fd)
{
	static const struct { unsigned long st, ms; } map[] = {
		{ ST_RDONLY, MS_RDONLY }, { ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC }, { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
	};
	struct statfs sf;
	unsigned long f = 0;
	size_t i;

	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (i = 0; i < LEN(map); i++)
		if ((unsigned long)sf.f_flags & map[i].st)
			f |= map[i].ms;
	return f;
}

#define MNT_PER_MOUNT (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | \
	MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW)

/* Remounts the bind mount at fd with flags set and clear cleared. */
static int mnt_rebind(int fd, unsigned long set, unsigned long clear, const char *what)
{
	unsigned long f = (mnt_current_flags(fd) & ~clear) | (set & MNT_PER_MOUNT);
	char p[64];

	if (set & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME))
		f = (f & ~(MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) |
		    (set & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME));
	if (mount(NULL, fd_path(fd, p, sizeof p), NULL, MS_REMOUNT | MS_BIND | f, NULL) < 0)
		return err_sys("remount %s", what);
	return 0;
}

struct sb_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int mnt_attrs(int fd, const struct sb_mount *m)
{
	struct sb_mount_attr a = { m->rec_set, m->rec_clear, 0, 0 };

	if (!m->rec_set && !m->rec_clear)
		return 0;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | 0x8000 /* AT_RECURSIVE */,
	    &a, sizeof a) < 0)
		return err_sys("%s: recursive mount options (mount_setattr, Linux 5.12)",
		    m->destination);
	return 0;
}

static int is_type(const struct sb_mount *m, const char *t)
{
	return m->type && !strcmp(m->type, t);
}

/* tmpcopyup (crun, runc): the new tmpfs starts with a copy of what the
 * rootfs had at the destination. Copied with cp -a semantics for the
 * simple cases: directories, regular files, symlinks. */
static int mnt_copy_tree(int from, int to);

static int mnt_copy_entry(int from, int to, const char *name, const struct stat *st)
{
	char link[PATH_MAX], buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	if (S_ISDIR(st->st_mode)) {
		if (mkdirat(to, name, st->st_mode & 07777) < 0 && errno != EEXIST)
			return err_sys("tmpcopyup: mkdir %s", name);
		if ((in = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return err_sys("tmpcopyup: open %s", name);
		if ((out = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			close(in);
			return err_sys("tmpcopyup: open %s", name);
		}
		rc = mnt_copy_tree(in, out);
		close(in);
		close(out);
	} else if (S_ISLNK(st->st_mode)) {
		if ((n = readlinkat(from, name, link, sizeof link - 1)) < 0)
			return err_sys("tmpcopyup: readlink %s", name);
		link[n] = 0;
		if (symlinkat(link, to, name) < 0)
			return err_sys("tmpcopyup: symlink %s", name);
	} else if (S_ISREG(st->st_mode)) {
		if ((in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return err_sys("tmpcopyup: open %s", name);
		if ((out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    st->st_mode & 07777)) < 0) {
			close(in);
			return err_sys("tmpcopyup: create %s", name);
		}
		while ((n = read(in, buf, sizeof buf)) > 0 && rc == 0)
			if (write_all(out, buf, (size_t)n) < 0)
				rc = err_sys("tmpcopyup: write %s", name);
		if (n < 0)
			rc = err_sys("tmpcopyup: read %s", name);
		close(in);
		close(out);
	} else {
		return 0; /* devices, sockets and fifos are not copied */
	}
	if (rc == 0 && fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EINVAL)
		rc = err_sys("tmpcopyup: chown %s", name);
	return rc;
}

static int mnt_copy_tree(int from, int to)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if ((fd = dup(from)) < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_sys("tmpcopyup: opendir");
	}
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(from, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = err_sys("tmpcopyup: stat %s", e->d_name);
		else
			rc = mnt_copy_entry(from, to, e->d_name, &st);
	}
	closedir(d);
	return rc;
}

/* data without "tmpcopyup", which is ours, not the filesystem's. */
static int mnt_strip_word(const char *data, const char *word, char *out, size_t n)
{
	char tmp[1024], *tok, *save;
	int found = 0;

	*out = 0;
	if (!data)
		return 0;
	strf(tmp, sizeof tmp, "%s", data);
	for (tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, word)) {
			found = 1;
			continue;
		}
		if (*out)
			strncat(out, ",", n - strlen(out) - 1);
		strncat(out, tok, n - strlen(out) - 1);
	}
	return found;
}

/* A "cgroup" mount on a host with v1 hierarchies: a tmpfs holding the
 * container's own groups, one directory per hierarchy, as runc does. A
 * cgroup namespace mounts each hierarchy itself (rooted at the group);
 * without one, the groups are bind-mounted. Pure v2 hosts mount cgroup2. */
static int mnt_cgroup_v1(const struct mnt_ctx *x, const struct sb_mount *m, int fd)
{
	unsigned long fl = (m->flags & MNT_PER_MOUNT) & ~MS_RDONLY;
	unsigned long sfl = fl | (m->flags & MS_RDONLY);
	char p[64], q[64];
	int i, dfd, sub;

	if (mount("tmpfs", fd_path(fd, p, sizeof p), "tmpfs", fl, "mode=755") < 0)
		return err_sys("mount tmpfs on %s", m->destination);
	if ((dfd = path_resolve(x->rootfd, m->destination, 0)) < 0)
		return err_sys("open %s", m->destination);
	for (i = 0; i < x->cg->nh; i++) {
		const struct cg_hier *h = &x->cg->h[i];
		const char *name = strrchr(h->mnt, '/') + 1;
		int r;

		if (!h->dir)
			continue;
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return close(dfd), err_sys("mkdir %s/%s", m->destination, name);
		if ((sub = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return close(dfd), err_sys("open %s/%s", m->destination, name);
		fd_path(sub, q, sizeof q);
		if (x->cgroupns)
			r = mount("cgroup", q, h->v2 ? "cgroup2" : "cgroup", sfl,
			    h->v2 ? NULL : h->opts);
		else
			r = mount(h->dir, q, NULL, MS_BIND, NULL);
		close(sub);
		if (r < 0)
			return close(dfd), err_sys("mount cgroup %s on %s/%s", h->opts,
			    m->destination, name);
		if (!x->cgroupns && (sub = openat(dfd, name, O_PATH | O_CLOEXEC)) >= 0) {
			r = mnt_rebind(sub, sfl, 0, m->destination);
			close(sub);
			if (r < 0)
				return close(dfd), -1;
		}
	}
	close(dfd);
	if (m->flags & MS_RDONLY) {
		if ((dfd = path_resolve(x->rootfd, m->destination, 0)) < 0)
			return err_sys("open %s", m->destination);
		if (mount(NULL, fd_path(dfd, p, sizeof p), NULL,
		    MS_REMOUNT | MS_RDONLY | fl, "mode=755") < 0) {
			close(dfd);
			return err_sys("remount %s read-only", m->destination);
		}
		close(dfd);
	}
	return 0;
}

static int mnt_is_v2_only(const struct cg *cg)
{
	int i;

	for (i = 0; i < cg->nh; i++)
		if (!cg->h[i].v2)
			return 0;
	return cg->v2 >= 0;
}

static int mnt_one(const struct mnt_ctx *x, const struct sb_mount *m)
{
	const char *type = m->type, *src = m->source;
	unsigned long fl = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
	char p[64], data[1024];
	struct stat st;
	int fd, dir = 1, r, copyup, nosym;

	if (m->bind) {
		if (stat(src, &st) < 0)
			return err_sys("mount source %s", src);
		dir = S_ISDIR(st.st_mode);
	}
	nosym = is_type(m, "proc") || is_type(m, "sysfs");
	if ((fd = path_mkpath(x->rootfd, m->destination, !dir, nosym)) < 0) {
		/* /proc through a symlink would let the rootfs choose where
		 * procfs lands (CVE-2019-19921) */
		if (errno == ELOOP && nosym)
			return err_set("mount destination %s: a symlink, refused for %s mounts",
			    m->destination, m->type);
		return err_sys("mount destination %s", m->destination);
	}
	fd_path(fd, p, sizeof p);
	copyup = mnt_strip_word(m->data, "tmpcopyup", data, sizeof data);
	if (m->bind) {
		r = mount(src, p, NULL, MS_BIND | (m->flags & MS_REC), NULL);
	} else if (is_type(m, "cgroup") && !mnt_is_v2_only(x->cg)) {
		r = mnt_cgroup_v1(x, m, fd);
		close(fd);
		return r;
	} else {
		if (is_type(m, "cgroup"))
			type = "cgroup2";
		r = mount(src ? src : type, p, type, fl, *data ? data : NULL);
	}
	if (r < 0) {
		err_sys("mount %s on %s", src ? src : type, m->destination);
		close(fd);
		return -1;
	}
	if (copyup) {
		int to = path_resolve(x->rootfd, m->destination, 0);
		int from = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		r = to < 0 || from < 0 ? err_sys("tmpcopyup %s", m->destination) :
		    mnt_copy_tree(from, to);
		if (to >= 0)
			close(to);
		if (from >= 0)
			close(from);
		if (r < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	/* from here on, work on the new mount, not the dentry below it */
	if ((fd = path_resolve(x->rootfd, m->destination, 0)) < 0)
		return err_sys("open %s", m->destination);
	r = 0;
	if (m->bind && (fl || m->clear))
		r = mnt_rebind(fd, fl, m->clear, m->destination);
	if (r == 0 && m->propagation &&
	    mount(NULL, fd_path(fd, p, sizeof p), NULL, m->propagation, NULL) < 0)
		r = err_sys("set propagation of %s", m->destination);
	if (r == 0)
		r = mnt_attrs(fd, m);
	close(fd);
	return r;
}

/* A device node at path in the rootfs. In a user namespace mknod is
 * refused: the host's node is bind-mounted onto an empty file instead. */
static int mnt_mknod(const struct mnt_ctx *x, const char *path, mode_t mode,
    dev_t dev, const char *host)
{
	char dir[PATH_MAX], p[64];
	const char *name;
	struct stat st;
	int dfd, fd, r;

	strf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	name = strrchr(path, '/') + 1;
	if ((dfd = path_mkpath(x->rootfd, *dir ? dir : "/", 0, 0)) < 0)
		return err_sys("device %s", path);
	r = x->userns ? -1 : mknodat(dfd, name, mode, dev);
	if (r == 0 || (errno == EEXIST && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & S_IFMT) == (mode & S_IFMT) && st.st_rdev == dev)) {
		r = fchmodat(dfd, name, mode & 07777, 0);
		close(dfd);
		return r < 0 ? err_sys("chmod %s", path) : 0;
	}
	close(dfd);
	if (!x->userns && errno != EEXIST && errno != EPERM)
		return err_sys("mknod %s", path);
	/* bind the host's node over whatever is there */
	if (!S_ISCHR(mode) && !S_ISBLK(mode))
		return err_sys("mknod %s", path);
	if ((fd = path_mkpath(x->rootfd, path, 1, 0)) < 0)
		return err_sys("device %s", path);
	r = mount(host, fd_path(fd, p, sizeof p), NULL, MS_BIND, NULL);
	close(fd);
	return r < 0 ? err_sys("bind %s on %s", host, path) : 0;
}

static int mnt_symlink(const struct mnt_ctx *x, const char *target, const char *path,
    int replace)
{
	char dir[PATH_MAX];
	const char *name = strrchr(path, '/') + 1;
	int dfd, r;

	strf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	if ((dfd = path_mkpath(x->rootfd, dir, 0, 0)) < 0)
		return err_sys("symlink %s", path);
	if (replace)
		unlinkat(dfd, name, 0);
	r = symlinkat(target, dfd, name);
	close(dfd);
	if (r < 0 && errno != EEXIST)
		return err_sys("symlink %s", path);
	return 0;
}

/* The nodes every container gets (runtime-spec "Default Devices"), the
 * config's linux.devices, and the /dev links. */
static int mnt_devices(const struct mnt_ctx *x)
{
	static const struct { const char *name; int maj, min; } defaults[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" }, { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
	};
	const struct sb_config *c = x->c;
	char path[64];
	size_t i;
	int devpts = 0;

	for (i = 0; i < LEN(defaults); i++) {
		strf(path, sizeof path, "/dev/%s", defaults[i].name);
		if (mnt_mknod(x, path, S_IFCHR | 0666,
		    makedev(defaults[i].maj, defaults[i].min), path) < 0)
			return -1;
	}
	for (i = 0; i < c->ndevices; i++) {
		const struct sb_device *d = &c->devices[i];
		mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
		mode_t perm = d->has_mode ? (d->mode & 07777) : 0666;
		char hostp[PATH_MAX];
		int dfd;

		strf(hostp, sizeof hostp, "%s", d->path);
		if (mnt_mknod(x, d->path, type | perm,
		    makedev((unsigned)d->major, (unsigned)d->minor), hostp) < 0)
			return err_ctx("linux.devices[%zu]", i);
		if (!d->has_uid && !d->has_gid)
			continue;
		if ((dfd = path_resolve(x->rootfd, d->path, 0)) < 0)
			return err_sys("linux.devices[%zu]: %s", i, d->path);
		if (fchownat(dfd, "", d->has_uid ? d->uid : (uid_t)-1,
		    d->has_gid ? d->gid : (gid_t)-1, AT_EMPTY_PATH) < 0) {
			close(dfd);
			return err_sys("linux.devices[%zu]: chown %s", i, d->path);
		}
		close(dfd);
	}
	for (i = 0; i < LEN(links); i++)
		if (mnt_symlink(x, links[i][0], links[i][1], 0) < 0)
			return -1;
	for (i = 0; i < c->nmounts; i++)
		if (is_type(&c->mounts[i], "devpts") && !strcmp(c->mounts[i].destination, "/dev/pts"))
			devpts = 1;
	/* ptmx of the container's own devpts instance, not the host's */
	if (devpts && mnt_symlink(x, "pts/ptmx", "/dev/ptmx", 1) < 0)
		return -1;
	return 0;
}

/* An overlay of image layers at target: lowers top first, named
 * relative to the layers directory (the mount string holds a page: short
 * names, as Docker's, fit SB_OVL_MAX_LOWER of them). upper NULL: read-only. */
static int mnt_overlay(const struct sb_overlay *o, const char *upper, const char *work,
    const char *target)
{
	struct buf b = {0};
	int cwd = -1, rc = -1;
	size_t i;

	buf_puts(&b, "lowerdir=");
	for (i = 0; i < o->nlower; i++) {
		if (strchr(o->lower[i], ':') || strchr(o->lower[i], ','))
			return buf_free(&b), err_set("overlay layer %s: ':' and ',' cannot be named", o->lower[i]);
		buf_printf(&b, "%s%s", i ? ":" : "", o->lower[i]);
	}
	if (upper)
		buf_printf(&b, ",upperdir=%s,workdir=%s", upper, work);
	if (b.oom || b.len >= 4096) {
		buf_free(&b);
		return err_set("overlay: mount options longer than a page (%zu layers)", o->nlower);
	}
	/* the lower names are relative to the layers directory */
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || chdir(o->layers) < 0) {
		err_sys("overlay: %s", o->layers);
		goto out;
	}
	if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, b.p) < 0)
		err_sys("mount the image's layers as overlay on %s", target);
	else
		rc = 0;
	if (fchdir(cwd) < 0 && rc == 0)
		rc = err_sys("chdir back");
out:
	if (cwd >= 0)
		close(cwd);
	buf_free(&b);
	return rc;
}

/* Makes the rootfs a mount point of its own in a mount tree that does
 * not propagate back to the host. Returns an O_PATH fd on it. */
static int mnt_prepare(const struct sb_config *c)
{
	unsigned long prop = (c->rootfs_propagation & MS_PRIVATE) ? MS_PRIVATE : MS_SLAVE;
	int fd;

	if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
		return err_sys("make / %s", prop == MS_PRIVATE ? "rprivate" : "rslave");
	/* an image's layers: mounted here, in the container's own mount
	 * namespace, so the host never sees the mount and it goes with us */
	if (c->overlay && mnt_overlay(c->overlay, c->overlay->upper, c->overlay->work, c->root) < 0)
		return -1;
	if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys("bind rootfs %s", c->root);
	if ((fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("open rootfs %s", c->root);
	return fd;
}

/* The rootfs moved over "/" and chrooted into: what an initramfs root
 * allows, and --no-pivot asks for. */
static int mnt_move_root(int rootfd)
{
	char p[64];

	/* the cwd moves with the mount: chroot(".") then takes the moved
	 * rootfs, where "/" would still name the old root */
	if (fchdir(rootfd) < 0)
		return err_sys("chdir into the rootfs");
	if (mount(fd_path(rootfd, p, sizeof p), "/", NULL, MS_MOVE, NULL) < 0)
		return err_sys("move the rootfs to /");
	if (chroot(".") < 0)
		return err_sys("chroot into the rootfs");
	if (chdir("/") < 0)
		return err_sys("chdir /");
	return 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it
 * leaves only the rootfs. An initramfs root cannot be pivoted (the kernel
 * refuses a root mount without a parent): there the rootfs is moved over
 * "/" and chrooted into, which isolates the same way for processes that
 * cannot chroot themselves. */
static int mnt_pivot(int rootfd, const char *root)
{
	if (fchdir(rootfd) < 0 && chdir(root) < 0)
		return err_sys("chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			return err_sys("make old root rslave");
		if (umount2(".", MNT_DETACH) < 0)
			return err_sys("detach old root");
		if (chdir("/") < 0)
			return err_sys("chdir /");
		return 0;
	}
	if (errno != EINVAL)
		return err_sys("pivot_root %s", root);
	dbg("pivot_root refused (initramfs root?): moving %s over / and chrooting", root);
	return mnt_move_root(rootfd);
}

/* maskedPaths: a read-only empty tmpfs over directories, /dev/null over
 * anything else. The /dev/null bound is a descriptor checked to be the
 * real 1:3 node, never a path in the rootfs that could be a symlink
 * planted by the image (CVE-2025-31133). */
static int mnt_mask(const struct sb_config *c, int devnull)
{
	char p[64], q[64];
	struct stat st;
	size_t i;
	int fd, root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return err_sys("open /");
	for (i = 0; i < c->nmasked; i++) {
		if ((fd = path_resolve(root, c->masked_paths[i], 0)) < 0) {
			if (errno == ENOENT)
				continue;
			close(root);
			return err_sys("masked path %s", c->masked_paths[i]);
		}
		fd_path(fd, p, sizeof p);
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0") < 0)
				goto fail;
		} else if (mount(fd_path(devnull, q, sizeof q), p, NULL, MS_BIND, NULL) < 0) {
			goto fail;
		}
		close(fd);
	}
	close(root);
	return 0;
fail:
	err_sys("mask %s", c->masked_paths[i]);
	close(fd);
	close(root);
	return -1;
}

static int mnt_readonly(const struct sb_config *c)
{
	char p[64];
	size_t i;
	int fd, r, root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return err_sys("open /");
	for (i = 0; i < c->nreadonly; i++) {
		const char *path = c->readonly_paths[i];

		if ((fd = path_resolve(root, path, 0)) < 0) {
			if (errno == ENOENT)
				continue;
			close(root);
			return err_sys("read-only path %s", path);
		}
		r = mount(fd_path(fd, p, sizeof p), p, NULL, MS_BIND | MS_REC, NULL);
		close(fd);
		if (r < 0) {
			close(root);
			return err_sys("bind read-only path %s", path);
		}
		if ((fd = path_resolve(root, path, 0)) < 0) {
			close(root);
			return err_sys("read-only path %s", path);
		}
		r = mnt_rebind(fd, MS_RDONLY, 0, path);
		close(fd);
		if (r < 0) {
			close(root);
			return -1;
		}
	}
	close(root);
	return 0;
}

/* /dev/null of the new root, checked to be the real device. */
static int mnt_open_devnull(void)
{
	struct stat st;
	int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return err_sys("open /dev/null");
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
		close(fd);
		return err_set("/dev/null in the container is not the null device");
	}
	return fd;
}

static int mnt_sysctl(const struct sb_config *c)
{
	char path[PATH_MAX], *p;
	size_t i;

	for (i = 0; i < c->nsysctl; i++) {
		strf(path, sizeof path, "/proc/sys/%s", c->sysctl[i].key);
		for (p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		if (write_file(path, c->sysctl[i].value) < 0)
			return err_ctx("linux.sysctl.%s", c->sysctl[i].key);
	}
	return 0;
}

/* The rootfs as the host sees it: propagation, the mounts, the devices.
 * Returns an O_PATH descriptor on it, for mnt_finish. */
static int mnt_build(const struct mnt_ctx *x0)
{
	const struct sb_config *c = x0->c;
	struct mnt_ctx x = *x0;
	size_t i;

	if ((x.rootfd = mnt_prepare(c)) < 0)
		return -1;
	for (i = 0; i < c->nmounts; i++)
		if (mnt_one(&x, &c->mounts[i]) < 0) {
			close(x.rootfd);
			return err_ctx("mounts[%zu]", i);
		}
	if (mnt_devices(&x) < 0) {
		close(x.rootfd);
		return -1;
	}
	return x.rootfd;
}

/* From the host's view to the container's "/": pivot_root (--no-pivot:
 * the move), then what must be done from inside. Closes rootfd. */
static int mnt_finish(const struct sb_config *c, int rootfd, int no_pivot)
{
	int devnull, r;

	r = no_pivot ? mnt_move_root(rootfd) : mnt_pivot(rootfd, c->root);
	close(rootfd);
	if (r < 0)
		return -1;
	if (c->rootfs_propagation && !(c->rootfs_propagation & MS_PRIVATE) &&
	    mount(NULL, "/", NULL, c->rootfs_propagation, NULL) < 0)
		return err_sys("linux.rootfsPropagation");
	if (mnt_sysctl(c) < 0 || mnt_readonly(c) < 0)
		return -1;
	if (c->nmasked) {
		if ((devnull = mnt_open_devnull()) < 0)
			return -1;
		r = mnt_mask(c, devnull);
		close(devnull);
		if (r < 0)
			return -1;
	}
	if (c->root_readonly) {
		int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			return err_sys("open /");
		r = mnt_rebind(fd, MS_RDONLY, 0, "/ read-only (root.readonly)");
		close(fd);
		if (r < 0)
			return -1;
	}
	return 0;
}
/* ============================================================ proc === */

/* What happens to the container's process between a ready rootfs and
 * execve, in the order the kernel needs: privileged steps (oom score,
 * rlimits, bounding set) while still root, the user switch keeping the
 * permitted set, then the final capability sets and no_new_privs. */

struct sb_cap_header {
	uint32_t version;
	int pid;
};
struct sb_cap_data {
	uint32_t effective, permitted, inheritable;
};
#define SB_CAP_V3 0x20080522

/* Closes every descriptor from first up, but those in keep (ascending). */
static int proc_close_from(int first, const int *keep, int nkeep)
{
	struct dirent *e;
	int i, lo = first, ok = 1;
	long long fd;
	DIR *d;

	for (i = 0; i < nkeep && ok; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			ok = syscall(SYS_close_range, lo, keep[i] - 1, 0) == 0;
		lo = keep[i] + 1;
	}
	if (ok && syscall(SYS_close_range, lo, ~0u, 0) == 0)
		return 0;
	/* before Linux 5.9 */
	if (!(d = opendir("/proc/self/fd")))
		return err_sys("open /proc/self/fd");
	while ((e = readdir(d))) {
		if (parse_ll(e->d_name, first, INT_MAX, &fd) < 0 || fd == dirfd(d))
			continue;
		for (i = 0; i < nkeep && keep[i] != fd; i++)
			;
		if (i == nkeep)
			close((int)fd);
	}
	closedir(d);
	return 0;
}

static int proc_rlimits(const struct sb_process *p)
{
	struct rlimit rl;
	size_t i;

	for (i = 0; i < p->nrlimits; i++) {
		rl.rlim_cur = p->rlimits[i].soft;
		rl.rlim_max = p->rlimits[i].hard;
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return err_sys("process.rlimits[%zu]", i);
	}
	return 0;
}

static int proc_oom_score(const struct sb_process *p)
{
	char v[32];

	if (p->oom_score_adj == SB_UNSET)
		return 0;
	strf(v, sizeof v, "%lld", (long long)p->oom_score_adj);
	if (write_file("/proc/self/oom_score_adj", v) < 0)
		return err_ctx("process.oomScoreAdj");
	return 0;
}

static int proc_drop_bounding(uint64_t keep, int last)
{
	int cap;

	for (cap = 0; cap <= last; cap++)
		if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return err_sys("drop %s from the bounding set",
			    cap < (int)LEN(cap_names) ? cap_names[cap] : "a capability");
	return 0;
}

static int proc_set_user(const struct sb_process *p, int keep_caps)
{
	if (keep_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return err_sys("keep capabilities");
	if (setgroups(p->ngids, (const gid_t *)p->gids) < 0)
		return err_sys("process.user.additionalGids");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return err_sys("process.user.gid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return err_sys("process.user.uid %u", p->uid);
	if (keep_caps && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return err_sys("keep capabilities");
	return 0;
}

static int proc_set_caps(const struct sb_process *p, int last)
{
	uint64_t mask = last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
	uint64_t e = p->caps[SB_CAP_EFFECTIVE] & mask, pm = p->caps[SB_CAP_PERMITTED] & mask;
	uint64_t in = p->caps[SB_CAP_INHERITABLE] & mask, am = p->caps[SB_CAP_AMBIENT] & mask;
	struct sb_cap_header h = { SB_CAP_V3, 0 };
	struct sb_cap_data d[2] = {
		{ (uint32_t)e, (uint32_t)pm, (uint32_t)in },
		{ (uint32_t)(e >> 32), (uint32_t)(pm >> 32), (uint32_t)(in >> 32) },
	};
	int cap;

	if (syscall(SYS_capset, &h, d) < 0)
		return err_sys("process.capabilities: capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return err_sys("process.capabilities.ambient: clear");
	for (cap = 0; cap <= last; cap++)
		if ((am & (1ull << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return err_sys("process.capabilities.ambient: raise %s", cap_names[cap]);
	return 0;
}

/* The cwd must be inside the new root: a descriptor leaked from the host
 * and named as /proc/self/fd/N would put it outside (CVE-2024-21626), and
 * getcwd(3) fails for a directory the root cannot reach. */
static int proc_chdir(const char *cwd)
{
	char buf[PATH_MAX];

	if (chdir(cwd) < 0)
		return err_sys("process.cwd %s", cwd);
	if (!getcwd(buf, sizeof buf))
		return err_sys("process.cwd %s: outside the container's root", cwd);
	return 0;
}

/* The security module labels take effect at the execve. */
static int proc_lsm(const struct sb_process *p)
{
	char v[512];

	if (p->apparmor) {
		strf(v, sizeof v, "exec %s", p->apparmor);
		if (write_file("/proc/self/attr/apparmor/exec", v) < 0 &&
		    write_file("/proc/self/attr/exec", v) < 0)
			return err_ctx("process.apparmorProfile");
	}
	if (p->selinux && write_file("/proc/self/attr/exec", p->selinux) < 0)
		return err_ctx("process.selinuxLabel");
	return 0;
}

static void proc_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Everything but the exec. */
static int proc_confine(const struct sb_process *p, int cap_last,
    const struct sec_prog *filter)
{
	int cwd_ok;

	umask(p->umask == SB_UNSET ? SB_DEFAULT_UMASK : (mode_t)p->umask);
	if (proc_oom_score(p) < 0 || proc_rlimits(p) < 0 || proc_lsm(p) < 0)
		return -1;
	if (p->has_caps && proc_drop_bounding(p->caps[SB_CAP_BOUNDING], cap_last) < 0)
		return -1;
	/* as root first: NFS root squash may deny root what the user may do */
	cwd_ok = proc_chdir(p->cwd) == 0;
	/* without no_new_privs the kernel wants CAP_SYS_ADMIN: before it goes */
	if (filter && !p->no_new_privileges && sec_install(filter) < 0)
		return -1;
	if (proc_set_user(p, p->has_caps) < 0)
		return -1;
	if (!cwd_ok && proc_chdir(p->cwd) < 0)
		return -1;
	if (p->has_caps && proc_set_caps(p, cap_last) < 0)
		return -1;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_sys("process.noNewPrivileges");
	return 0;
}

/* PATH search in the container's env, as execvp(3) would do it. */
static int proc_find(const char *file, const char *const *env, char *out, size_t n)
{
	const char *path = SB_DEFAULT_PATH, *p, *q;
	int eacces = 0;
	struct stat st;

	if (strchr(file, '/')) {
		strf(out, n, "%s", file);
		if (stat(out, &st) < 0)
			return -1;
		if (!S_ISREG(st.st_mode) || access(out, X_OK) < 0)
			return errno = EACCES, -1;
		return 0;
	}
	for (; env && *env; env++)
		if (!strncmp(*env, "PATH=", 5))
			path = *env + 5;
	for (p = path; ; p = q + 1) {
		q = strchr(p, ':');
		if (!q)
			q = p + strlen(p);
		strf(out, n, "%.*s%s%s", (int)(q - p), p, q > p ? "/" : "", file);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			eacces = 1;
		}
		if (!*q)
			break;
	}
	errno = eacces ? EACCES : ENOENT;
	return -1;
}

#if SB_WITH_IMAGES
/* =========================================================== store === */

/* The image store (SB_STORE_DIR, or --store DIR):
 *   lock                   flock: shared for readers, exclusive for writers
 *   blobs/sha256/HEX       manifests and configs, by digest
 *   layers/CHAIN/diff      a layer unpacked in overlayfs's form, by chainID
 *   layers/CHAIN/meta      "DIFF_ID SIZE\n": the tar's digest and length
 *   layers/CHAIN/flat      the layers up to CHAIN squashed into one, for
 *                          images with more than overlayfs takes here
 *   layers/l/SHORT         -> ../CHAIN/diff: short names for the overlay
 *                          mount string, which holds at most a page
 *   layers/l/SHORTf        -> ../CHAIN/flat
 *   images.json            names and tags -> image, layers
 *   containers/ID/         upper, work, init of an image's container; meta
 *   tmp/                   what is being made; emptied by the next writer
 * Everything is made in tmp/ and renamed into place after syncfs, so a
 * kill at any moment leaves no half layer or index visible. Layers are
 * shared by chainID; what no image and no container uses is removed by
 * store_gc, which counts the users afresh each time, so no stored count
 * can drift after a crash. */

struct store {
	char root[PATH_MAX];
	int fd;                 /* the store directory */
	int lock;
};

struct layer {
	char chain[72], diff[72];       /* "sha256:<hex>" */
	uint64_t size;                  /* of the uncompressed tar */
};

struct image {
	const char *name;               /* docker.io/library/busybox:latest, or NULL */
	char id[72];                    /* digest of the config */
	char manifest[72];              /* digest of the manifest, or "" */
	char index[72];                 /* of the index it was picked from, or "" */
	char platform[48];              /* what it was picked for there, or "" */
	const char *created;
	struct layer *layers;           /* bottom first */
	size_t nlayers;
};

struct images {
	struct arena a;
	struct image *v;
	size_t n, cap;
};

static void store_close(struct store *s)
{
	if (s->lock >= 0)
		close(s->lock);
	if (s->fd >= 0)
		close(s->fd);
	s->lock = s->fd = -1;
}

/* Removes a tree below dirfd; what is gone already is fine. */
static int rm_tree_at(int at, const char *name, int depth)
{
	struct dirent *e;
	int fd;
	DIR *d;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return err_sys("remove %s", name);
	if (depth > 256)
		return err_set("remove %s: nested too deeply", name);
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : err_sys("open %s", name);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return err_sys("open %s", name);
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    rm_tree_at(dirfd(d), e->d_name, depth + 1) < 0) {
			closedir(d);
			return -1;
		}
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_sys("remove %s", name);
	return 0;
}

/* Opens (making it if needed) and locks the store. A writer also empties
 * tmp/ of what an interrupted command left there. */
static int store_open(struct store *s, const char *root, int writer)
{
	static const char *const dirs[] = {
		"blobs", "blobs/sha256", "layers", "layers/l", "containers", "tmp"
	};
	size_t i;

	s->fd = s->lock = -1;
	root = root ? root : SB_STORE_DIR;
	if (mkdir_p(root, 0700) < 0)
		return -1;
	/* absolute: containers' configs name paths in it */
	if (!realpath(root, s->root))
		return err_sys("store %s", root);
	if ((s->fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("store %s", s->root);
	for (i = 0; i < LEN(dirs); i++)
		if (mkdirat(s->fd, dirs[i], 0700) < 0 && errno != EEXIST)
			return store_close(s), err_sys("store %s: mkdir %s", s->root, dirs[i]);
	if ((s->lock = openat(s->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return store_close(s), err_sys("store %s: lock", s->root);
	while (flock(s->lock, writer ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return store_close(s), err_sys("store %s: lock", s->root);
	if (writer && (rm_tree_at(s->fd, "tmp", 0) < 0 || mkdirat(s->fd, "tmp", 0700) < 0))
		return store_close(s), err_ctx("store %s: empty tmp", s->root);
	return 0;
}

/* A new private directory in tmp/; its name (below the store) in out. */
static int store_tmpdir(struct store *s, const char *what, char *out, size_t n)
{
	unsigned long long r;
	int i;

	for (i = 0; i < 100; i++) {
		if (getrandom(&r, sizeof r, 0) != sizeof r)
			r = (unsigned long long)now_ms() * 2654435761u + (unsigned)i;
		if (pathf(out, n, "tmp/%s-%016llx", what, r) < 0)
			return -1;
		if (mkdirat(s->fd, out, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return err_sys("store: mkdir %s", out);
	}
	return err_set("store: no free name in tmp/");
}

/* Makes what was written below the store durable, then renames from
 * into to: the one step that makes it visible. */
static int store_install(struct store *s, const char *from, const char *to)
{
	if (syncfs(s->fd) < 0)
		return err_sys("store %s: sync", s->root);
	if (renameat(s->fd, from, s->fd, to) < 0)
		return err_sys("store: install %s", to);
	return 0;
}

static int store_write_file(struct store *s, const char *name, const void *p, size_t n)
{
	char path[PATH_MAX + 16];

	return pathf(path, sizeof path, "%s/%s", s->root, name) < 0 ? -1 :
	    install_file(path, p, n, 0600);
}

static const char *digest_hex(const char *digest)
{
	return strncmp(digest, "sha256:", 7) ? digest : digest + 7;
}

/* A blob by digest, checked against it: what the store keeps or what an
 * archive brings is verified on every read. */
static char *store_blob(struct store *s, const char *digest, size_t max, size_t *len)
{
	char name[128], got[72];
	uint8_t d[32];
	char *text;

	if (sha_parse(digest, strlen(digest), d) < 0 ||
	    pathf(name, sizeof name, "blobs/sha256/%s", digest_hex(digest)) < 0)
		return NULL;
	if (!(text = read_file_at(s->fd, name, max, len)))
		return NULL;
	sha_sum(text, *len, d);
	sha_hex(d, got);
	if (strcmp(got, digest)) {
		free(text);
		err_set("store: blob %s: its content has digest %s", digest, got);
		return NULL;
	}
	return text;
}

static int store_put_blob(struct store *s, const void *p, size_t n, char digest[72])
{
	char name[128];
	uint8_t d[32];

	sha_sum(p, n, d);
	sha_hex(d, digest);
	if (pathf(name, sizeof name, "blobs/sha256/%s", digest + 7) < 0)
		return -1;
	if (faccessat(s->fd, name, F_OK, 0) == 0)
		return 0;
	return store_write_file(s, name, p, n);
}

/* ---------------------------------------------------------- images --- */

static void images_free(struct images *im)
{
	free(im->v);
	arena_free(&im->a);
	memset(im, 0, sizeof *im);
}

static struct image *images_add(struct images *im)
{
	struct image *v;

	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 16;

		if (!(v = realloc(im->v, cap * sizeof *v))) {
			err_set("out of memory");
			return NULL;
		}
		im->v = v;
		im->cap = cap;
	}
	memset(&im->v[im->n], 0, sizeof im->v[0]);
	return &im->v[im->n++];
}

static const char *jstr(const struct json *v, const char *key)
{
	struct json *t = json_get(v, key);

	return t && t->type == JSON_STRING ? t->str : NULL;
}

/* images.json into im; a missing file is an empty store. */
static int images_load(struct store *s, struct images *im)
{
	struct json *doc, *list, *e, *l, *t;
	struct image *img;
	char *text;
	size_t len, k;

	memset(im, 0, sizeof *im);
	if (!(text = read_file_at(s->fd, "images.json", 64 << 20, &len)))
		return errno == ENOENT ? 0 : -1;
	doc = json_parse(&im->a, text, len);
	free(text);
	if (!doc || !(list = json_get(doc, "images")) || list->type != JSON_ARRAY)
		return err_ctx("store %s: images.json", s->root);
	for (e = list->child; e; e = e->next) {
		if (!(img = images_add(im)))
			return -1;
		img->name = jstr(e, "name");
		img->created = jstr(e, "created");
		strf(img->id, sizeof img->id, "%s", jstr(e, "id") ? jstr(e, "id") : "");
		strf(img->manifest, sizeof img->manifest, "%s",
		    jstr(e, "manifest") ? jstr(e, "manifest") : "");
		strf(img->index, sizeof img->index, "%s", jstr(e, "index") ? jstr(e, "index") : "");
		strf(img->platform, sizeof img->platform, "%s", jstr(e, "platform") ? jstr(e, "platform") : "");
		if (!(l = json_get(e, "layers")) || l->type != JSON_ARRAY)
			return err_set("store %s: images.json: an image without layers", s->root);
		if (!(img->layers = arena_alloc(&im->a, (l->n + 1) * sizeof *img->layers)))
			return -1;
		for (t = l->child, k = 0; t; t = t->next, k++) {
			strf(img->layers[k].chain, 72, "%s", jstr(t, "chain") ? jstr(t, "chain") : "");
			strf(img->layers[k].diff, 72, "%s", jstr(t, "diff") ? jstr(t, "diff") : "");
			img->layers[k].size = json_get(t, "size") ? json_get(t, "size")->u : 0;
		}
		img->nlayers = l->n;
	}
	return 0;
}

static int images_save(struct store *s, const struct images *im)
{
	struct buf b = {0};
	size_t i, k;
	int rc;

	buf_puts(&b, "{\"images\":[");
	for (i = 0; i < im->n; i++) {
		const struct image *img = &im->v[i];

		buf_puts(&b, i ? ",\n{" : "\n{");
		if (img->name) {
			buf_puts(&b, "\"name\":");
			json_put_str(&b, img->name);
			buf_puts(&b, ",");
		}
		buf_printf(&b, "\"id\":\"%s\",\"manifest\":\"%s\",", img->id, img->manifest);
		if (img->index[0])
			buf_printf(&b, "\"index\":\"%s\",\"platform\":\"%s\",", img->index, img->platform);
		buf_puts(&b, "\"created\":");
		json_put_str(&b, img->created ? img->created : "");
		buf_puts(&b, ",\"layers\":[");
		for (k = 0; k < img->nlayers; k++)
			buf_printf(&b, "%s{\"chain\":\"%s\",\"diff\":\"%s\",\"size\":%llu}", k ? "," : "",
			    img->layers[k].chain, img->layers[k].diff,
			    (unsigned long long)img->layers[k].size);
		buf_puts(&b, "]}");
	}
	buf_puts(&b, "\n]}\n");
	rc = b.oom ? err_set("out of memory") : store_write_file(s, "images.json", b.p, b.len);
	buf_free(&b);
	return rc;
}

/* The platform images are chosen for: this binary's, unless --platform;
 * names normalised and matched as reg does for a registry's index. */
static struct reg_platform plat_want;

static int plat_set(const char *spec)
{
	if (!spec && !(spec = reg_platform_default()))
		return err_set("no default platform for this build: give --platform");
	return reg_platform_parse(&plat_want, spec);
}

static const struct reg_platform *plat(void)
{
	if (!plat_want.os[0] && plat_set(NULL) < 0)
		return NULL;
	return &plat_want;
}

/* The image a user means: a name (normalised as Docker does), an id, or
 * an id's prefix of at least 4 hex digits. */
static struct image *images_find(struct images *im, const char *what)
{
	char full[REF_STR_MAX], want[80];
	struct image *hit = NULL;
	struct ref r;
	size_t i, n;

	if (ref_parse(&r, what) == 0 && r.digest[0]) {
		/* name@sha256:...: the digest decides, of a manifest, or of an
		 * index (then the image for this machine, if several were) */
		struct reg_platform p;
		int score, top = -1;

		for (i = 0; i < im->n; i++) {
			if (!strcmp(im->v[i].manifest, r.digest))
				return &im->v[i];
			if (strcmp(im->v[i].index, r.digest))
				continue;
			score = plat() && reg_platform_parse(&p, im->v[i].platform) == 0 ?
			    reg_platform_score(plat(), &p) : 0;
			if (score > top)
				top = score, hit = &im->v[i];
		}
		if (hit)
			return hit;
	} else if (ref_parse(&r, what) == 0 && ref_format(&r, full, sizeof full) == 0) {
		for (i = 0; i < im->n; i++)
			if (im->v[i].name && !strcmp(im->v[i].name, full))
				return &im->v[i];
	}
	strf(want, sizeof want, "%s%s", strncmp(what, "sha256:", 7) ? "sha256:" : "", what);
	n = strlen(want);
	if (n < 11 || strspn(want + 7, "0123456789abcdef") != n - 7)
		goto none;
	for (i = 0; i < im->n; i++) {
		if (strncmp(im->v[i].id, want, n))
			continue;
		if (hit && strcmp(hit->id, im->v[i].id)) {
			err_set("image \"%s\": more than one image has an id starting so", what);
			return NULL;
		}
		hit = &im->v[i];
	}
	if (hit)
		return hit;
none:
	err_set("image \"%s\": not in the store (load or pull it first)", what);
	return NULL;
}

/* Docker's short form of a name: docker.io/library/busybox:latest is
 * busybox:latest, docker.io/peers/debian:bookworm is peers/debian:bookworm. */
static const char *name_familiar(const char *name)
{
	if (!strncmp(name, "docker.io/library/", 18))
		return name + 18;
	if (!strncmp(name, "docker.io/", 10))
		return name + 10;
	return name;
}

/* ---------------------------------------------------------- layers --- */

/* One layer on its way in: compressed bytes are hashed (the blob's
 * digest), decompressed, hashed again (the diff_id) and untarred, in one
 * pass and bounded memory. The compression is read from the first bytes,
 * whatever a manifest claims. */
enum { LZ_UNKNOWN, LZ_NONE, LZ_GZIP, LZ_ZSTD };

/* With more than one core, the tar of a layer is written by a thread of
 * its own while this one reads, hashes and decompresses: decompressed
 * bytes go through a ring of a few buffers. Writing files is mostly
 * system calls and decompressing mostly arithmetic, so the two overlap
 * well; a single core does both in turn, as before. */
#define RING_SLOTS 4
#define RING_SLOT (64 << 10)

struct ring {
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tar_x *tar;
	struct sha_ctx *diff;           /* hashed by the writer: it balances */
	unsigned char *buf[RING_SLOTS];
	size_t len[RING_SLOTS];
	unsigned head, tail;            /* filled: tail up to head */
	size_t fill;                    /* bytes in buf[head % RING_SLOTS] */
	int running, done;
	int failed;                     /* set by the writer, atomically */
	char why[sizeof err_buf];       /* the writer's error, once failed */
};

static int ring_failed(struct ring *r)
{
	return __atomic_load_n(&r->failed, __ATOMIC_ACQUIRE);
}

static void *ring_writer(void *arg)
{
	struct ring *r = arg;
	unsigned char *p;
	size_t n;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->tail == r->head && !r->done)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->tail == r->head)
			break;
		p = r->buf[r->tail % RING_SLOTS];
		n = r->len[r->tail % RING_SLOTS];
		pthread_mutex_unlock(&r->mu);
		/* after a failure, slots are only taken back */
		sha_update(r->diff, p, n);
		if (!ring_failed(r) && tar_x_feed(r->tar, p, n) < 0) {
			strf(r->why, sizeof r->why, "%s", err_buf);
			__atomic_store_n(&r->failed, 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_lock(&r->mu);
		r->tail++;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int ring_cores(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

/* A writer thread for tar, or NULL (one core, or no thread to be had:
 * then the caller writes itself). */
static struct ring *ring_start(struct tar_x *tar, struct sha_ctx *diff)
{
	struct ring *r;
	pthread_attr_t at;
	int k, ok;

	if (ring_cores() < 2 || !(r = calloc(1, sizeof *r)))
		return NULL;
	r->tar = tar;
	r->diff = diff;
	for (k = 0; k < RING_SLOTS; k++)
		if (!(r->buf[k] = malloc(RING_SLOT)))
			goto fail;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/* tar's writer keeps little on its stack; musl's default is 128 KB */
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 << 10);
	ok = pthread_create(&r->writer, &at, ring_writer, r) == 0;
	pthread_attr_destroy(&at);
	if (ok) {
		r->running = 1;
		return r;
	}
fail:
	for (k = 0; k < RING_SLOTS; k++)
		free(r->buf[k]);
	free(r);
	return NULL;
}

/* Hands the slot being filled to the writer, waiting for a free one. */
static void ring_push(struct ring *r)
{
	pthread_mutex_lock(&r->mu);
	r->len[r->head % RING_SLOTS] = r->fill;
	r->head++;
	r->fill = 0;
	pthread_cond_broadcast(&r->cv);
	while (r->head - r->tail == RING_SLOTS)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

static int ring_put(struct ring *r, const unsigned char *p, size_t n)
{
	while (n && !ring_failed(r)) {
		size_t k = RING_SLOT - r->fill < n ? RING_SLOT - r->fill : n;

		memcpy(r->buf[r->head % RING_SLOTS] + r->fill, p, k);
		r->fill += k, p += k, n -= k;
		if (r->fill == RING_SLOT)
			ring_push(r);
	}
	return ring_failed(r) ? err_set("%s", r->why) : 0;
}

/* Waits for the writer to write everything, or to have failed. */
static int ring_finish(struct ring *r)
{
	if (r->fill && !ring_failed(r))
		ring_push(r);
	pthread_mutex_lock(&r->mu);
	r->done = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->writer, NULL);
	r->running = 0;
	return ring_failed(r) ? err_set("%s", r->why) : 0;
}

static void ring_free(struct ring *r)
{
	int k;

	if (!r)
		return;
	if (r->running)
		ring_finish(r);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	for (k = 0; k < RING_SLOTS; k++)
		free(r->buf[k]);
	free(r);
}

struct layer_in {
	struct sha_ctx blob, diff;
	int hash_blob;                  /* the caller checks no blob digest */
	struct ring *ring;              /* the tar's writer, or NULL */
	struct inf_state *inf;
	struct zst_state *zst;
	struct tar_x *tar;
	int kind;
	uint64_t size;                  /* uncompressed */
	unsigned char head[4];          /* the first bytes, to tell the kind */
	size_t nhead;
	char *why;                      /* the first error, while hashing on */
};

static int layer_untar(struct layer_in *l, const void *p, size_t n)
{
	l->size += n;
	if (l->ring)
		return ring_put(l->ring, p, n);
	sha_update(&l->diff, p, n);
	return tar_x_feed(l->tar, p, n);
}

static int layer_decode(struct layer_in *l, const unsigned char *p, size_t n, int eof)
{
	const unsigned char *out;
	size_t on;
	int r;

	if (l->kind == LZ_NONE)
		return n ? layer_untar(l, p, n) : 0;
	if (l->kind == LZ_ZSTD) {
		size_t used;

		do {
			r = zst_decode(l->zst, p, n, &used, &out, &on, eof);
			p += used;
			n -= used;
			if (r < 0 || (on && layer_untar(l, out, on) < 0))
				return -1;
		} while (r == ZST_OUT);
		return 0;
	}
	do {
		r = inf_run(l->inf, &p, &n, eof, &out, &on);
		if (r < 0 || (on && layer_untar(l, out, on) < 0))
			return -1;
	} while (r == INF_OUT || (n && r == INF_MORE));
	if (eof && r != INF_END)
		return err_set("gzip: truncated input");
	return 0;
}

static int layer_kind(struct layer_in *l)
{
	static const unsigned char gz[] = { 0x1f, 0x8b }, zst[] = { 0x28, 0xb5, 0x2f, 0xfd };

	if (l->nhead >= 2 && !memcmp(l->head, gz, 2))
		l->kind = LZ_GZIP;
	else if (l->nhead >= 4 && !memcmp(l->head, zst, 4))
		l->kind = LZ_ZSTD;
	else
		l->kind = LZ_NONE;
	if (l->kind == LZ_GZIP) {
		if (!(l->inf = malloc(sizeof *l->inf)))
			return err_set("out of memory");
		inf_init(l->inf, 1);
		/* the diff_id, a SHA-256 of the output, is checked in any case:
		 * the CRC would only cost the decoding thread time (on a router
		 * without CRC instructions, a second per 250 MB) */
		l->inf->nocrc = 1;
	} else if (l->kind == LZ_ZSTD) {
		if (!(l->zst = malloc(sizeof *l->zst)))
			return err_set("out of memory");
		zst_init(l->zst, SB_ZSTD_WINDOW_MAX);
		l->zst->nocheck = 1; /* as the CRC: the diff_id is checked */
	}
	return layer_decode(l, l->head, l->nhead, 0);
}

/* Keeps the first decoding error and goes on hashing: a damaged blob
 * is then reported as what it is, a digest mismatch, not as whatever
 * its damage did to gzip or tar. */
static int layer_failed(struct layer_in *l)
{
	if (!l->why && !(l->why = strdup(err_buf)))
		return err_set("out of memory");
	return 0;
}

/* The sink for a layer's compressed bytes. */
static int layer_feed(void *ctx, const void *p, size_t n)
{
	struct layer_in *l = ctx;
	const unsigned char *b = p;

	if (l->hash_blob)
		sha_update(&l->blob, p, n);
	if (l->why)
		return 0;
	while (l->kind == LZ_UNKNOWN && n) {
		l->head[l->nhead++] = *b++;
		n--;
		if (l->nhead == sizeof l->head && layer_kind(l) < 0)
			return layer_failed(l);
	}
	return n && layer_decode(l, b, n, 0) < 0 ? layer_failed(l) : 0;
}

static int layer_finish(struct layer_in *l)
{
	if (l->why)
		return 0;
	if ((l->kind == LZ_UNKNOWN && layer_kind(l) < 0) || layer_decode(l, NULL, 0, 1) < 0 ||
	    (l->ring && ring_finish(l->ring) < 0) || tar_x_end(l->tar) < 0)
		return layer_failed(l);
	return 0;
}

static void layer_free(struct layer_in *l)
{
	ring_free(l->ring);             /* first: its thread writes with tar */
	if (l->tar)
		tar_x_free(l->tar);
	free(l->why);
	free(l->inf);
	if (l->zst) {
		zst_free(l->zst);
		free(l->zst);
	}
	memset(l, 0, sizeof *l);
}

typedef int stream_fn(void *src, void *ctx, int (*sink)(void *, const void *, size_t));

/* Installs a layer from a stream of its blob, unless the store has its
 * chainID already. blob: the blob's expected digest, or NULL (docker save
 * archives carry none; a pull's stream checks it itself); diff: the
 * config's diff_id, always checked. */
static int store_add_layer(struct store *s, stream_fn *stream, void *src, const char *blob,
    const char *diff, struct layer *out)
{
	char tmp[PATH_MAX], path[PATH_MAX + 32], dst[128], got[72], meta[120];
	struct layer_in l;
	uint8_t d[32];
	int dfd = -1, rc = -1;

	strf(dst, sizeof dst, "layers/%s", digest_hex(out->chain));
	if (faccessat(s->fd, dst, F_OK, 0) == 0) {
		char *m;

		strf(path, sizeof path, "%s/meta", dst);
		m = read_file_at(s->fd, path, 256, NULL);
		out->size = m ? dec(m + strcspn(m, " ") + 1, NULL) : 0;
		free(m);
		strf(out->diff, sizeof out->diff, "%s", diff);
		return 1; /* shared: there already */
	}
	memset(&l, 0, sizeof l);
	l.hash_blob = blob != NULL;
	sha_init(&l.blob);
	sha_init(&l.diff);
	if (store_tmpdir(s, "layer", tmp, sizeof tmp) < 0)
		return -1;
	if (pathf(path, sizeof path, "%s/diff", tmp) < 0 || mkdirat(s->fd, path, 0755) < 0 ||
	    (dfd = openat(s->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_sys("store: %s", path);
		goto out;
	}
	if (!(l.tar = tar_x_new(dfd, TAR_OVERLAY | TAR_OWNERS)))
		goto out;
	l.ring = ring_start(l.tar, &l.diff);
	if (stream(src, &l, layer_feed) < 0 || layer_finish(&l) < 0)
		goto out;
	sha_final(&l.blob, d);
	sha_hex(d, got);
	if (blob && strcmp(got, blob)) {
		err_set("blob %s: its content has digest %s", blob, got);
		goto out;
	}
	if (l.why) {
		err_set("%s", l.why);
		goto out;
	}
	sha_final(&l.diff, d);
	sha_hex(d, got);
	if (strcmp(got, diff)) {
		err_set("layer diff_id %s: the unpacked tar has digest %s", diff, got);
		goto out;
	}
	out->size = l.size;
	strf(out->diff, sizeof out->diff, "%s", diff);
	strf(meta, sizeof meta, "%s %llu\n", diff, (unsigned long long)l.size);
	if (pathf(path, sizeof path, "%s/meta", tmp) < 0 || store_write_file(s, path, meta, strlen(meta)) < 0)
		goto out;
	if (store_install(s, tmp, dst) < 0)
		goto out;
	/* the short name overlay mounts use; its absence is repaired on use */
	strf(path, sizeof path, "layers/l/%.16s", digest_hex(out->chain));
	strf(meta, sizeof meta, "../%s/diff", digest_hex(out->chain));
	if (symlinkat(meta, s->fd, path) < 0 && errno != EEXIST)
		dbg("store: short name %s: %s", path, strerror(errno));
	rc = 0;
out:
	layer_free(&l);
	if (dfd >= 0)
		close(dfd);
	if (rc < 0)
		rm_tree_at(s->fd, tmp, 0);
	return rc;
}

/* ---------------------------------------------------------- sources --- */

/* What load reads from: an OCI image layout directory, or a tar archive
 * of one, or of `docker save` (whose members are found by scanning the
 * headers once, then read in place). */
struct src_member {
	char *name;
	uint64_t off, size;
};

struct src {
	int dirfd;                      /* a layout directory, or -1 */
	int fd;                         /* an archive, or -1 */
	struct src_member *m;
	size_t n;
	const char *path;
	/* the member being streamed */
	const char *cur;
};

static void src_close(struct src *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->m[i].name);
	free(s->m);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof *s);
	s->dirfd = s->fd = -1;
}

static int src_add(struct src *s, const char *name, size_t nlen, uint64_t off, uint64_t size)
{
	struct src_member *m;

	while (nlen > 1 && name[0] == '.' && name[1] == '/')
		name += 2, nlen -= 2;
	if (!(s->n & (s->n + 1)) || !s->m) {
		if (!(m = realloc(s->m, (s->n + 1) * 2 * sizeof *m)))
			return err_set("out of memory");
		s->m = m;
	}
	if (!(s->m[s->n].name = strndup(name, nlen)))
		return err_set("out of memory");
	s->m[s->n].off = off;
	s->m[s->n].size = size;
	s->n++;
	return 0;
}

/* The archive's table of members: ustar names with their prefix, GNU
 * long names, pax paths. Only names and places; load checks what it uses. */
static int src_scan(struct src *s)
{
	unsigned char h[512];
	char longname[PATH_MAX] = "";
	uint64_t off = 0, size;
	int64_t v;
	ssize_t r;

	for (;;) {
		if ((r = pread(s->fd, h, sizeof h, (off_t)off)) != sizeof h)
			return r < 0 ? err_sys("%s", s->path) : err_set("%s: truncated tar archive", s->path);
		if (!h[0])
			return 0;
		if (!tar_sum_ok(h))
			return err_set("%s: not a tar archive (bad header at %llu)", s->path,
			    (unsigned long long)off);
		if (tar_num(h + 124, 12, &v) < 0 || v < 0)
			return err_set("%s: bad size at %llu", s->path, (unsigned long long)off);
		size = (uint64_t)v;
		off += 512;
		if (h[156] == 'L' || h[156] == 'x') {
			char buf[4096 + 1];
			ssize_t got;

			if (size > 4096)
				return err_set("%s: a long name of %llu bytes", s->path, (unsigned long long)size);
			if ((got = pread(s->fd, buf, size, (off_t)off)) != (ssize_t)size)
				return err_set("%s: truncated tar archive", s->path);
			buf[size] = 0;
			if (h[156] == 'L') {
				strf(longname, sizeof longname, "%s", buf);
			} else {
				char *p = strstr(buf, " path=");

				if (p)
					strf(longname, sizeof longname, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
			}
		} else if (h[156] == '0' || h[156] == 0 || h[156] == '7') {
			char name[256 + 1 + 100 + 1];

			if (*longname)
				strf(name, sizeof name, "%s", longname);
			else if (!memcmp(h + 257, "ustar", 5) && h[345])
				strf(name, sizeof name, "%.155s/%.100s", (char *)h + 345, (char *)h);
			else
				strf(name, sizeof name, "%.100s", (char *)h);
			if (src_add(s, name, strlen(name), off, size) < 0)
				return -1;
			*longname = 0;
		} else {
			*longname = 0;
		}
		off += (size + 511) & ~(uint64_t)511;
	}
}

static int src_open(struct src *s, const char *path)
{
	struct stat st;

	memset(s, 0, sizeof *s);
	s->dirfd = s->fd = -1;
	s->path = path;
	if (stat(path, &st) < 0)
		return err_sys("%s", path);
	if (S_ISDIR(st.st_mode)) {
		if ((s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return err_sys("%s", path);
		return 0;
	}
	if ((s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_sys("%s", path);
	if (src_scan(s) < 0) {
		src_close(s);
		return -1;
	}
	return 0;
}

static const struct src_member *src_find(const struct src *s, const char *name)
{
	size_t i;

	for (i = s->n; i-- > 0; ) /* the last of a name wins, as tar extracts */
		if (!strcmp(s->m[i].name, name))
			return &s->m[i];
	return NULL;
}

static int src_has(const struct src *s, const char *name)
{
	return s->dirfd >= 0 ? faccessat(s->dirfd, name, F_OK, 0) == 0 : src_find(s, name) != NULL;
}

/* A member, or a file of the layout, through sink in pieces. */
static int src_stream(void *srcp, void *ctx, int (*sink)(void *, const void *, size_t))
{
	struct src *s = srcp;
	const struct src_member *m;
	static unsigned char buf[65536];
	uint64_t off, left;
	ssize_t r;
	int fd;

	if (s->dirfd >= 0) {
		if ((fd = openat(s->dirfd, s->cur, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
			return err_sys("%s: %s", s->path, s->cur);
		while ((r = read(fd, buf, sizeof buf)) > 0)
			if (sink(ctx, buf, (size_t)r) < 0)
				return close(fd), -1;
		close(fd);
		return r < 0 ? err_sys("%s: %s", s->path, s->cur) : 0;
	}
	if (!(m = src_find(s, s->cur)))
		return err_set("%s: no %s in the archive", s->path, s->cur);
	for (off = m->off, left = m->size; left; off += (uint64_t)r, left -= (uint64_t)r) {
		r = pread(s->fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, (off_t)off);
		if (r <= 0)
			return r < 0 ? err_sys("%s", s->path) : err_set("%s: truncated", s->path);
		if (sink(ctx, buf, (size_t)r) < 0)
			return -1;
	}
	return 0;
}

static int src_collect(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;

	if (b->len + n > SB_CONFIG_MAX)
		return err_set("larger than %d bytes", SB_CONFIG_MAX);
	buf_put(b, p, n);
	return b->oom ? err_set("out of memory") : 0;
}

/* A small member (JSON) into memory. */
static char *src_read(struct src *s, const char *name, size_t *len)
{
	struct buf b = {0};

	s->cur = name;
	buf_put(&b, "", 0);
	if (src_stream(s, &b, src_collect) < 0) {
		buf_free(&b);
		err_ctx("%s: %s", s->path, name);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ------------------------------------------------------------ load --- */

/* Whether an index entry (with a platform) runs here. */
static int plat_fits(const struct json *entry)
{
	struct reg_platform p;

	return plat() && reg_entry_platform(entry, &p) == 0 && !reg_is_attestation(entry, &p) &&
	    reg_platform_score(plat(), &p) > 0;
}

static int mt_is_index(const char *mt)
{
	return mt && (!strcmp(mt, REG_MT_OCI_INDEX) || !strcmp(mt, REG_MT_DOCKER_LIST));
}

/* From an index, the manifest for our platform: its descriptor. */
static const struct json *index_pick(const struct json *index, const char *what)
{
	const struct json *list = json_get(index, "manifests"), *best = NULL;
	struct reg_platform got;

	if (!list || list->type != JSON_ARRAY) {
		err_set("%s: an index without manifests", what);
		return NULL;
	}
	if (!plat() || !(best = reg_index_pick(index, plat(), &got)))
		err_ctx("%s", what);
	return best;
}

struct load {
	struct store *st;
	struct src *src;
	struct images *im;
	const char *rename;             /* --name */
	int loaded;
};

/* A blob of the source, checked against its digest, into the store. */
static char *load_blob(struct load *ld, const char *digest, size_t *len, char put[72])
{
	char name[128], got[72];
	uint8_t d[32];
	char *text;

	if (sha_parse(digest, strlen(digest), d) < 0)
		return NULL;
	strf(name, sizeof name, "blobs/sha256/%s", digest + 7);
	if (!(text = src_read(ld->src, name, len)))
		return NULL;
	sha_sum(text, *len, d);
	sha_hex(d, got);
	if (strcmp(got, digest)) {
		free(text);
		err_set("%s: blob %s: its content has digest %s", ld->src->path, digest, got);
		return NULL;
	}
	if (put && store_put_blob(ld->st, text, *len, put) < 0)
		return free(text), NULL;
	return text;
}

/* Records an image under a name (replacing what had it), or nameless. */
static int load_record(struct load *ld, const char *name, const char *id, const char *manifest,
    const char *created, const struct layer *layers, size_t n)
{
	char full[REF_STR_MAX];
	struct image *img = NULL;
	struct ref r;
	size_t i;

	if (name) {
		if (ref_parse(&r, name) < 0 || ref_format(&r, full, sizeof full) < 0)
			return -1;
		if (r.digest[0])
			return err_set("image name %s: a name to store needs a tag, not a digest", name);
		for (i = 0; i < ld->im->n; i++)
			if (ld->im->v[i].name && !strcmp(ld->im->v[i].name, full))
				img = &ld->im->v[i];
	} else {
		for (i = 0; i < ld->im->n; i++)
			if (!strcmp(ld->im->v[i].id, id) && !strcmp(ld->im->v[i].manifest, manifest ? manifest : ""))
				return 0; /* known already, under some name or none */
	}
	if (!img && !(img = images_add(ld->im)))
		return -1;
	if (name && !(img->name = arena_strdup(&ld->im->a, full)))
		return -1;
	strf(img->id, sizeof img->id, "%s", id);
	strf(img->manifest, sizeof img->manifest, "%s", manifest ? manifest : "");
	img->created = created ? arena_strdup(&ld->im->a, created) : NULL;
	if (!(img->layers = arena_alloc(&ld->im->a, (n + 1) * sizeof *layers)))
		return -1;
	memcpy(img->layers, layers, n * sizeof *layers);
	img->nlayers = n;
	if (ld->src)
		say(1, "Loaded image%s: %s\n", name ? "" : " ID", name ? name_familiar(full) : id);
	ld->loaded++;
	return 0;
}

/* The config's diff_ids into layers' diff and chain. */
static int load_chain(const struct json *config, struct layer *layers, size_t n, const char *what)
{
	const struct json *ids = json_get(json_get(config, "rootfs"), "diff_ids"), *e;
	uint8_t prev[32], d[32];
	size_t k;

	if (!ids || ids->type != JSON_ARRAY)
		return err_set("%s: config has no rootfs.diff_ids", what);
	if (ids->n != n)
		return err_set("%s: %zu layers but %zu diff_ids", what, n, ids->n);
	for (e = ids->child, k = 0; e; e = e->next, k++) {
		if (e->type != JSON_STRING || sha_parse(e->str, e->len, d) < 0)
			return err_ctx("%s: rootfs.diff_ids[%zu]", what, k);
		strf(layers[k].diff, sizeof layers[k].diff, "%s", e->str);
		if (k)
			sha_chain_step(prev, d, prev);
		else
			memcpy(prev, d, 32);
		sha_hex(prev, layers[k].chain);
	}
	return 0;
}

/* One image of a layout: a manifest (by descriptor) and what it names. */
static int load_manifest(struct load *ld, const char *digest, const char *name)
{
	struct arena a = {0};
	char *mtext = NULL, *ctext = NULL, put[72], what[160];
	const struct json *m, *cfg, *list, *e;
	struct layer *layers = NULL;
	size_t mlen, clen, k;
	int rc = -1;

	strf(what, sizeof what, "%s: manifest %.19s", ld->src->path, digest);
	if (!(mtext = load_blob(ld, digest, &mlen, put)) || !(m = json_parse(&a, mtext, mlen)))
		goto out;
	if (mt_is_index(jstr(m, "mediaType")) || json_get(m, "manifests")) {
		const struct json *pick = index_pick(m, what);

		rc = pick && jstr(pick, "digest") ? load_manifest(ld, jstr(pick, "digest"), name) : -1;
		goto out;
	}
	if (!jstr(json_get(m, "config"), "digest") || !(list = json_get(m, "layers")) ||
	    list->type != JSON_ARRAY) {
		err_set("%s: not an image manifest", what);
		goto out;
	}
	if (!(ctext = load_blob(ld, jstr(json_get(m, "config"), "digest"), &clen, put)) ||
	    !(cfg = json_parse(&a, ctext, clen)) ||
	    !(layers = calloc(list->n + 1, sizeof *layers)) ||
	    load_chain(cfg, layers, list->n, what) < 0)
		goto out;
	for (e = list->child, k = 0; e; e = e->next, k++) {
		const char *bd = jstr(e, "digest");
		char member[128];
		uint8_t d[32];

		if (!bd || sha_parse(bd, strlen(bd), d) < 0) {
			err_ctx("%s: layers[%zu]", what, k);
			goto out;
		}
		strf(member, sizeof member, "blobs/sha256/%s", bd + 7);
		ld->src->cur = member;
		if (store_add_layer(ld->st, src_stream, ld->src, bd, layers[k].diff, &layers[k]) < 0) {
			err_ctx("%s: layer %zu", ld->src->path, k + 1);
			goto out;
		}
	}
	rc = load_record(ld, ld->rename ? ld->rename : name, put, digest, jstr(cfg, "created"),
	    layers, list->n);
out:
	free(layers);
	free(mtext);
	free(ctext);
	arena_free(&a);
	return rc;
}

/* An OCI layout: index.json's images, each under its name. */
static int load_layout(struct load *ld)
{
	struct arena a = {0};
	const struct json *idx, *list, *e, *ann;
	char *text;
	size_t len;
	int rc = 0, n = 0;

	if (!(text = src_read(ld->src, "index.json", &len)))
		return -1;
	idx = json_parse(&a, text, len);
	free(text);
	if (!idx || !(list = json_get(idx, "manifests")) || list->type != JSON_ARRAY) {
		arena_free(&a);
		return err_ctx("%s: index.json", ld->src->path);
	}
	for (e = list->child; e && rc == 0; e = e->next) {
		const char *name, *digest = jstr(e, "digest");
		const struct json *pl = json_get(e, "platform");

		/* a flat multi-platform index: only ours */
		if (pl && !plat_fits(e))
			continue;
		ann = json_get(e, "annotations");
		name = jstr(ann, "io.containerd.image.name");
		if (!name && (name = jstr(ann, "org.opencontainers.image.ref.name")) &&
		    !strchr(name, '/') && !strchr(name, ':'))
			name = NULL; /* a bare tag: the repository is not known */
		if (!digest) {
			rc = err_set("%s: index.json: a manifest without digest", ld->src->path);
			break;
		}
		rc = load_manifest(ld, digest, name);
		n++;
	}
	if (rc == 0 && !n)
		rc = !plat() ? -1 : err_set("%s: no image for %s/%s%s%s in index.json", ld->src->path,
		    plat_want.os, plat_want.arch, plat_want.variant[0] ? "/" : "", plat_want.variant);
	arena_free(&a);
	return rc;
}

/* `docker save`: manifest.json lists config and layer files by path; the
 * layers have no digests but their diff_ids, which are checked. */
static int load_docker(struct load *ld)
{
	struct arena a = {0};
	const struct json *list, *e, *tags, *files, *f, *cfg;
	struct layer *layers = NULL;
	char *text, *ctext = NULL, put[72];
	size_t len, clen, k;
	int rc = -1;

	if (!(text = src_read(ld->src, "manifest.json", &len)))
		return -1;
	list = json_parse(&a, text, len);
	free(text);
	if (!list || list->type != JSON_ARRAY) {
		err_ctx("%s: manifest.json", ld->src->path);
		goto out;
	}
	for (e = list->child; e; e = e->next) {
		const char *cpath = jstr(e, "Config");

		if (!cpath || !(files = json_get(e, "Layers")) || files->type != JSON_ARRAY) {
			err_set("%s: manifest.json: an entry without Config or Layers", ld->src->path);
			goto out;
		}
		free(ctext);
		free(layers);
		layers = NULL;
		if (!(ctext = src_read(ld->src, cpath, &clen)) || store_put_blob(ld->st, ctext, clen, put) < 0 ||
		    !(cfg = json_parse(&a, ctext, clen)) ||
		    !(layers = calloc(files->n + 1, sizeof *layers)) ||
		    load_chain(cfg, layers, files->n, ld->src->path) < 0)
			goto out;
		for (f = files->child, k = 0; f; f = f->next, k++) {
			if (f->type != JSON_STRING) {
				err_set("%s: manifest.json: Layers[%zu] is not a path", ld->src->path, k);
				goto out;
			}
			ld->src->cur = f->str;
			if (store_add_layer(ld->st, src_stream, ld->src, NULL, layers[k].diff, &layers[k]) < 0) {
				err_ctx("%s: layer %zu", ld->src->path, k + 1);
				goto out;
			}
		}
		tags = json_get(e, "RepoTags");
		if (ld->rename || !tags || tags->type != JSON_ARRAY || !tags->n) {
			if (load_record(ld, ld->rename, put, NULL, jstr(cfg, "created"), layers, files->n) < 0)
				goto out;
			continue;
		}
		for (f = tags->child; f; f = f->next)
			if (f->type == JSON_STRING &&
			    load_record(ld, f->str, put, NULL, jstr(cfg, "created"), layers, files->n) < 0)
				goto out;
	}
	rc = 0;
out:
	free(layers);
	free(ctext);
	arena_free(&a);
	return rc;
}

/* ------------------------------------------------------------ pull --- */

/* A pull: the manifest and config into memory, then each layer the store
 * lacks (by chainID) streamed from the registry through sha256, gunzip or
 * zstd and tar into tmp/, installed when its blob digest and diff_id both
 * check out. Nothing compressed is kept; a pull that is killed leaves
 * whole layers, which the next pull of the image finds and skips. */

struct pull_opts {
	struct reg_opts reg;
	int quiet;
};

/* One layer's download, as the store's stream function sees it. */
struct pull_layer {
	struct reg_client *rc;
	const struct reg_desc *d;
	int (*sink)(void *, const void *, size_t);
	void *ctx;
	uint64_t got;
	int64_t t0, shown;
	int quiet, tty;
	char name[24];                  /* "sha256:" and 12 hex digits */
};

/* Bytes per second as people read it; integers only. */
static const char *pull_rate(uint64_t bytes, int64_t ms, char *out, size_t n)
{
	char h[32];

	if (ms < 1)
		ms = 1;
	strf(out, n, "%s/s", human_size(bytes * 1000 / (uint64_t)ms, h, sizeof h));
	return out;
}

/* On a terminal, the layer's line rewritten in place (at most 5 times a
 * second); elsewhere one line when it is done. */
static void pull_progress(struct pull_layer *pl, int done)
{
	char a[32], b[32], r[32];
	int64_t now = now_ms();

	if (pl->quiet || (!done && (!pl->tty || now - pl->shown < 200)))
		return;
	pl->shown = now;
	human_size(pl->got, a, sizeof a);
	human_size(pl->d->size, b, sizeof b);
	pull_rate(pl->got, now - pl->t0, r, sizeof r);
	if (done && now - pl->t0 < 1000)
		say(2, "%s%s: %s in %lld ms, %s\n", pl->tty ? "\r\033[K" : "", pl->name, b,
		    (long long)(now - pl->t0), r);
	else if (done)
		say(2, "%s%s: %s in %lld.%llds, %s\n", pl->tty ? "\r\033[K" : "", pl->name, b,
		    (long long)((now - pl->t0) / 1000), (long long)((now - pl->t0) % 1000 / 100), r);
	else
		say(2, "\r\033[K%s: %s of %s, %s", pl->name, a, b, r);
}

static int pull_sink(void *v, const void *p, size_t n)
{
	struct pull_layer *pl = v;

	pl->got += n;
	pull_progress(pl, 0);
	return pl->sink(pl->ctx, p, n);
}

static int pull_stream(void *src, void *ctx, int (*sink)(void *, const void *, size_t))
{
	struct pull_layer *pl = src;

	pl->sink = sink;
	pl->ctx = ctx;
	pl->t0 = pl->shown = now_ms();
	if (reg_blob(pl->rc, pl->d, pull_sink, pl) < 0) {
		if (pl->tty && !pl->quiet)
			say(2, "\n");
		return -1;
	}
	return 0;
}

static int pull_media_ok(const struct reg_image *img)
{
	static const char *const layer_types[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar",
	};
	const char *mt = img->config.media_type;
	size_t k, j;

	if (mt && strcmp(mt, "application/vnd.oci.image.config.v1+json") &&
	    strcmp(mt, "application/vnd.docker.container.image.v1+json"))
		return err_set("config of media type %s: not a container image (an artifact?)", mt);
	for (k = 0; k < img->nlayers; k++) {
		mt = img->layers[k].media_type;
		for (j = 0; mt && j < LEN(layer_types) && strcmp(mt, layer_types[j]); j++)
			;
		if (mt && j == LEN(layer_types))
			return err_set("layer %zu: media type %s is not supported%s", k + 1, mt,
			    strstr(mt, "foreign") || strstr(mt, "nondistributable") ?
			    " (a foreign layer: a Windows image?)" : "");
	}
	return 0;
}

/* Pulls reference into the store and records it: under its name, or,
 * pulled by digest, nameless but found by that digest. */
static int pull_image(struct store *st, struct images *im, const char *reference,
    const struct pull_opts *o, char *recorded, size_t rlen)
{
	static struct reg_client rc;    /* 34 KB: not for the stack */
	struct reg_image img;
	struct arena a = {0};
	struct load ld = { st, NULL, im, NULL, 0 };
	struct layer *layers = NULL;
	const struct json *cfg;
	char *ctext = NULL, cput[72], mput[72], full[REF_STR_MAX], what[REF_STR_MAX + 32];
	size_t k;
	int rc_ = -1, r;

	memset(&img, 0, sizeof img);
	if (reg_open(&rc, reference, &o->reg) < 0 || ref_format(&rc.ref, full, sizeof full) < 0)
		goto out;
	strf(what, sizeof what, "%s", full);
	if (!o->quiet)
		say(2, "Pulling %s\n", full);
	if (reg_manifest(&rc, &img) < 0 || pull_media_ok(&img) < 0)
		goto out;
	if (!o->quiet)
		say(2, "Manifest %s%s%s\n", img.digest, img.platform[0] ? " for " : "", img.platform);
	if (reg_blob_read(&rc, &img.config, SB_CONFIG_MAX, &ctext) < 0 ||
	    !(cfg = json_parse(&a, ctext, strlen(ctext))) ||
	    !(layers = calloc(img.nlayers + 1, sizeof *layers)) ||
	    load_chain(cfg, layers, img.nlayers, what) < 0)
		goto out;
	if (store_put_blob(st, img.manifest, img.manifest_len, mput) < 0 ||
	    store_put_blob(st, ctext, strlen(ctext), cput) < 0)
		goto out;
	for (k = 0; k < img.nlayers; k++) {
		struct pull_layer pl;

		memset(&pl, 0, sizeof pl);
		pl.rc = &rc;
		pl.d = &img.layers[k];
		pl.quiet = o->quiet;
		pl.tty = isatty(2);
		strf(pl.name, sizeof pl.name, "%.19s", img.layers[k].digest);
		if ((r = store_add_layer(st, pull_stream, &pl, NULL, layers[k].diff, &layers[k])) < 0) {
			err_ctx("%s: layer %zu", what, k + 1);
			goto out;
		}
		if (r == 1 && !o->quiet)
			say(2, "%s: already present\n", pl.name);
		else
			pull_progress(&pl, 1);
	}
	if (load_record(&ld, rc.ref.digest[0] ? NULL : full, cput, mput, jstr(cfg, "created"),
	    layers, img.nlayers) < 0)
		goto out;
	for (k = 0; k < im->n; k++)
		if (!strcmp(im->v[k].id, cput) && !strcmp(im->v[k].manifest, mput) && img.index_digest[0]) {
			strf(im->v[k].index, sizeof im->v[k].index, "%s", img.index_digest);
			strf(im->v[k].platform, sizeof im->v[k].platform, "%s", img.platform);
		}
	strf(recorded, rlen, "%s", full);
	rc_ = 0;
out:
	free(layers);
	free(ctext);
	arena_free(&a);
	reg_image_free(&img);
	reg_close(&rc);
	return rc_;
}

/* ------------------------------------------------------------- gc --- */

static int chain_in(char (*v)[72], size_t n, const char *c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], c))
			return 1;
	return 0;
}

/* The chainIDs the image-based containers stand on: containers/ID/layers,
 * one per line. */
static int gc_container_layers(struct store *s, char (**v)[72], size_t *n)
{
	struct dirent *e;
	char path[NAME_MAX + 16], *text, *line, *save;
	int fd;
	DIR *d;

	if ((fd = openat(s->fd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd)))
		return fd >= 0 ? (close(fd), err_sys("store: containers")) : err_sys("store: containers");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		strf(path, sizeof path, "%s/layers", e->d_name);
		if (!(text = read_file_at(dirfd(d), path, 1 << 20, NULL)))
			continue;
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char (*g)[72] = realloc(*v, (*n + 1) * sizeof **v);

			if (!g) {
				free(text);
				closedir(d);
				return err_set("out of memory");
			}
			*v = g;
			strf((*v)[(*n)++], 72, "%s", line);
		}
		free(text);
	}
	closedir(d);
	return 0;
}

/* Removes the layers no image or container uses, and unused blobs. */
static int store_gc(struct store *s, const struct images *im)
{
	char (*used)[72] = NULL, name[128], link[128];
	struct dirent *e;
	size_t n = 0, i, k;
	DIR *d;
	int fd, rc = 0;

	if (gc_container_layers(s, &used, &n) < 0)
		return -1;
	for (i = 0; i < im->n; i++) {
		char (*g)[72] = realloc(used, (n + im->v[i].nlayers + 3) * sizeof *used);

		if (!g)
			return free(used), err_set("out of memory");
		used = g;
		for (k = 0; k < im->v[i].nlayers; k++)
			strcpy(used[n++], im->v[i].layers[k].chain);
		strcpy(used[n++], im->v[i].id);
		if (im->v[i].manifest[0])
			strcpy(used[n++], im->v[i].manifest);
	}
	if ((fd = openat(s->fd, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0 && (d = fdopendir(fd))) {
		while ((e = readdir(d)) && rc == 0) {
			if (strlen(e->d_name) != 64)
				continue;
			strf(name, sizeof name, "sha256:%s", e->d_name);
			if (chain_in(used, n, name))
				continue;
			strf(link, sizeof link, "l/%.16s", e->d_name);
			unlinkat(dirfd(d), link, 0);
			strf(link, sizeof link, "l/%.16sf", e->d_name);
			unlinkat(dirfd(d), link, 0);
			dbg("store: layer %s is not used: removed", name);
			rc = rm_tree_at(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	if ((fd = openat(s->fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0 &&
	    (d = fdopendir(fd))) {
		while ((e = readdir(d)) && rc == 0) {
			if (strlen(e->d_name) != 64)
				continue;
			strf(name, sizeof name, "sha256:%s", e->d_name);
			if (!chain_in(used, n, name) && unlinkat(dirfd(d), e->d_name, 0) < 0)
				rc = err_sys("store: remove blob %s", name);
		}
		closedir(d);
	}
	free(used);
	return rc;
}

/* ========================================================== images === */

/* The image verbs: load, images, rmi, inspect, unpack, export, commit;
 * run --image builds a container's config from an image (in the cli). */

/* A parsed JSON value written back out (numbers as their text). */
static void json_write(struct buf *b, const struct json *v)
{
	const struct json *e;

	switch (v->type) {
	case JSON_NULL: buf_puts(b, "null"); return;
	case JSON_TRUE: buf_puts(b, "true"); return;
	case JSON_FALSE: buf_puts(b, "false"); return;
	case JSON_NUMBER: buf_put(b, v->str, v->len); return;
	case JSON_STRING: json_put_str(b, v->str); return;
	case JSON_ARRAY:
	case JSON_OBJECT:
		buf_puts(b, v->type == JSON_ARRAY ? "[" : "{");
		for (e = v->child; e; e = e->next) {
			if (e != v->child)
				buf_puts(b, ",");
			if (v->type == JSON_OBJECT) {
				json_put_str(b, e->key);
				buf_puts(b, ":");
			}
			json_write(b, e);
		}
		buf_puts(b, v->type == JSON_ARRAY ? "]" : "}");
	}
}

static uint64_t image_size(const struct image *img)
{
	uint64_t n = 0;
	size_t k;

	for (k = 0; k < img->nlayers; k++)
		n += img->layers[k].size;
	return n;
}

/* The image's config, read and parsed into a. */
static const struct json *image_config(struct store *s, const struct image *img, struct arena *a)
{
	const struct json *v;
	size_t len;
	char *text = store_blob(s, img->id, SB_CONFIG_MAX, &len);

	if (!text)
		return NULL;
	v = json_parse(a, text, len);
	free(text);
	if (!v)
		err_ctx("image %.19s: config", img->id);
	return v;
}

#endif /* SB_WITH_IMAGES */
/* =========================================================== state === */

/* Each container has a directory <root>/<id>: state.json, written
 * atomically (temporary name, fsync, rename) so that no reader sees half
 * of one; config.json, the bundle's config as it was at create, for exec
 * and delete; start.sock, where a created container waits for `start`.
 * Each command is a fresh process that reads them back; those that change
 * a container hold an flock on its directory, so concurrent commands on
 * one container are serialised. */

struct state {
	struct arena a;
	char dir[PATH_MAX];
	const char *id, *bundle, *rootfs, *created;
	pid_t pid;
	unsigned long long start_time; /* /proc/PID/stat field 22: tells reuse */
	int started;
	const char *cgpath;         /* relative to the hierarchies, as planned */
	const char *v2;             /* the v2 group, or NULL */
	const char **v1;            /* the v1 groups */
	size_t nv1;
	const char *freezer;        /* the group that pauses it, or NULL */
	struct sb_kv *annotations;
	size_t nannotations;
};

static int valid_id(const char *id)
{
	const char *p;

	if (!id || !*id || !strcmp(id, ".") || !strcmp(id, "..") || strlen(id) > 255)
		return 0;
	for (p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_+-.", *p))
			return 0;
	return 1;
}

static int state_path(const char *root, const char *id, char *out, size_t n)
{
	return pathf(out, n, "%s/%s", root ? root : SB_STATE_DIR, id);
}

/* Locks a container's directory; the lock goes with the descriptor. */
static int state_lock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys("container %s", strrchr(dir, '/') + 1);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err_sys("lock %s", dir);
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* The directory is the claim on the id: mkdir fails if it is taken.
 * Returns the locked directory's descriptor. */
static int state_create(const char *root, const char *id, char *dir, size_t n)
{
	if (state_path(root, id, dir, n) < 0 || mkdir_p(root ? root : SB_STATE_DIR, 0711) < 0)
		return -1;
	if (mkdir(dir, 0711) < 0)
		return errno == EEXIST ? err_set("container \"%s\" already exists", id) :
		    err_sys("mkdir %s", dir);
	return state_lock(dir);
}

static void state_remove(const char *dir)
{
	static const char *const files[] = {
		"state.json", "state.json.tmp", "config.json", "config.json.tmp", "start.sock"
	};
	char path[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < LEN(files); i++) {
		strf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Now as RFC 3339 in UTC, e.g. 2026-11-26T17:35:06.606478732Z: the date
 * from the day count by Howard Hinnant's civil_from_days, in integers. */
static void rfc3339_now(char *out, size_t n)
{
	struct timespec ts;
	long long z, era, doe, yoe, y, doy, mp, d, m, sec;

	clock_gettime(CLOCK_REALTIME, &ts);
	z = (long long)ts.tv_sec / 86400 + 719468;
	sec = (long long)ts.tv_sec % 86400;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	strf(out, n, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", y + (m <= 2), m, d,
	    sec / 3600, sec / 60 % 60, sec % 60, (long)ts.tv_nsec);
}

/* A /proc/PID/stat text: the state letter (field 3) and the start time
 * (field 22), read after the parenthesised name, which may hold anything. */
static int proc_stat_parse(char *text, char *st, unsigned long long *start)
{
	char *p = strrchr(text, ')');
	int field;

	*st = '?';
	*start = 0;
	if (!p || p[1] != ' ')
		return -1;
	*st = p[2];
	for (field = 2; field < 22 && (p = strchr(p + 1, ' ')); field++)
		;
	if (p)
		*start = dec(p + 1, NULL);
	return p ? 0 : -1;
}

static int proc_stat_at(int dir, const char *path, char *st, unsigned long long *start)
{
	char *text = read_file_at(dir, path, 4096, NULL);
	int rc;

	if (!text)
		return -1;
	rc = proc_stat_parse(text, st, start);
	free(text);
	return rc;
}

static int proc_stat(pid_t pid, char *st, unsigned long long *start)
{
	char path[64];

	strf(path, sizeof path, "/proc/%d/stat", (int)pid);
	return proc_stat_at(AT_FDCWD, path, st, start);
}

/* Whether pid is still the process that was started: not gone, not a
 * zombie waiting for its parent, not a new process that got the number. */
static int proc_alive(pid_t pid, unsigned long long start)
{
	unsigned long long t;
	char st;

	if (pid <= 0 || proc_stat(pid, &st, &t) < 0)
		return 0;
	return t == start && st != 'Z' && st != 'X' && st != 'x';
}

static void json_put_kv_object(struct buf *b, const struct sb_kv *kv, size_t n)
{
	size_t i;

	buf_put(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i)
			buf_put(b, ",", 1);
		json_put_str(b, kv[i].key);
		buf_put(b, ":", 1);
		json_put_str(b, kv[i].value);
	}
	buf_put(b, "}", 1);
}

static int state_save(const struct state *st)
{
	char path[PATH_MAX + 16];
	struct buf b = {0};
	size_t i;
	int rc;

	buf_printf(&b, "{\"ociVersion\":\"%s\",\"id\":", SB_OCI_VERSION);
	json_put_str(&b, st->id);
	buf_printf(&b, ",\"pid\":%d,\"starttime\":%llu,\"started\":%s,\"bundle\":",
	    (int)st->pid, st->start_time, st->started ? "true" : "false");
	json_put_str(&b, st->bundle);
	buf_puts(&b, ",\"rootfs\":");
	json_put_str(&b, st->rootfs);
	buf_puts(&b, ",\"created\":");
	json_put_str(&b, st->created);
	buf_puts(&b, ",\"cgroupsPath\":");
	json_put_str(&b, st->cgpath ? st->cgpath : "");
	buf_puts(&b, ",\"v2\":");
	json_put_str(&b, st->v2 ? st->v2 : "");
	buf_puts(&b, ",\"freezer\":");
	json_put_str(&b, st->freezer ? st->freezer : "");
	buf_puts(&b, ",\"v1\":[");
	for (i = 0; i < st->nv1; i++) {
		if (i)
			buf_put(&b, ",", 1);
		json_put_str(&b, st->v1[i]);
	}
	buf_puts(&b, "],\"annotations\":");
	json_put_kv_object(&b, st->annotations, st->nannotations);
	buf_puts(&b, "}\n");
	if (b.oom)
		return buf_free(&b), err_set("out of memory");
	rc = pathf(path, sizeof path, "%s/state.json", st->dir);
	if (rc == 0)
		rc = state_file(path, b.p, b.len, 0600);
	buf_free(&b);
	return rc;
}

static const char *json_str_or_null(const struct json *v, const char *key)
{
	struct json *t = json_get(v, key);

	return t && t->type == JSON_STRING && t->len ? t->str : NULL;
}

/* Reads <root>/<id>/state.json. A missing directory is "does not exist". */
static int state_load(struct state *st, const char *root, const char *id)
{
	char path[PATH_MAX + 16], *text;
	struct json *v, *t, *e;
	size_t len, i;

	memset(st, 0, sizeof *st);
	if (!valid_id(id))
		return err_set("container id \"%s\": use letters, digits and _+-. only", id);
	if (state_path(root, id, st->dir, sizeof st->dir) < 0 ||
	    pathf(path, sizeof path, "%s/state.json", st->dir) < 0)
		return -1;
	if (!(text = read_file(path, 1 << 20, &len))) {
		if (errno == ENOENT)
			return err_set("container \"%s\" does not exist", id);
		return -1;
	}
	v = json_parse(&st->a, text, len);
	free(text);
	if (!v || v->type != JSON_OBJECT) {
		arena_free(&st->a);
		return err_ctx("%s", path);
	}
	st->id = json_str_or_null(v, "id");
	st->bundle = json_str_or_null(v, "bundle");
	st->rootfs = json_str_or_null(v, "rootfs");
	st->created = json_str_or_null(v, "created");
	st->cgpath = json_str_or_null(v, "cgroupsPath");
	st->v2 = json_str_or_null(v, "v2");
	st->freezer = json_str_or_null(v, "freezer");
	if ((t = json_get(v, "pid")) && t->isint)
		st->pid = (pid_t)t->u;
	if ((t = json_get(v, "starttime")) && t->isint)
		st->start_time = t->u;
	st->started = (t = json_get(v, "started")) && t->type == JSON_TRUE;
	if ((t = json_get(v, "v1")) && t->type == JSON_ARRAY &&
	    (st->v1 = arena_alloc(&st->a, (t->n + 1) * sizeof *st->v1)))
		for (e = t->child; e; e = e->next)
			if (e->type == JSON_STRING)
				st->v1[st->nv1++] = e->str;
	if ((t = json_get(v, "annotations")) && t->type == JSON_OBJECT &&
	    (st->annotations = arena_alloc(&st->a, (t->n + 1) * sizeof *st->annotations)))
		for (e = t->child, i = 0; e; e = e->next)
			if (e->type == JSON_STRING) {
				st->annotations[i].key = e->key;
				st->annotations[i++].value = e->str;
				st->nannotations = i;
			}
	if (!st->id || !st->bundle) {
		arena_free(&st->a);
		return err_set("%s: not a state file of sandbox", path);
	}
	return 0;
}

static void state_free(struct state *st)
{
	arena_free(&st->a);
}

/* The storage of an image-based container: its annotation. */
static const char *state_storage(const struct state *st)
{
	size_t k;

	for (k = 0; k < st->nannotations; k++)
		if (!strcmp(st->annotations[k].key, "org.sandbox.storage"))
			return st->annotations[k].value;
	return NULL;
}

#if SB_WITH_IMAGES
/* Removes a container's storage, with the store's lock. */
static int storage_remove(const char *storage)
{
	char root[PATH_MAX], name[NAME_MAX + 16];
	const char *slash = strrchr(storage, '/');
	struct store s;
	int rc;

	if (!slash || slash - storage < 11 || strncmp(slash - 11, "/containers", 11))
		return err_set("%s: not a container's storage", storage);
	strf(root, sizeof root, "%.*s", (int)(slash - storage - 11), storage);
	strf(name, sizeof name, "containers/%s", slash + 1);
	if (store_open(&s, root, 1) < 0)
		return -1;
	rc = rm_tree_at(s.fd, name, 0);
	store_close(&s);
	return rc;
}
#else
static int storage_remove(const char *storage)
{
	return err_set("%s: the image store is not built in (SB_WITH_IMAGES=0)", storage);
}
#endif

static int cg_frozen(const char *group)
{
	char path[PATH_MAX + 32], *v;
	int frozen;

	if (!group)
		return 0;
	if (pathf(path, sizeof path, "%s/cgroup.freeze", group) < 0)
		return 0;
	if (access(path, F_OK) < 0 && pathf(path, sizeof path, "%s/freezer.state", group) < 0)
		return 0;
	if (!(v = read_file(path, 64, NULL)))
		return 0;
	frozen = v[0] == '1' || !strncmp(v, "FROZEN", 6) || !strncmp(v, "FREEZING", 8);
	free(v);
	return frozen;
}

static const char *state_status(const struct state *st)
{
	if (!proc_alive(st->pid, st->start_time))
		return "stopped";
	if (!st->started)
		return "created";
	if (cg_frozen(st->freezer))
		return "paused";
	return "running";
}

/* The state as the runtime-spec defines it, for `state` and the hooks. */
static void state_json(struct buf *b, const struct state *st, const char *status)
{
	buf_printf(b, "{\"ociVersion\":\"%s\",\"id\":", SB_OCI_VERSION);
	json_put_str(b, st->id);
	buf_puts(b, ",\"status\":");
	json_put_str(b, status);
	if (strcmp(status, "stopped"))
		buf_printf(b, ",\"pid\":%d", (int)st->pid);
	else
		buf_puts(b, ",\"pid\":0");
	buf_puts(b, ",\"bundle\":");
	json_put_str(b, st->bundle);
	buf_puts(b, ",\"rootfs\":");
	json_put_str(b, st->rootfs ? st->rootfs : "");
	buf_puts(b, ",\"created\":");
	json_put_str(b, st->created ? st->created : "");
	buf_puts(b, ",\"owner\":\"\",\"annotations\":");
	json_put_kv_object(b, st->annotations, st->nannotations);
	buf_puts(b, "}");
}

/* ----------------------------------------------------------- hooks --- */

/* Runs one hook: its state on stdin (a socket, so that a hook that does
 * not read it cannot kill us with SIGPIPE), its own args and env, killed
 * after its timeout. -1 with a message when it fails. */
static int hook_run(const struct sb_hook *h, const char *state)
{
	const char *argv0[2] = { h->path, NULL }, *envp0[1] = { NULL };
	int sv[2], st, ms = 0;
	int64_t limit = h->timeout == SB_UNSET ? -1 : h->timeout * 1000;
	pid_t pid, p;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_sys("hook %s: socketpair", h->path);
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return err_sys("hook %s: fork", h->path);
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(sv[1], 0) < 0)
			_exit(126);
		execve(h->path, (char *const *)(h->args ? h->args : argv0),
		    (char *const *)(h->env ? h->env : envp0));
		_exit(127);
	}
	close(sv[1]);
	for (size_t off = 0, n = strlen(state); off < n; ) {
		ssize_t w = send(sv[0], state + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* it need not read it */
		off += (size_t)w;
	}
	close(sv[0]);
	while ((p = waitpid(pid, &st, WNOHANG)) == 0) {
		if (limit >= 0 && ms >= limit) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return err_set("hook %s: timed out after %lld s", h->path,
			    (long long)h->timeout);
		}
		sleep_ms(ms < 20 ? 1 : 5);
		ms += ms < 20 ? 1 : 5;
	}
	if (p < 0)
		return err_sys("hook %s: wait", h->path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return err_set("hook %s: exited with status %d%s", h->path, WEXITSTATUS(st),
		    WEXITSTATUS(st) == 127 ? " (could not be run?)" : "");
	return err_set("hook %s: killed by signal %d", h->path, WTERMSIG(st));
}

static const char *const hook_kind_names[SB_HOOK_KINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer",
	"poststart", "poststop"
};

/* Runs every hook of a kind; the first failure ends it. */
static int hooks_run(const struct sb_config *c, int kind, const char *state)
{
	size_t i;

	for (i = 0; i < c->nhooks[kind]; i++)
		if (hook_run(&c->hooks[kind][i], state) < 0)
			return err_ctx("hooks.%s[%zu]", hook_kind_names[kind], i);
	return 0;
}

/* poststart and poststop failures are warnings, as the spec says. */
static void hooks_run_warn(const struct sb_config *c, int kind, const char *state)
{
	size_t i;

	for (i = 0; i < c->nhooks[kind]; i++)
		if (hook_run(&c->hooks[kind][i], state) < 0)
			say(2, "sandbox: warning: hooks.%s[%zu]: %s\n",
			    hook_kind_names[kind], i, sb_error());
}

/* ============================================================= tty === */

/* process.terminal: a pty pair made inside the container, from its own
 * devpts instance, so the container never sees the host's ptys. The peer
 * is opened with TIOCGPTPEER (Linux 4.13), never by a path under /dev/pts
 * that the container could have swapped (CVE-2025-52565 was such a race).
 * The master goes to the runtime over the sync socket (SCM_RIGHTS), which
 * hands it to the engine's --console-socket, or relays it itself in the
 * foreground. */

/* Sends data with one descriptor attached. */
static int send_fd(int sock, int fd, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)data, len };
	struct msghdr mh;
	struct cmsghdr *cm;

	memset(&mh, 0, sizeof mh);
	memset(cbuf, 0, sizeof cbuf);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* Opens a pty pair from the devpts whose ptmx is at ptmx (an O_PATH fd,
 * or -1 for /dev/ptmx). */
static int tty_open(int ptmx, int *master, int *slave)
{
	char p[64];
	int unlock = 0, n;

	*master = ptmx >= 0 ? open(fd_path(ptmx, p, sizeof p), O_RDWR | O_NOCTTY | O_CLOEXEC) :
	    open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return err_sys("open ptmx for process.terminal");
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) {
		err_sys("unlock pty");
		goto fail;
	}
	if ((*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0)
		return 0;
	/* before 4.13: by number, refusing anything but a pty node */
	if (ioctl(*master, TIOCGPTN, &n) < 0) {
		err_sys("pty number");
		goto fail;
	}
	err_set("open pty peer: TIOCGPTPEER needs Linux 4.13");
fail:
	close(*master);
	return -1;
}

/* Hands the master to the engine's console socket, as runc does: one
 * message whose payload is a name, with the descriptor attached. */
static int tty_to_console_socket(const char *path, int master)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return err_sys("console socket");
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		close(fd);
		return err_set("--console-socket %s: path too long", path);
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		rc = err_sys("--console-socket %s", path);
	else if (send_fd(fd, master, "/dev/ptmx", 9) < 0)
		rc = err_sys("send the terminal to --console-socket %s", path);
	close(fd);
	return rc;
}

/* Makes slave the process's controlling terminal and stdio. */
static int tty_become(int slave)
{
	if (setsid() < 0 && errno != EPERM)
		return err_sys("setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return err_sys("controlling terminal");
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		return err_sys("terminal as stdio");
	if (slave > 2)
		close(slave);
	return 0;
}

/* Copies what is ready from one descriptor to another; returns 0 at EOF
 * or error of the source, 1 otherwise. */
static int tty_pump(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof buf);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	write_all(to, buf, (size_t)n);
	return 1;
}

/* The end of stdin, passed on to a terminal as a ^D typed at the start
 * of a line: in canonical mode the line discipline turns it into an end
 * of file, in raw mode line editors (busybox's, readline) take it alike.
 * When is the question. A ^D that waits in canonical mode becomes a NUL
 * if the program then turns to raw mode, as a shell does when it starts
 * its line editor, and busybox's sh takes that NUL as typed text and
 * will not end. So the ^D goes once the program has read everything
 * before it (the slave's input queue is empty) and the terminal has been
 * quiet for SB_TTY_EOF_QUIET_MS: a program that waits for input. */
struct tty_eof {
	int due, slave;
	int64_t quiet_since;
	int backoff;            /* ms between looks at a queue not yet read */
};

static void tty_eof_arm(struct tty_eof *e, int master)
{
	e->due = 1;
	e->quiet_since = now_ms();
	e->backoff = 10;
	/* the runtime's own view of the queue, from the master's devpts */
	e->slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (e->slave < 0)
		dbg("terminal peer for the end of stdin: %s", strerror(errno));
}

/* Milliseconds until the ^D may go (0: now), or -1: none is due. A
 * program that leaves its input unread is looked at less and less often,
 * up to once a second. */
static int tty_eof_wait(struct tty_eof *e)
{
	int64_t left;
	int queued = 0, w;

	if (!e->due)
		return -1;
	left = e->quiet_since + SB_TTY_EOF_QUIET_MS - now_ms();
	if (left > 0)
		return (int)left;
	if (e->slave >= 0 && ioctl(e->slave, FIONREAD, &queued) == 0 && queued > 0) {
		w = e->backoff;
		e->backoff = w < 500 ? w * 2 : 1000;
		return w;
	}
	return 0;
}

static void tty_eof_send(struct tty_eof *e, int master)
{
	struct termios t;
	char eof = 4;

	if (tcgetattr(master, &t) == 0 && t.c_cc[VEOF])
		eof = (char)t.c_cc[VEOF];
	if (write(master, &eof, 1) < 0)
		dbg("end the terminal's input: %s", strerror(errno));
	e->due = 0;
}

static void tty_eof_done(struct tty_eof *e)
{
	if (e->slave >= 0)
		close(e->slave);
	e->slave = -1;
	e->due = 0;
}

static void tty_copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* =========================================================== spawn === */

/* A container starts in three processes. The runtime R forks a helper C,
 * which enters or makes the namespaces and forks I, PID 1 in the new PID
 * namespace; I builds the rootfs and becomes the user's program. An exec
 * is the same with C joining the container's namespaces and forking E.
 *
 * R, C and I (or E) talk over a SOCK_SEQPACKET pair, one message per
 * packet: a type byte, a code byte, text, and at most one descriptor. The
 * far end is close-on-exec, so R reads EOF exactly when the program has
 * been executed; a failure before comes as MSG_ERR with the message and
 * the status `run` should exit with. A created container's I waits on
 * <state>/start.sock instead, and `start` takes R's place there. */
enum {
	MSG_ERR = 'E',      /* C, I -> R: failed; code, text */
	MSG_MAP = 'U',      /* C -> R: write my uid/gid maps */
	MSG_MAPPED = 'u',
	MSG_JOIN = 'J',     /* C -> R: move me into the v1 (code 1: v2) cgroups */
	MSG_JOINED = 'j',
	MSG_PID = 'P',      /* C -> R: I's pid, as text */
	MSG_TTY = 'T',      /* I -> R: the terminal's master, attached */
	MSG_ENV = 'N',      /* I -> R: environment made: run the runtime's hooks */
	MSG_HOOKED = 'n',   /* R -> I: done; text: I's pid for its own hooks */
	MSG_READY = 'R',    /* I -> R: ready to exec */
	MSG_GO = 'G',       /* R -> I: exec; text: I's pid */
	MSG_WAIT = 'W',     /* R -> I: wait for `start`; text: I's pid */
};

struct msg {
	char type, code;
	char text[1022];
};

enum { SPAWN_RUN, SPAWN_CREATE, SPAWN_EXEC };

struct spawn {
	const struct sb_config *c;      /* the container's config */
	const struct sb_process *proc;  /* the program: c->process or exec's */
	const char *id;
	int mode;
	int init;                       /* --init: sandbox stays PID 1 */
	int preserve_fds;
	int detach;
	int no_pivot, no_keyring;
	const char *console;            /* --console-socket */
	const char *pid_file;
	struct cg cg;
	int sync;                       /* this process's end */
	int procs[16];                  /* cgroup.procs of the v1 groups */
	int nprocs;
	int v2procs, v2dir;             /* the v2 group, or -1 */
	int listen;                     /* create: start.sock, for I */
	int target;                     /* exec: pidfd of the container's PID 1 */
	int nsfd[SB_NS_COUNT];          /* exec without pidfd setns */
	int rootfd;                     /* exec: the container's root */
	int nsflags;                    /* exec: namespaces to join */
	pid_t helper, pid, host_pid;
	int master;                     /* R: the terminal's master */
	int exit_hint;
	int cap_last;
	int keep;                       /* run: keep the state when it ends */
	char dir[PATH_MAX];             /* the container's state directory */
};

static int msg_send_fd(int sock, char type, int code, const char *text, int fd)
{
	struct msg m;
	size_t n = text ? strlen(text) : 0;

	if (n > sizeof m.text)
		n = sizeof m.text;
	m.type = type;
	m.code = (char)code;
	if (n)
		memcpy(m.text, text, n);
	if (fd >= 0)
		return send_fd(sock, fd, &m, 2 + n);
	while (send(sock, &m, 2 + n, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int msg_send(int sock, char type, int code, const char *text)
{
	return msg_send_fd(sock, type, code, text, -1);
}

/* Returns the message length, 0 at EOF, -1 on error; a descriptor that
 * came with it is in *fd (else -1). */
static ssize_t msg_recv(int sock, struct msg *m, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { m, sizeof *m - 1 };
	struct msghdr mh;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (fd)
		*fd = -1;
	for (cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int got;

			memcpy(&got, CMSG_DATA(cm), sizeof got);
			if (fd && *fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	if (n > 0)
		((char *)m)[n] = 0;
	if (n == 1)
		m->code = 0;
	return n;
}

/* In C, I or E: report err_buf to R and die. */
static void spawn_die(int sync, int code)
{
	msg_send(sync, MSG_ERR, code, err_buf);
	_exit(code);
}

static int spawn_wait_msg(int sync, char want, struct msg *m)
{
	struct msg tmp;

	if (!m)
		m = &tmp;
	if (msg_recv(sync, m, NULL) <= 0 || m->type != want)
		return err_set("runtime went away");
	return 0;
}

/* In C: asks R for something and waits for its yes. */
static void spawn_ask(struct spawn *s, char type, int code)
{
	if (msg_send(s->sync, type, code, NULL) < 0 ||
	    spawn_wait_msg(s->sync, (char)(type | 0x20), NULL) < 0)
		_exit(125);
}

static int ns_open_paths(const struct sb_config *c, int *fds)
{
	int k;

	for (k = 0; k < SB_NS_COUNT; k++) {
		fds[k] = -1;
		if (!c->ns[k].enabled || !c->ns[k].path)
			continue;
		if ((fds[k] = open(c->ns[k].path, O_RDONLY | O_CLOEXEC)) < 0) {
			err_sys("linux.namespaces: %s namespace %s", ns_info[k].name, c->ns[k].path);
			while (k--)
				if (fds[k] >= 0)
					close(fds[k]);
			return -1;
		}
	}
	return 0;
}

/* Joins namespaces by descriptor: the user namespace first, since it
 * owns the others; all were opened before, so joining the mount
 * namespace cannot change what the other paths meant. */
static int ns_join(int *fds)
{
	static const int order[] = {
		SB_NS_USER, SB_NS_IPC, SB_NS_UTS, SB_NS_NET, SB_NS_PID,
		SB_NS_CGROUP, SB_NS_TIME, SB_NS_MNT
	};
	size_t i;
	int k, rc = 0;

	for (i = 0; i < LEN(order); i++) {
		k = order[i];
		if (fds[k] < 0)
			continue;
		if (rc == 0 && setns(fds[k], ns_info[k].flag) < 0)
			rc = err_sys("join %s namespace", ns_info[k].name);
		close(fds[k]);
		fds[k] = -1;
	}
	return rc;
}

static int ns_write_time_offsets(const struct sb_config *c)
{
	char v[128];

	strf(v, sizeof v, "monotonic %lld %lld\nboottime %lld %lld\n",
	    (long long)c->time_offset[0][0], (long long)c->time_offset[0][1],
	    (long long)c->time_offset[1][0], (long long)c->time_offset[1][1]);
	if (write_file("/proc/self/timens_offsets", v) < 0)
		return err_ctx("linux.timeOffsets");
	return 0;
}

static int ns_loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return err_sys("network namespace: socket");
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		err_sys("network namespace: bring lo up");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int spawn_new_ns_flags(const struct sb_config *c)
{
	int k, flags = 0;

	for (k = 0; k < SB_NS_COUNT; k++)
		if (c->ns[k].enabled && !c->ns[k].path && k != SB_NS_USER && k != SB_NS_TIME)
			flags |= ns_info[k].flag;
	return flags;
}

static int spawn_cap_last(void)
{
	char *s = read_file("/proc/sys/kernel/cap_last_cap", 64, NULL);
	int last = (int)LEN(cap_names) - 1;

	if (s) {
		last = (int)dec(s, NULL);
		free(s);
	}
	if (last < 0 || last > 63)
		last = (int)LEN(cap_names) - 1;
	return last;
}

static int wait_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Waits for child, reaping any other process on the way, and sends it
 * every signal this process gets; with a terminal master, relays it to
 * and from stdio (raw, its size following ours). Returns child's status.
 * R runs this in the foreground. With --init, I runs it for the user's
 * program, as tini does: the kernel gives PID 1 the orphans and drops
 * signals it has no handler for, so a program not written to be PID 1
 * would leave zombies and ignore SIGTERM. */
static int spawn_wait(pid_t child, int master)
{
	struct termios saved, raw;
	struct signalfd_siginfo si;
	struct pollfd pf[3];
	sigset_t all;
	int sfd, st, status = -1, raw_set = 0, in_open = master >= 0;
	struct tty_eof eof = { 0, -1, 0, 0 };
	int wait_ms;
	pid_t p;

	if (child <= 0) /* kill(0, ...) would signal our own group */
		return err_set("no process to wait for");
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC)) < 0)
		return err_sys("signalfd");
	/* gone before we listened? its SIGCHLD may have come already */
	while (status < 0 && (p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == child)
			status = wait_status(st);
	if (master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		raw_set = tcsetattr(0, TCSANOW, &raw) == 0;
		tty_copy_winsize(0, master);
	}
	while (status < 0) {
		int n = 0;

		pf[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		if (master >= 0)
			pf[n++] = (struct pollfd){ master, POLLIN, 0 };
		if (in_open)
			pf[n++] = (struct pollfd){ 0, POLLIN, 0 };
		wait_ms = tty_eof_wait(&eof);
		if (wait_ms == 0 && master >= 0) {
			tty_eof_send(&eof, master);
			wait_ms = -1;
		}
		if (poll(pf, (nfds_t)n, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			err_sys("poll");
			break;
		}
		if (master >= 0 && pf[1].revents) {
			eof.quiet_since = now_ms();
			if (!tty_pump(master, 1)) {
				master = -1, in_open = 0;
				tty_eof_done(&eof);
			}
		}
		if (in_open && pf[n - 1].revents && !tty_pump(0, master)) {
			tty_eof_arm(&eof, master);
			in_open = 0;
		}
		if (!pf[0].revents || read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGWINCH && master >= 0) {
			tty_copy_winsize(0, master);
		} else if (si.ssi_signo != SIGCHLD) {
			kill(child, (int)si.ssi_signo);
			continue;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == child)
				status = wait_status(st);
	}
	/* what the program wrote last is still in the pty */
	if (master >= 0) {
		fcntl(master, F_SETFL, O_NONBLOCK);
		while (tty_pump(master, 1) && errno != EAGAIN)
			;
	}
	tty_eof_done(&eof);
	if (raw_set)
		tcsetattr(0, TCSANOW, &saved);
	close(sfd);
	return status;
}

/* Why the program cannot be run, in the words engines look for (podman
 * turns "no such file or directory" and "executable file not found" into
 * 127, "permission denied" into 126): returns that status. */
static int spawn_exec_error(const char *prog, int e)
{
	if (e == ENOENT && !strchr(prog, '/'))
		err_set("exec \"%s\": executable file not found in $PATH", prog);
	else if (e == ENOENT)
		err_set("exec \"%s\": stat %s: no such file or directory", prog, prog);
	else if (e == EACCES)
		err_set("exec \"%s\": permission denied", prog);
	else
		err_set("exec \"%s\": %s", prog, strerror(e));
	return e == ENOENT ? 127 : 126;
}

/* Execs the program (never returns). */
static void spawn_exec(struct spawn *s)
{
	const struct sb_process *p = s->proc;
	char path[PATH_MAX];
	int e;

	if (proc_find(p->args[0], p->env, path, sizeof path) < 0)
		spawn_die(s->sync, spawn_exec_error(p->args[0], errno));
	proc_reset_signals();
	/* with no_new_privs, the filter comes last: it need not allow our setup */
	if (s->c->seccomp && p->no_new_privileges && !s->init && sec_install(s->c->seccomp) < 0)
		spawn_die(s->sync, 125);
	execve(path, (char *const *)p->args, (char *const *)(p->env ? p->env :
	    (const char *[]){ NULL }));
	e = errno;
	spawn_die(s->sync, spawn_exec_error(p->args[0], e));
}

/* I or E: confines itself and becomes the program; with --init, stays
 * as its reaper. slave: the terminal, or -1. */
static void spawn_become(struct spawn *s, int slave)
{
	pid_t child;

	if (proc_confine(s->proc, s->cap_last, s->c->seccomp) < 0)
		spawn_die(s->sync, 125);
	if (!s->init) {
		if (slave >= 0 && tty_become(slave) < 0)
			spawn_die(s->sync, 125);
		spawn_exec(s);
	}
	/* the reaper is confined like the program, its filter included */
	if (s->c->seccomp && s->proc->no_new_privileges && sec_install(s->c->seccomp) < 0)
		spawn_die(s->sync, 125);
	if ((child = fork()) < 0) {
		err_sys("fork");
		spawn_die(s->sync, 125);
	}
	if (child == 0) {
		if (slave >= 0 && tty_become(slave) < 0)
			spawn_die(s->sync, 125);
		spawn_exec(s);
	}
	close(s->sync);
	if (slave >= 0)
		close(slave);
	_exit(spawn_wait(child, -1));
}

/* The state the hooks get on stdin, from inside (I knows its host pid
 * only when R tells it). */
static char *spawn_hook_state(const struct spawn *s, const char *status)
{
	struct state st;
	struct buf b = {0};

	memset(&st, 0, sizeof st);
	st.id = s->id;
	st.bundle = s->c->bundle;
	st.rootfs = s->c->root;
	st.pid = s->host_pid;
	st.annotations = s->c->annotations;
	st.nannotations = s->c->nannotations;
	state_json(&b, &st, status);
	return b.oom ? NULL : b.p;
}

static int spawn_hooks_inside(struct spawn *s, int kind, const char *status)
{
	char *state;
	int rc;

	if (!s->c->nhooks[kind])
		return 0;
	if (!(state = spawn_hook_state(s, status)))
		return err_set("out of memory");
	rc = hooks_run(s->c, kind, state);
	free(state);
	return rc;
}

/* process.terminal: the pty from the rootfs's own devpts at /dev/pts,
 * its peer bound on /dev/console (created by us, never through a
 * symlink), the master sent to R. Returns the peer. */
static int spawn_terminal(struct spawn *s, int rootfd)
{
	char p[64], q[64];
	struct statfs sf;
	int ptmx, master, slave, con, r;

	if ((ptmx = path_resolve(rootfd, "/dev/pts/ptmx", 1)) < 0)
		return err_sys("process.terminal: /dev/pts/ptmx (a devpts mount at /dev/pts is needed)");
	if (fstatfs(ptmx, &sf) < 0 || sf.f_type != 0x1cd1 /* DEVPTS_SUPER_MAGIC */) {
		close(ptmx);
		return err_set("process.terminal: /dev/pts is not a devpts mount");
	}
	r = tty_open(ptmx, &master, &slave);
	close(ptmx);
	if (r < 0)
		return -1;
	if ((con = path_mkpath(rootfd, "/dev/console", 1, 1)) < 0 ||
	    mount(fd_path(slave, p, sizeof p), fd_path(con, q, sizeof q), NULL, MS_BIND, NULL) < 0) {
		if (errno == ELOOP)
			err_set("process.terminal: /dev/console in the rootfs is a symlink, refused");
		else
			err_sys("process.terminal: bind the terminal on /dev/console");
		goto fail;
	}
	close(con);
	if (msg_send_fd(s->sync, MSG_TTY, 0, NULL, master) < 0) {
		err_sys("send the terminal");
		goto fail;
	}
	close(master);
	return slave;
fail:
	if (con >= 0)
		close(con);
	close(master);
	close(slave);
	return -1;
}

/* A session keyring of the container's own, as runc makes: otherwise it
 * would share the host's. */
static void spawn_keyring(const struct spawn *s)
{
	char name[300];

	if (s->no_keyring)
		return;
	strf(name, sizeof name, "_ses.%s", s->id);
	if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name) < 0)
		dbg("no session keyring of its own: %s", strerror(errno));
}

/* Closes every descriptor from 3 + preserve_fds up but the sync socket
 * and (listen, when given) start.sock, which are moved up there first. */
static int spawn_close_fds(struct spawn *s, int *listen)
{
	int first = 3 + (s->preserve_fds > 0 ? s->preserve_fds : 0), keep[2], n = 0, fd;

	if (s->sync < first) {
		if ((fd = fcntl(s->sync, F_DUPFD_CLOEXEC, first)) < 0)
			return err_sys("dup");
		s->sync = fd;
	}
	if (listen && *listen >= 0 && *listen < first) {
		if ((fd = fcntl(*listen, F_DUPFD_CLOEXEC, first)) < 0)
			return err_sys("dup");
		*listen = fd;
	}
	keep[n++] = s->sync;
	if (listen && *listen >= 0)
		keep[n++] = *listen;
	if (n == 2 && keep[0] > keep[1]) {
		fd = keep[0];
		keep[0] = keep[1];
		keep[1] = fd;
	}
	return proc_close_from(first, keep, n);
}

/* I: PID 1 of the new namespaces. Builds the rootfs, waits for the go,
 * then becomes the user's program (or, with --init, its reaper). */
static void spawn_init(struct spawn *s)
{
	const struct sb_config *c = s->c;
	struct mnt_ctx x = { c, &s->cg, -1, 0, 0 };
	int kind, slave = -1, conn;
	struct msg m;
	char path[PATH_MAX];

	/* nothing of the host's passes but stdio, the preserved fds and
	 * these sockets (close-on-exec): closed now, so no path lookup below
	 * can meet a leaked directory (CVE-2024-21626) */
	if (spawn_close_fds(s, &s->listen) < 0)
		spawn_die(s->sync, 125);
	/* no ptrace or /proc/1/mem for the container's processes into this
	 * one, which runs sandbox with root's powers until it execs */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* born in its cgroups: the cgroup namespace is rooted there */
	if (c->ns[SB_NS_CGROUP].enabled && !c->ns[SB_NS_CGROUP].path &&
	    unshare(CLONE_NEWCGROUP) < 0) {
		err_sys("new cgroup namespace");
		spawn_die(s->sync, 125);
	}
	umask(0);
	s->cap_last = spawn_cap_last();
	x.userns = c->ns[SB_NS_USER].enabled;
	x.cgroupns = c->ns[SB_NS_CGROUP].enabled;
	if (c->ns[SB_NS_NET].enabled && !c->ns[SB_NS_NET].path && ns_loopback_up() < 0)
		spawn_die(s->sync, 125);
	if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0) {
		err_sys("hostname %s", c->hostname);
		spawn_die(s->sync, 125);
	}
	if (c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0) {
		err_sys("domainname %s", c->domainname);
		spawn_die(s->sync, 125);
	}
	spawn_keyring(s);
	if ((x.rootfd = mnt_build(&x)) < 0)
		spawn_die(s->sync, 125);
	if (s->proc->terminal) {
		if ((slave = spawn_terminal(s, x.rootfd)) < 0)
			spawn_die(s->sync, 125);
		/* the terminal is the container's stdio from now: the runtime's
		 * own (an engine's pipes, read to EOF) must not be held open
		 * by a created container */
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
			err_sys("terminal as stdio");
			spawn_die(s->sync, 125);
		}
	}
	/* the runtime's hooks, then createContainer here, before pivot_root */
	for (kind = 0; kind < SB_HOOK_START_CONTAINER; kind++) {
		if (!c->nhooks[kind])
			continue;
		if (msg_send(s->sync, MSG_ENV, 0, NULL) < 0 ||
		    spawn_wait_msg(s->sync, MSG_HOOKED, &m) < 0)
			_exit(125);
		s->host_pid = (pid_t)dec(m.text, NULL);
		if (spawn_hooks_inside(s, SB_HOOK_CREATE_CONTAINER, "creating") < 0)
			spawn_die(s->sync, 125);
		break;
	}
	if (mnt_finish(c, x.rootfd, s->no_pivot) < 0)
		spawn_die(s->sync, 125);
	/* a program that is not there fails create, not start */
	umask(s->proc->umask == SB_UNSET ? SB_DEFAULT_UMASK : (mode_t)s->proc->umask);
	if (proc_find(s->proc->args[0], s->proc->env, path, sizeof path) < 0)
		spawn_die(s->sync, spawn_exec_error(s->proc->args[0], errno));
	if (msg_send(s->sync, MSG_READY, 0, NULL) < 0 || msg_recv(s->sync, &m, NULL) <= 0)
		_exit(125);
	s->host_pid = (pid_t)dec(m.text, NULL);
	if (m.type == MSG_WAIT) {
		/* created: `start` connects; its connection is our sync now */
		close(s->sync);
		while ((conn = accept4(s->listen, NULL, NULL, SOCK_CLOEXEC)) < 0)
			if (errno != EINTR)
				_exit(125);
		close(s->listen);
		s->sync = conn;
	} else if (m.type != MSG_GO) {
		_exit(125);
	}
	if (spawn_hooks_inside(s, SB_HOOK_START_CONTAINER, "created") < 0)
		spawn_die(s->sync, 125);
	spawn_become(s, slave);
}

struct sb_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
	    stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* Forks I (or E) straight into the container's v2 cgroup (clone3 with
 * CLONE_INTO_CGROUP, Linux 5.7): moving a process between cgroups instead
 * takes a lock that waits for an RCU grace period, some 10 ms. The child
 * continues like fork(2)'s, though without musl's bookkeeping for threads,
 * which it never starts. Where clone3 cannot (before 5.7, qemu-user, from
 * a user namespace), R moves C into the group first, and C forks. */
static pid_t spawn_fork_into_cgroup(struct spawn *s, int userns)
{
#ifdef SYS_clone3
	struct sb_clone_args a;
	long pid;

	/* Not from a user namespace, which does not own the group: the
	 * kernel refuses it only after it has given out PID 1 of the new PID
	 * namespace, and a PID namespace whose first process failed takes no
	 * other (ENOMEM). The errors that fall back come before that. */
	if (s->v2dir >= 0 && !userns) {
		memset(&a, 0, sizeof a);
		a.flags = 0x200000000ull; /* CLONE_INTO_CGROUP */
		a.exit_signal = SIGCHLD;
		a.cgroup = (uint64_t)s->v2dir;
		pid = syscall(SYS_clone3, &a, sizeof a);
		if (pid >= 0 || (errno != ENOSYS && errno != EINVAL && errno != E2BIG))
			return (pid_t)pid;
	}
#endif
	if (s->v2procs >= 0)
		spawn_ask(s, MSG_JOIN, 1);
	return fork();
}

/* C: enters and makes the namespaces, has R move it into the v1 cgroups,
 * forks I into the v2 one. The namespaces are made before the cgroups are
 * joined, so that their kernel memory (a network namespace, a copy of the
 * mount tree: some 200 KiB) is the runtime's and not charged to the
 * container's memory limit. */
static void spawn_helper(struct spawn *s)
{
	const struct sb_config *c = s->c;
	int fds[SB_NS_COUNT], flags = spawn_new_ns_flags(c);
	char pid[24];
	pid_t init;

	if (ns_open_paths(c, fds) < 0 || ns_join(fds) < 0)
		spawn_die(s->sync, 125);
	if (c->ns[SB_NS_USER].enabled && !c->ns[SB_NS_USER].path) {
		if (unshare(CLONE_NEWUSER) < 0) {
			err_sys("new user namespace");
			spawn_die(s->sync, 125);
		}
		spawn_ask(s, MSG_MAP, 0);
		/* become the namespace's root where it is mapped */
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
			err_sys("setresgid 0"), spawn_die(s->sync, 125);
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
			err_sys("setresuid 0"), spawn_die(s->sync, 125);
	}
	if (c->ns[SB_NS_TIME].enabled && !c->ns[SB_NS_TIME].path) {
		if (unshare(0x80 /* CLONE_NEWTIME */) < 0) {
			err_sys("new time namespace");
			spawn_die(s->sync, 125);
		}
		if (c->has_time_offsets && ns_write_time_offsets(c) < 0)
			spawn_die(s->sync, 125);
	}
	if (unshare(flags & ~CLONE_NEWCGROUP) < 0) {
		err_sys("new namespaces");
		spawn_die(s->sync, 125);
	}
	if (s->nprocs)
		spawn_ask(s, MSG_JOIN, 0);
	if ((init = spawn_fork_into_cgroup(s, c->ns[SB_NS_USER].enabled)) < 0) {
		err_sys("fork");
		spawn_die(s->sync, 125);
	}
	if (init == 0)
		spawn_init(s);
	strf(pid, sizeof pid, "%d", (int)init);
	msg_send(s->sync, MSG_PID, 0, pid);
	_exit(0);
}

/* E: in the container's namespaces and root, the exec'd program. */
static void spawn_exec_process(struct spawn *s)
{
	int slave = -1;
	struct msg m;

	if (spawn_close_fds(s, NULL) < 0)
		spawn_die(s->sync, 125);
	s->cap_last = spawn_cap_last();
	if (s->proc->terminal) {
		int master;

		if (tty_open(-1, &master, &slave) < 0)
			spawn_die(s->sync, 125);
		if (msg_send_fd(s->sync, MSG_TTY, 0, NULL, master) < 0) {
			err_sys("send the terminal");
			spawn_die(s->sync, 125);
		}
		close(master);
	}
	if (msg_send(s->sync, MSG_READY, 0, NULL) < 0 || spawn_wait_msg(s->sync, MSG_GO, &m) < 0)
		_exit(125);
	spawn_become(s, slave);
}

/* C of an exec: joins the container's namespaces and root, forks E. */
static void spawn_exec_helper(struct spawn *s)
{
	char pid[24];
	pid_t e;
	int rc;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (s->target >= 0)
		rc = setns(s->target, s->nsflags) < 0 ? err_sys("join the container's namespaces") : 0;
	else
		rc = ns_join(s->nsfd);
	/* the mount namespace's root is the container's after pivot_root, not
	 * after the initramfs fallback: take its root from its PID 1 */
	if (rc < 0 || fchdir(s->rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		if (rc == 0)
			err_sys("enter the container's root");
		spawn_die(s->sync, 125);
	}
	close(s->rootfd);
	if (s->nprocs)
		spawn_ask(s, MSG_JOIN, 0);
	if ((e = spawn_fork_into_cgroup(s, s->nsflags & CLONE_NEWUSER)) < 0) {
		err_sys("fork");
		spawn_die(s->sync, 125);
	}
	if (e == 0)
		spawn_exec_process(s);
	strf(pid, sizeof pid, "%d", (int)e);
	msg_send(s->sync, MSG_PID, 0, pid);
	_exit(0);
}

static int spawn_write_maps(pid_t pid, const struct sb_config *c)
{
	const struct sb_idmap *maps[2] = { c->uid_map, c->gid_map };
	size_t n[2] = { c->nuid_map, c->ngid_map }, i, k;
	const char *file[2] = { "uid_map", "gid_map" };
	char path[64];
	struct buf b;

	for (k = 0; k < 2; k++) {
		memset(&b, 0, sizeof b);
		for (i = 0; i < n[k]; i++)
			buf_printf(&b, "%u %u %u\n", maps[k][i].container_id,
			    maps[k][i].host_id, maps[k][i].size);
		if (b.oom)
			return buf_free(&b), err_set("out of memory");
		strf(path, sizeof path, "/proc/%d/%s", (int)pid, file[k]);
		if (write_file(path, b.p) < 0) {
			buf_free(&b);
			return err_ctx(k ? "linux.gidMappings" : "linux.uidMappings");
		}
		buf_free(&b);
	}
	return 0;
}

/* Moves pid into the container's v1 groups, or (v2 set) its v2 group. */
static int spawn_join(struct spawn *s, pid_t pid, int v2)
{
	char v[24];
	int i, rc = 0;

	strf(v, sizeof v, "%d", (int)pid);
	if (v2)
		return write(s->v2procs, v, strlen(v)) < 0 ?
		    err_sys("move the container into its cgroup") : 0;
	for (i = 0; i < s->nprocs; i++) {
		if (rc == 0 && write(s->procs[i], v, strlen(v)) < 0)
			rc = err_sys("move the container into its cgroup");
		close(s->procs[i]);
	}
	s->nprocs = 0;
	return rc;
}

/* The runtime's hooks of create, with the state as it is then. */
static int spawn_runtime_hooks(struct spawn *s)
{
	char *state, pid[24];
	int rc;

	s->host_pid = s->pid;
	if (!(state = spawn_hook_state(s, "creating")))
		return err_set("out of memory");
	rc = hooks_run(s->c, SB_HOOK_PRESTART, state);
	if (rc == 0)
		rc = hooks_run(s->c, SB_HOOK_CREATE_RUNTIME, state);
	free(state);
	strf(pid, sizeof pid, "%d", (int)s->pid);
	if (rc == 0 && msg_send(s->sync, MSG_HOOKED, 0, pid) < 0)
		rc = err_sys("write to container");
	return rc;
}

/* R: serves C and I (or E) until the program is ready to exec and C has
 * told its pid; the two come from two processes, in either order. */
static int spawn_until_ready(struct spawn *s)
{
	struct msg m;
	long long pid;
	ssize_t n;
	int ready = 0, env = 0, fd;

	while (!ready || s->pid <= 0) {
		if ((n = msg_recv(s->sync, &m, &fd)) < 0)
			return err_sys("read from container");
		if (n == 0)
			return err_set("container setup ended without a word");
		switch (m.type) {
		case MSG_ERR:
			s->exit_hint = (unsigned char)m.code;
			return err_set("%s", m.text);
		case MSG_MAP:
			if (spawn_write_maps(s->helper, s->c) < 0)
				return -1;
			if (msg_send(s->sync, MSG_MAPPED, 0, NULL) < 0)
				return err_sys("write to container");
			break;
		case MSG_JOIN:
			if (spawn_join(s, s->helper, m.code) < 0)
				return -1;
			if (msg_send(s->sync, MSG_JOINED, 0, NULL) < 0)
				return err_sys("write to container");
			break;
		case MSG_PID:
			if (parse_ll(m.text, 1, INT_MAX, &pid) < 0)
				return err_set("container sent a bad pid");
			s->pid = (pid_t)pid;
			break;
		case MSG_TTY:
			if (fd < 0)
				return err_set("container sent no terminal");
			s->master = fd;
			break;
		case MSG_ENV:
			env = 1;
			break;
		case MSG_READY:
			ready = 1;
			break;
		default:
			return err_set("container sent an unknown message");
		}
		if (env && s->pid > 0) {
			env = 0;
			if (spawn_runtime_hooks(s) < 0)
				return -1;
		}
	}
	return 0;
}

/* After the go (sent by the caller): EOF means the program was executed. */
static int spawn_until_exec(int sync, int *hint)
{
	struct msg m;
	ssize_t n;

	if ((n = msg_recv(sync, &m, NULL)) < 0)
		return err_sys("read from container");
	if (n > 0 && m.type == MSG_ERR) {
		if (hint)
			*hint = (unsigned char)m.code;
		return err_set("%s", m.text);
	}
	return 0;
}

/* Kills and reaps what a failed start left. */
static void spawn_abort(struct spawn *s)
{
	if (s->pid > 0)
		kill(s->pid, SIGKILL);
	if (s->helper > 0)
		kill(s->helper, SIGKILL);
	if (s->helper > 0)
		waitpid(s->helper, NULL, 0);
	if (s->pid > 0)
		waitpid(s->pid, NULL, 0);
}

static void spawn_close_cgroup_fds(struct spawn *s)
{
	while (s->nprocs > 0)
		close(s->procs[--s->nprocs]);
	if (s->v2procs >= 0)
		close(s->v2procs);
	if (s->v2dir >= 0)
		close(s->v2dir);
	s->nprocs = 0;
	s->v2procs = s->v2dir = -1;
}

static int spawn_open_v2(struct spawn *s, const char *dir)
{
	char path[PATH_MAX + 16];

	if (pathf(path, sizeof path, "%s/cgroup.procs", dir) < 0)
		return -1;
	if ((s->v2procs = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return err_sys("open %s", path);
	if ((s->v2dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("open %s", dir);
	return 0;
}

/* --systemd-cgroup names cgroups "slice:prefix:name". sandbox does not
 * talk to systemd: with systemd running it refuses (systemd would not
 * know the group); without, it makes the path systemd would have made. */
static int cg_systemd_path(const char *spec, const char *id, char *out, size_t n)
{
	char slice[256], prefix[128], name[256], *c1, *c2, *p;
	struct buf b = {0};

	if (access("/run/systemd/system", F_OK) == 0)
		return err_set("--systemd-cgroup: sandbox does not talk to systemd; use cgroupfs paths");
	if (!(c1 = strchr(spec, ':')) || !(c2 = strchr(c1 + 1, ':')))
		return err_set("linux.cgroupsPath: \"%s\" is not slice:prefix:name", spec);
	strf(slice, sizeof slice, "%.*s", (int)(c1 - spec), spec);
	strf(prefix, sizeof prefix, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	strf(name, sizeof name, "%s", *(c2 + 1) ? c2 + 1 : id);
	if (!*slice)
		strcpy(slice, "system.slice");
	/* "a-b-c.slice" lives in a.slice/a-b.slice/a-b-c.slice */
	for (p = slice; (p = strchr(p, '-')); p++)
		buf_printf(&b, "/%.*s.slice", (int)(p - slice), slice);
	buf_printf(&b, "/%s/%s%s%s.scope", slice, prefix, *prefix ? "-" : "", name);
	if (b.oom || pathf(out, n, "%s", b.p) < 0)
		return buf_free(&b), -1;
	buf_free(&b);
	return 0;
}

static int spawn_cgroups(struct spawn *s, int systemd, char *rel, size_t n)
{
	const struct sb_config *c = s->c;

	if (systemd) {
		if (cg_systemd_path(c->cgroups_path ? c->cgroups_path : "::", s->id, rel, n) < 0)
			return -1;
	} else if (c->cgroups_path) {
		if (pathf(rel, n, "%s", c->cgroups_path) < 0)
			return -1;
	} else if (pathf(rel, n, "%s/%s", SB_CGROUP_PARENT, s->id) < 0) {
		return -1;
	}
	if (cg_create(&s->cg, rel) < 0)
		return -1;
	if (cg_apply(&s->cg, c) < 0 ||
	    (s->nprocs = cg_open_procs(&s->cg, 0, s->procs, (int)LEN(s->procs))) < 0)
		goto fail;
	if (s->cg.v2 >= 0 && spawn_open_v2(s, s->cg.h[s->cg.v2].dir) < 0)
		goto fail;
	return 0;
fail:
	spawn_close_cgroup_fds(s);
	cg_destroy(&s->cg);
	return -1;
}

static void spawn_report_oom(const struct spawn *s)
{
	long long n = cg_oom_kills(&s->cg);

	if (n > 0)
		say(2, "sandbox: %s: the kernel's OOM killer ended %lld process%s: memory limit %lld bytes\n",
		    s->id, n, n == 1 ? "" : "es", (long long)s->c->res.mem_limit);
}

/* A unix socket at <dir>/name; bound or connected through the
 * directory, since sun_path holds 108 bytes and ids up to 255. */
static int unix_at(const char *dir, const char *name, int bind_it)
{
	struct sockaddr_un sa;
	int fd, cwd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return err_sys("socket");
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, name);
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || chdir(dir) < 0) {
		err_sys("%s", dir);
		goto fail;
	}
	rc = bind_it ? bind(fd, (struct sockaddr *)&sa, sizeof sa) :
	    connect(fd, (struct sockaddr *)&sa, sizeof sa);
	if (rc < 0)
		err_sys("%s %s/%s", bind_it ? "bind" : "connect to", dir, name);
	if (fchdir(cwd) < 0 && rc == 0)
		rc = err_sys("chdir back");
	close(cwd);
	if (rc == 0 && (!bind_it || listen(fd, 1) == 0))
		return fd;
	if (rc == 0)
		err_sys("listen");
fail:
	if (cwd >= 0)
		close(cwd);
	close(fd);
	return -1;
}

static int write_pid_file(const char *path, pid_t pid)
{
	char v[24];

	if (!path)
		return 0;
	strf(v, sizeof v, "%d", (int)pid);
	return state_file(path, v, strlen(v), 0644) < 0 ? err_ctx("--pid-file") : 0;
}

/* The terminal's master, once R has it: to the console socket, or kept
 * for relaying in the foreground. */
static int spawn_place_terminal(struct spawn *s)
{
	int rc;

	if (s->master < 0)
		return 0;
	if (s->console) {
		rc = tty_to_console_socket(s->console, s->master);
		close(s->master);
		s->master = -1;
		return rc;
	}
	if (s->detach || s->mode == SPAWN_CREATE) {
		close(s->master);
		s->master = -1;
		return err_set("process.terminal: --console-socket is needed when not in the foreground");
	}
	return 0;
}

static void spawn_init_struct(struct spawn *s)
{
	int k;

	memset(s, 0, sizeof *s);
	s->v2procs = s->v2dir = s->listen = s->target = s->rootfd = s->master = -1;
	s->sync = -1;
	for (k = 0; k < SB_NS_COUNT; k++)
		s->nsfd[k] = -1;
	s->cg.v2 = -1;
	s->exit_hint = 125;
}

/* R: forks C (which runs child) and serves the stages until the program
 * is ready. */
static int spawn_fork(struct spawn *s, void (*child)(struct spawn *))
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return err_sys("socketpair");
	if ((s->helper = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return err_sys("fork");
	}
	if (s->helper == 0) {
		close(sv[0]);
		s->sync = sv[1];
		child(s);
	}
	close(sv[1]);
	s->sync = sv[0];
	if (spawn_until_ready(s) < 0 || spawn_place_terminal(s) < 0) {
		spawn_close_cgroup_fds(s);
		spawn_abort(s);
		close(s->sync);
		s->sync = -1;
		return -1;
	}
	spawn_close_cgroup_fds(s);
	/* C has exited or is about to: reap it, I stays ours (subreaper) */
	waitpid(s->helper, NULL, 0);
	s->helper = 0;
	return 0;
}

/* The state of a container just made, its strings in st's own arena
 * (the spawn's go away with it). */
static int state_from_spawn(struct state *st, const struct spawn *s, const char *rel)
{
	char created[48], letter;
	int i;

	memset(st, 0, sizeof *st);
	strf(st->dir, sizeof st->dir, "%s", s->dir);
	rfc3339_now(created, sizeof created);
	proc_stat(s->pid, &letter, &st->start_time);
	st->pid = s->pid;
	st->annotations = s->c->annotations;
	st->nannotations = s->c->nannotations;
	if (!(st->id = arena_strdup(&st->a, s->id)) ||
	    !(st->bundle = arena_strdup(&st->a, s->c->bundle)) ||
	    !(st->rootfs = arena_strdup(&st->a, s->c->root)) ||
	    !(st->created = arena_strdup(&st->a, created)) ||
	    !(st->cgpath = arena_strdup(&st->a, rel)) ||
	    !(st->v1 = arena_alloc(&st->a, (size_t)(s->cg.nh + 1) * sizeof *st->v1)))
		return -1;
	for (i = 0; i < s->cg.nh; i++) {
		const char *dir = s->cg.h[i].dir, *copy;

		if (!dir)
			continue;
		if (!(copy = arena_strdup(&st->a, dir)))
			return -1;
		if (s->cg.h[i].v2)
			st->v2 = copy;
		else
			st->v1[st->nv1++] = copy;
		if (s->cg.where[CG_FREEZER] == i)
			st->freezer = copy;
	}
	return 0;
}

/* The part of `run` and `create` up to a container waiting to exec: the
 * state directory claimed, cgroups, namespaces, rootfs, hooks, state.json
 * written. Returns the locked state directory's descriptor. */
static int spawn_create(struct spawn *s, const char *root, int systemd, const char *config_text,
    size_t config_len, struct state *st)
{
	char rel[PATH_MAX], path[PATH_MAX + 16];
	int lock;

	if (!valid_id(s->id))
		return err_set("container id \"%s\": use letters, digits and _+-. only", s->id);
	if (!s->c->ns[SB_NS_MNT].enabled)
		return err_set("linux.namespaces: a mount namespace is required");
	if (cg_discover(&s->cg) < 0 || cg_plan(&s->cg, s->c) < 0)
		return -1;
	if ((lock = state_create(root, s->id, s->dir, sizeof s->dir)) < 0)
		return -1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		err_sys("become a subreaper");
		goto fail_state;
	}
	if (spawn_cgroups(s, systemd, rel, sizeof rel) < 0)
		goto fail_state;
	if (s->mode == SPAWN_CREATE && (s->listen = unix_at(s->dir, "start.sock", 1)) < 0)
		goto fail_cg;
	if (spawn_fork(s, spawn_helper) < 0)
		goto fail_cg;
	if (s->listen >= 0) {
		close(s->listen);
		s->listen = -1;
	}
	if (state_from_spawn(st, s, rel) < 0)
		goto fail_run;
	if (config_text && (pathf(path, sizeof path, "%s/config.json", s->dir) < 0 ||
	    state_file(path, config_text, config_len, 0600) < 0))
		goto fail_run;
	if (state_save(st) < 0 || write_pid_file(s->pid_file, s->pid) < 0)
		goto fail_run;
	return lock;
fail_run:
	state_free(st);
	spawn_abort(s);
	if (s->sync >= 0)
		close(s->sync);
	s->sync = -1;
fail_cg:
	if (s->listen >= 0)
		close(s->listen);
	s->listen = -1;
	cg_destroy(&s->cg);
fail_state:
	state_remove(s->dir);
	close(lock);
	return -1;
}

/* ======================================================= lifecycle === */

/* The embeddable run: create, start, wait, delete. */
static int run_container(struct spawn *s, const char *root, int systemd,
    const char *text, size_t len)
{
	struct state st;
	char pid[24], *state;
	int lock, status;

	if ((lock = spawn_create(s, root, systemd, text, len, &st)) < 0)
		return -1;
	strf(pid, sizeof pid, "%d", (int)s->pid);
	if (msg_send(s->sync, MSG_GO, 0, pid) < 0 ||
	    spawn_until_exec(s->sync, &s->exit_hint) < 0) {
		if (errno == EPIPE || !*err_buf)
			err_sys("start the container");
		spawn_abort(s);
		goto fail;
	}
	close(s->sync);
	s->sync = -1;
	st.started = 1;
	if (state_save(&st) < 0)
		say(2, "sandbox: warning: %s: %s\n", s->id, sb_error());
	close(lock);
	if ((state = spawn_hook_state(s, "running"))) {
		s->host_pid = s->pid;
		hooks_run_warn(s->c, SB_HOOK_POSTSTART, state);
		free(state);
	}
	if (s->detach) {
		state_free(&st);
		cg_free(&s->cg);
		return 0;
	}
	dbg("container %s: pid %d", s->id, (int)s->pid);
	status = spawn_wait(s->pid, s->master);
	spawn_report_oom(s);
	if ((lock = state_lock(s->dir)) >= 0)
		close(lock);
	if (cg_destroy(&s->cg) < 0)
		say(2, "sandbox: %s: %s\n", s->id, sb_error());
	/* kept (an image's container): stopped, for commit, export, delete */
	if (!s->keep) {
		if ((state = spawn_hook_state(s, "stopped"))) {
			hooks_run_warn(s->c, SB_HOOK_POSTSTOP, state);
			free(state);
		}
		state_remove(s->dir);
	}
	state_free(&st);
	cg_free(&s->cg);
	return status;
fail:
	if (s->sync >= 0)
		close(s->sync);
	cg_destroy(&s->cg);
	cg_free(&s->cg);
	state_remove(s->dir);
	state_free(&st);
	close(lock);
	return -1;
}

int sb_run(const struct sb_config *c, const struct sb_run_opts *o)
{
	struct spawn s;
	sigset_t all, old;
	int status;

	spawn_init_struct(&s);
	s.c = c;
	s.proc = &c->process;
	s.id = o->id;
	s.mode = SPAWN_RUN;
	s.init = o->init;
	s.preserve_fds = o->preserve_fds;
	sb_debug = o->debug;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	status = run_container(&s, o->state_root, 0, NULL, 0);
	if (status < 0)
		sb_exit_hint = s.exit_hint;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}

/* A container's config as it was at create, for exec and delete. */
static struct sb_config *state_config(const struct state *st)
{
	char path[PATH_MAX + 16], *text;
	struct sb_config *c;
	size_t len;

	if (pathf(path, sizeof path, "%s/config.json", st->dir) < 0 ||
	    !(text = read_file(path, SB_CONFIG_MAX, &len)))
		return NULL;
	c = sb_config_parse(text, len, st->bundle);
	free(text);
	if (!c)
		err_ctx("%s", path);
	return c;
}

/* The container's groups from its state, for removal, freezing and
 * updates: v2's and v1's. */
static int cg_from_state(struct cg *cg, const struct state *st)
{
	size_t i;
	int k;

	memset(cg, 0, sizeof *cg);
	cg->v2 = -1;
	for (k = 0; k < CG_NCTL; k++)
		cg->where[k] = -1;
	for (i = 0; i <= st->nv1 && cg->nh < (int)LEN(cg->h); i++) {
		const char *dir = i < st->nv1 ? st->v1[i] : st->v2;
		struct cg_hier *h = &cg->h[cg->nh];

		if (!dir)
			continue;
		if (!(h->dir = strdup(dir)) || !(h->mnt = strdup("")) || !(h->opts = strdup("")))
			return cg_free(cg), err_set("out of memory");
		h->v2 = i == st->nv1;
		if (h->v2)
			cg->v2 = cg->nh;
		if (st->freezer && !strcmp(st->freezer, dir))
			cg->where[CG_FREEZER] = cg->nh;
		cg->nh++;
	}
	return 0;
}

/* The processes of a container: its cgroup's, or its PID 1 alone. */
static int state_pids(const struct state *st, pid_t **out, size_t *n)
{
	const char *group = st->v2 ? st->v2 : st->freezer ? st->freezer :
	    st->nv1 ? st->v1[0] : NULL;
	char path[PATH_MAX + 16], *text, *p, *save;
	long long pid;

	*n = 0;
	if (!(*out = malloc(sizeof **out)))
		return err_set("out of memory");
	if (!group || pathf(path, sizeof path, "%s/cgroup.procs", group) < 0 ||
	    !(text = read_file(path, 1 << 22, NULL))) {
		if (proc_alive(st->pid, st->start_time))
			(*out)[(*n)++] = st->pid;
		return 0;
	}
	for (p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		pid_t *grown;

		if (parse_ll(p, 1, INT_MAX, &pid) < 0)
			continue;
		if (!(grown = realloc(*out, (*n + 1) * sizeof **out)))
			return free(text), err_set("out of memory");
		*out = grown;
		(*out)[(*n)++] = (pid_t)pid;
	}
	free(text);
	return 0;
}

/* Signals the container's PID 1, through a pidfd when the kernel has
 * them, after checking it is still the process that was started. */
static int state_signal(const struct state *st, int sig)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);

	if (fd >= 0) {
		int rc = 0;

		if (!proc_alive(st->pid, st->start_time))
			rc = err_set("container \"%s\" is not running", st->id);
		else if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
			rc = err_sys("signal %d to %d", sig, (int)st->pid);
		close(fd);
		return rc;
	}
#endif
	if (!proc_alive(st->pid, st->start_time))
		return err_set("container \"%s\" is not running", st->id);
	return kill(st->pid, sig) < 0 ? err_sys("signal %d to %d", sig, (int)st->pid) : 0;
}

static int state_signal_all(const struct state *st, int sig)
{
	pid_t *pids;
	size_t n, i;

	if (state_pids(st, &pids, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		kill(pids[i], sig);
	free(pids);
	return 0;
}

/* Waits (a while) for PID 1 to be gone after a kill. */
static void state_wait_gone(const struct state *st, int ms)
{
	while (ms > 0 && proc_alive(st->pid, st->start_time)) {
		sleep_ms(5);
		ms -= 5;
	}
}

/* Removes a stopped container: cgroups, poststop hooks, state. */
static int state_delete(struct state *st)
{
	struct sb_config *c = state_config(st);
	struct buf b = {0};
	struct cg cg;
	int rc = 0;

	if (cg_from_state(&cg, st) == 0) {
		rc = cg_destroy(&cg);
		cg_free(&cg);
	}
	if (c) {
		state_json(&b, st, "stopped");
		if (!b.oom)
			hooks_run_warn(c, SB_HOOK_POSTSTOP, b.p);
		buf_free(&b);
		sb_config_free(c);
	}
	if (state_storage(st) && storage_remove(state_storage(st)) < 0)
		rc = -1;
	state_remove(st->dir);
	return rc;
}

static int freeze(const char *group, int on)
{
	char path[PATH_MAX + 32], *v;
	int v2, i;

	if (!group)
		return err_set("no freezer cgroup on this host");
	if (pathf(path, sizeof path, "%s/cgroup.freeze", group) < 0)
		return -1;
	v2 = access(path, F_OK) == 0;
	if (!v2 && pathf(path, sizeof path, "%s/freezer.state", group) < 0)
		return -1;
	if (write_file(path, v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED")) < 0)
		return -1;
	/* freezing completes asynchronously: wait until it has */
	if (v2 && pathf(path, sizeof path, "%s/cgroup.events", group) < 0)
		return -1;
	for (i = 0; i < 2000; i++) {
		int done;

		if (!(v = read_file(path, 4096, NULL)))
			return -1;
		done = v2 ? strstr(v, on ? "frozen 1" : "frozen 0") != NULL :
		    !strncmp(v, on ? "FROZEN" : "THAWED", 6);
		free(v);
		if (done)
			return 0;
		if (!v2 && on && i % 10 == 9)
			write_file(path, "FROZEN"); /* v1 may need asking again */
		sleep_ms(1);
	}
	return err_set("%s: the freezer did not finish", group);
}

/* ============================================================= cli === */

/* Commands and options as runc and crun take them: options before the
 * positional arguments, "--name value", "--name=value" and the single-dash
 * "-name" that urfave/cli accepts. Runtime errors go to stderr and, with
 * --log, to that file too (JSON lines with --log-format json), where
 * containerd and podman read them. */

struct opt {
	const char *name;   /* long name */
	char letter;        /* short form, or 0 */
	const char **val;   /* takes a value; or NULL for a flag */
	int *flag;
	const char **list;  /* repeatable value: a NULL-terminated list */
};

static const char *prog_cmd = "sandbox";
static const char *cli_root;    /* --root */
static const char *cli_log;     /* --log */
static int cli_log_json;
static int cli_systemd;

static void log_line(const char *level, const char *msg)
{
	char when[48];
	struct buf b = {0};
	int fd;

	if (!cli_log)
		return;
	rfc3339_now(when, sizeof when);
	if (cli_log_json) {
		buf_puts(&b, "{\"level\":");
		json_put_str(&b, level);
		buf_puts(&b, ",\"msg\":");
		json_put_str(&b, msg);
		buf_puts(&b, ",\"time\":");
		json_put_str(&b, when);
		buf_puts(&b, "}\n");
	} else {
		buf_printf(&b, "time=\"%s\" level=%s msg=\"%s\"\n", when, level, msg);
	}
	if (!b.oom && (fd = open(cli_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
		write_all(fd, b.p, b.len);
		close(fd);
	}
	buf_free(&b);
}

/* Prints "sandbox: CMD ID: message" and logs it; returns 1. */
static int fail(const char *what)
{
	char msg[sizeof err_buf + 300];

	strf(msg, sizeof msg, "%s%s%s: %s", prog_cmd, what ? " " : "", what ? what : "",
	    sb_error());
	say(2, "sandbox: %s\n", msg);
	log_line("error", msg);
	return 1;
}

static int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vstrf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(2, "sandbox: %s: %s (see sandbox --help)\n", prog_cmd, msg);
	log_line("error", msg);
	return -1;
}

static const struct opt *opt_find(const struct opt *o, const char *name, size_t n)
{
	for (; o->name; o++)
		if ((strlen(o->name) == n && !strncmp(o->name, name, n)) ||
		    (n == 1 && o->letter == name[0]))
			return o;
	return NULL;
}

static int opt_add(const char **list, const char *v)
{
	int i;

	for (i = 0; list[i]; i++)
		;
	if (i >= 63)
		return usage_error("too many values");
	list[i] = v;
	list[i + 1] = NULL;
	return 0;
}

/* Parses options from argv[*i] on; stops at the first other argument or
 * after "--". */
static int opts_parse(int argc, char **argv, int *i, const struct opt *opts)
{
	const struct opt *o;
	const char *a, *eq, *v;
	size_t n;

	for (; *i < argc; (*i)++) {
		a = argv[*i];
		if (a[0] != '-' || !a[1])
			return 0;
		if (!strcmp(a, "--")) {
			(*i)++;
			return 0;
		}
		a += a[1] == '-' ? 2 : 1;
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a) : strlen(a);
		if (!(o = opt_find(opts, a, n)))
			return usage_error("unknown option %s", argv[*i]);
		if (o->flag) {
			if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false"))
				return usage_error("option %s takes no value", argv[*i]);
			*o->flag = !eq || !strcmp(eq + 1, "true");
			continue;
		}
		if (eq)
			v = eq + 1;
		else if (*i + 1 < argc)
			v = argv[++*i];
		else
			return usage_error("option %s needs a value", argv[*i]);
		if (o->list) {
			if (opt_add(o->list, v) < 0)
				return -1;
		} else {
			*o->val = v;
		}
	}
	return 0;
}

/* One positional id, nothing after it. */
static const char *cli_id(int argc, char **argv, int i, int extra_ok)
{
	if (i >= argc) {
		usage_error("missing container id");
		return NULL;
	}
	if (!extra_ok && i + 1 < argc) {
		usage_error("unexpected argument %s", argv[i + 1]);
		return NULL;
	}
	return argv[i];
}

static const char default_spec[] =
"{\n"
"\t\"ociVersion\": \"" SB_OCI_VERSION "\",\n"
"\t\"process\": {\n"
"\t\t\"terminal\": true,\n"
"\t\t\"user\": { \"uid\": 0, \"gid\": 0 },\n"
"\t\t\"args\": [ \"sh\" ],\n"
"\t\t\"env\": [\n"
"\t\t\t\"PATH=" SB_DEFAULT_PATH "\",\n"
"\t\t\t\"TERM=xterm\"\n"
"\t\t],\n"
"\t\t\"cwd\": \"/\",\n"
"\t\t\"capabilities\": {\n"
"\t\t\t\"bounding\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
"\t\t\t\"effective\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
"\t\t\t\"permitted\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ]\n"
"\t\t},\n"
"\t\t\"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"
"\t\t\"noNewPrivileges\": true\n"
"\t},\n"
"\t\"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
"\t\"hostname\": \"sandbox\",\n"
"\t\"mounts\": [\n"
"\t\t{ \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
"\t\t{ \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
"\t\t  \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"
"\t\t{ \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\" ] },\n"
"\t\t{ \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"
"\t\t{ \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] },\n"
"\t\t{ \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] },\n"
"\t\t{ \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n"
"\t],\n"
"\t\"linux\": {\n"
"\t\t\"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n"
"\t\t\"namespaces\": [\n"
"\t\t\t{ \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" },\n"
"\t\t\t{ \"type\": \"uts\" }, { \"type\": \"mount\" }, { \"type\": \"cgroup\" }\n"
"\t\t],\n"
"\t\t\"maskedPaths\": [\n"
"\t\t\t\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"
"\t\t\t\"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\",\n"
"\t\t\t\"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"\n"
"\t\t],\n"
"\t\t\"readonlyPaths\": [\n"
"\t\t\t\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"\n"
"\t\t]\n"
"\t}\n"
"}\n";

static int cmd_spec(int argc, char **argv, int i)
{
	const char *bundle = ".";
	int rootless = 0;
	struct opt opts[] = {
		{ "bundle", 'b', &bundle, NULL, NULL },
		{ "rootless", 0, NULL, &rootless, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	char path[PATH_MAX];
	int fd;

	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (i < argc)
		return usage_error("unexpected argument %s", argv[i]), 1;
	if (rootless)
		return err_set("--rootless: rootless containers are not supported by sandbox"), fail(NULL);
	if (pathf(path, sizeof path, "%s/config.json", bundle) < 0)
		return fail(NULL);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return err_set("create %s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (remove it first)" : ""), fail(NULL);
	if (write_all(fd, default_spec, sizeof default_spec - 1) < 0 || close(fd) < 0)
		return err_sys("write %s", path), fail(NULL);
	return 0;
}

/* ------------------------------------------------------ image verbs --- */

static const char *cli_store; /* --store */

/* What `run --image` takes, Docker's flags with Docker's meanings. */
struct image_opts {
	const char *image, *workdir, *user, *entrypoint, *memory, *cpus, *pids;
	const char *hostname, *network;
	const char *env[64], *vol[64], *tmpfs[64], *cap_add[64], *cap_drop[64];
	int read_only, rm, tty;
};

#if SB_WITH_IMAGES

static int cmd_load(int argc, char **argv, int i)
{
	const char *name = NULL, *platform = NULL;
	struct opt opts[] = {
		{ "name", 'n', &name, NULL, NULL },
		{ "platform", 0, &platform, NULL, NULL },
		{ "input", 'i', NULL, NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct store st;
	struct images im;
	struct src src;
	struct load ld;
	const char *path;
	int rc;

	opts[2].val = &path;
	path = NULL;
	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (!path && !(path = i < argc ? argv[i++] : NULL))
		return usage_error("missing the archive or layout to load"), 1;
	if (i < argc)
		return usage_error("unexpected argument %s", argv[i]), 1;
	if (platform && plat_set(platform) < 0)
		return fail(path);
	if (store_open(&st, cli_store, 1) < 0)
		return fail(path);
	if (images_load(&st, &im) < 0 || src_open(&src, path) < 0) {
		images_free(&im);
		store_close(&st);
		return fail(path);
	}
	memset(&ld, 0, sizeof ld);
	ld.st = &st;
	ld.src = &src;
	ld.im = &im;
	ld.rename = name;
	dbg("sha256: %s", sha_backend_name());
	if (src_has(&src, "index.json"))
		rc = load_layout(&ld);
	else if (src_has(&src, "manifest.json"))
		rc = load_docker(&ld);
	else
		rc = err_set("%s: neither an OCI layout (index.json) nor a docker save archive (manifest.json)",
		    path);
	if (rc == 0)
		rc = images_save(&st, &im);
	src_close(&src);
	images_free(&im);
	store_close(&st);
	return rc < 0 ? fail(path) : 0;
}

/* --insecure-registry HOST[:PORT]: the registry the reference names is
 * that one (a HOST alone stands for any of its ports). */
static int insecure_match(const char *const *list, const char *reference)
{
	struct ref r;
	size_t n;

	if (ref_parse(&r, reference) < 0)
		return 0;
	for (; *list; list++) {
		n = strlen(*list);
		if (!strcmp(*list, r.domain) || (!strchr(*list, ':') && !strncmp(*list, r.domain, n) &&
		    r.domain[n] == ':'))
			return 1;
	}
	return 0;
}

/* Credentials: --authfile, else Docker's (DOCKER_CONFIG, ~/.docker). */
static const char *auth_file_default(char *buf, size_t n)
{
	const char *d = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (d && *d && pathf(buf, n, "%s/config.json", d) == 0 && access(buf, R_OK) == 0)
		return buf;
	if (home && pathf(buf, n, "%s/.docker/config.json", home) == 0 && access(buf, R_OK) == 0)
		return buf;
	return NULL;
}

static int cmd_pull(int argc, char **argv, int i)
{
	const char *platform = NULL, *authfile = NULL, *creds = NULL, *ca[64] = { NULL };
	const char *insecure[64] = { NULL }, *timeout = NULL;
	char afile[PATH_MAX], user[256], name[REF_STR_MAX];
	long long secs;
	struct opt opts[] = {
		{ "quiet", 'q', NULL, NULL, NULL },
		{ "platform", 0, &platform, NULL, NULL },
		{ "ca", 0, NULL, NULL, ca },
		{ "insecure-registry", 0, NULL, NULL, insecure },
		{ "authfile", 0, &authfile, NULL, NULL },
		{ "creds", 0, &creds, NULL, NULL },
		{ "timeout", 0, &timeout, NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct pull_opts po;
	struct store st;
	struct images im;
	const char *ref;
	int rc;

	memset(&po, 0, sizeof po);
	opts[0].flag = &po.quiet;
	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (i != argc - 1)
		return usage_error(i < argc ? "unexpected argument %s" : "missing the image to pull",
		    argv[i + (i < argc)]), 1;
	ref = argv[i];
	if (timeout && parse_ll(timeout, 1, 3600, &secs) < 0)
		return usage_error("--timeout %s: seconds, 1 to 3600", timeout), 1;
	po.reg.timeout_ms = timeout ? (int)secs * 1000 : 0;
	po.reg.platform = platform;
	po.reg.extra_ca = ca;
	po.reg.insecure = insecure_match(insecure, ref);
	if (creds) {
		size_t n = strcspn(creds, ":");

		if (n >= sizeof user)
			return usage_error("--creds: user name too long"), 1;
		memcpy(user, creds, n);
		user[n] = 0;
		po.reg.user = user;
		po.reg.password = creds[n] ? creds + n + 1 : "";
	} else {
		po.reg.auth_file = authfile ? authfile : auth_file_default(afile, sizeof afile);
	}
	if ((platform && plat_set(platform) < 0) || store_open(&st, cli_store, 1) < 0)
		return fail(ref);
	if (images_load(&st, &im) < 0) {
		store_close(&st);
		return fail(ref);
	}
	rc = pull_image(&st, &im, ref, &po, name, sizeof name);
	if (rc == 0)
		rc = images_save(&st, &im);
	images_free(&im);
	store_close(&st);
	if (rc < 0)
		return fail(ref);
	say(1, "%s\n", name);
	return 0;
}

static int cmd_images(int argc, char **argv, int i)
{
	const char *format = "table";
	int quiet = 0;
	struct opt opts[] = {
		{ "quiet", 'q', NULL, &quiet, NULL },
		{ "format", 0, &format, NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct store st;
	struct images im;
	struct buf b = {0};
	char size[32], repo[REF_STR_MAX];
	size_t k;

	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (i < argc)
		return usage_error("unexpected argument %s", argv[i]), 1;
	if (store_open(&st, cli_store, 0) < 0 || images_load(&st, &im) < 0)
		return store_close(&st), fail(NULL);
	if (!strcmp(format, "json"))
		buf_puts(&b, "[");
	else if (!quiet)
		buf_printf(&b, "%-40s %-16s %-14s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID",
		    "CREATED", "SIZE");
	for (k = 0; k < im.n; k++) {
		const struct image *img = &im.v[k];
		const char *tag = "<none>", *colon;

		strf(repo, sizeof repo, "%s", img->name ? name_familiar(img->name) : "<none>");
		if (img->name && (colon = strrchr(repo, ':')) && !strchr(colon, '/'))
			repo[colon - repo] = 0, tag = img->name + (strlen(img->name) - strlen(colon + 1));
		if (!strcmp(format, "json")) {
			buf_puts(&b, k ? ",{\"name\":" : "{\"name\":");
			json_put_str(&b, img->name ? img->name : "");
			buf_printf(&b, ",\"id\":\"%s\",\"created\":", img->id);
			json_put_str(&b, img->created ? img->created : "");
			buf_printf(&b, ",\"size\":%llu}", (unsigned long long)image_size(img));
		} else if (quiet) {
			buf_printf(&b, "%.12s\n", img->id + 7);
		} else {
			buf_printf(&b, "%-40s %-16s %-14.12s %-22.19s %s\n", repo, tag, img->id + 7,
			    img->created ? img->created : "", human_size(image_size(img), size, sizeof size));
		}
	}
	if (!strcmp(format, "json"))
		buf_puts(&b, "]\n");
	images_free(&im);
	store_close(&st);
	if (b.oom)
		return err_set("out of memory"), fail(NULL);
	if (b.len)
		write_all(1, b.p, b.len);
	buf_free(&b);
	return 0;
}

/* The image-based containers that stand on an image. */
static int image_users(struct store *s, const char *id, char *first, size_t n)
{
	struct dirent *e;
	char path[NAME_MAX + 16], *v;
	int fd, users = 0;
	DIR *d;

	if ((fd = openat(s->fd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd)))
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		strf(path, sizeof path, "%s/image", e->d_name);
		if ((v = read_file_at(dirfd(d), path, 128, NULL))) {
			if (!strncmp(v, id, 71) && !users++)
				strf(first, n, "%s", e->d_name);
			free(v);
		}
	}
	closedir(d);
	return users;
}

static int cmd_rmi(int argc, char **argv, int i)
{
	int force = 0, rc = 0, by_id;
	struct opt opts[] = {
		{ "force", 'f', NULL, &force, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct store st;
	struct images im;
	struct image *img;
	char id[72], user[NAME_MAX + 1], full[REF_STR_MAX];
	size_t k, j;

	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (i >= argc)
		return usage_error("missing the image to remove"), 1;
	if (store_open(&st, cli_store, 1) < 0 || images_load(&st, &im) < 0)
		return store_close(&st), fail(NULL);
	for (; i < argc && rc == 0; i++) {
		if (!(img = images_find(&im, argv[i]))) {
			rc = -1;
			break;
		}
		strcpy(id, img->id);
		{
			struct ref r;

			/* by name when it names the image, else by id */
			by_id = !(img->name && ref_parse(&r, argv[i]) == 0 &&
			    ref_format(&r, full, sizeof full) == 0 && !strcmp(img->name, full));
		}
		/* by id: every name goes; by name: that name, the image with
		 * its last one */
		for (k = j = 0; k < im.n; k++) {
			int drop = by_id ? !strcmp(im.v[k].id, id) : &im.v[k] == img;

			if (!drop)
				im.v[j++] = im.v[k];
		}
		im.n = j;
		for (k = 0; k < im.n && strcmp(im.v[k].id, id); k++)
			;
		if (k == im.n && image_users(&st, id, user, sizeof user) && !force)
			rc = err_set("image %s: container \"%s\" uses it (delete it first, or --force)",
			    argv[i], user);
		else
			say(1, "%s: %s\n", k == im.n ? "Deleted" : "Untagged", argv[i]);
	}
	if (rc == 0 && (images_save(&st, &im) < 0 || store_gc(&st, &im) < 0))
		rc = -1;
	images_free(&im);
	store_close(&st);
	return rc < 0 ? fail(argv[i - 1]) : 0;
}

static int cmd_inspect(int argc, char **argv, int i)
{
	struct store st;
	struct images im;
	struct arena a = {0};
	struct buf b = {0};
	const struct json *cfg;
	const struct image *img;
	size_t k, n = 0;

	if (i != argc - 1)
		return usage_error(i < argc ? "too many arguments" : "missing the image"), 1;
	if (store_open(&st, cli_store, 0) < 0 || images_load(&st, &im) < 0)
		return store_close(&st), fail(argv[i]);
	if (!(img = images_find(&im, argv[i])) || !(cfg = image_config(&st, img, &a))) {
		images_free(&im);
		store_close(&st);
		arena_free(&a);
		return fail(argv[i]);
	}
	buf_printf(&b, "{\"id\":\"%s\",\"names\":[", img->id);
	for (k = 0; k < im.n; k++)
		if (!strcmp(im.v[k].id, img->id) && im.v[k].name) {
			buf_puts(&b, n++ ? "," : "");
			json_put_str(&b, im.v[k].name);
		}
	buf_printf(&b, "],\"manifest\":\"%s\",\"created\":", img->manifest);
	json_put_str(&b, jstr(cfg, "created") ? jstr(cfg, "created") : "");
	buf_puts(&b, ",\"os\":");
	json_put_str(&b, jstr(cfg, "os") ? jstr(cfg, "os") : "");
	buf_puts(&b, ",\"architecture\":");
	json_put_str(&b, jstr(cfg, "architecture") ? jstr(cfg, "architecture") : "");
	buf_puts(&b, ",\"config\":");
	if (json_get(cfg, "config"))
		json_write(&b, json_get(cfg, "config"));
	else
		buf_puts(&b, "{}");
	buf_puts(&b, ",\"layers\":[");
	for (k = 0; k < img->nlayers; k++)
		buf_printf(&b, "%s{\"diff_id\":\"%s\",\"chain_id\":\"%s\",\"size\":%llu}", k ? "," : "",
		    img->layers[k].diff, img->layers[k].chain, (unsigned long long)img->layers[k].size);
	buf_printf(&b, "],\"size\":%llu}\n", (unsigned long long)image_size(img));
	images_free(&im);
	store_close(&st);
	arena_free(&a);
	if (b.oom)
		return err_set("out of memory"), fail(argv[i]);
	write_all(1, b.p, b.len);
	buf_free(&b);
	return 0;
}

static int feed_tar(void *ctx, const void *p, size_t n)
{
	return tar_x_feed(ctx, p, n);
}

/* Applies the image's layers in order onto dirfd: whiteouts delete. */
static int image_flatten(struct store *s, const struct image *img, int dirfd)
{
	struct tar_w_opts wo = { TAR_W_OVERLAY, feed_tar, NULL, NULL };
	char path[128];
	size_t k;
	int fd, rc = 0;

	for (k = 0; k < img->nlayers && rc == 0; k++) {
		strf(path, sizeof path, "layers/%s/diff", digest_hex(img->layers[k].chain));
		if ((fd = openat(s->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return err_sys("store: layer %s", img->layers[k].chain);
		if (!(wo.ctx = tar_x_new(dirfd, TAR_APPLY | TAR_OWNERS)))
			return close(fd), -1;
		rc = tar_write(fd, &wo) < 0 || tar_x_end(wo.ctx) < 0 ? -1 : 0;
		tar_x_free(wo.ctx);
		close(fd);
		if (rc < 0)
			err_ctx("layer %zu", k + 1);
	}
	return rc;
}

/* Overlayfs is given at most SB_OVL_MAX_LOWER lower layers, the init
 * layer one of them: an image with more has its bottom layers squashed
 * into layers/CHAIN/flat of the last of them (made once, shared by every
 * image with that bottom, removed with that layer). How many are squashed: */
static size_t ovl_squashed(const struct image *img)
{
	return img->nlayers + 1 > SB_OVL_MAX_LOWER ? img->nlayers + 2 - SB_OVL_MAX_LOWER : 0;
}

/* The flat directory of the image's k bottom layers, and its short name. */
static int store_flat(struct store *s, const struct image *img, size_t k)
{
	const char *chain = digest_hex(img->layers[k - 1].chain);
	char dst[128], tmp[PATH_MAX], link[64], target[100];
	struct image bottom = *img;
	int fd, rc;

	strf(dst, sizeof dst, "layers/%s/flat", chain);
	if (faccessat(s->fd, dst, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		dbg("store: squashing the %zu bottom layers of %s into %s", k, img->id, dst);
		if (store_tmpdir(s, "flat", tmp, sizeof tmp) < 0)
			return -1;
		if ((fd = openat(s->fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rm_tree_at(s->fd, tmp, 0);
			return err_sys("store: %s", tmp);
		}
		bottom.nlayers = k;
		rc = fchmod(fd, 0755) < 0 ? err_sys("store: %s", tmp) : image_flatten(s, &bottom, fd);
		close(fd);
		if (rc < 0 || store_install(s, tmp, dst) < 0) {
			rm_tree_at(s->fd, tmp, 0);
			return err_ctx("squash the bottom %zu layers of %s", k, img->id);
		}
	}
	strf(link, sizeof link, "layers/l/%.16sf", chain);
	strf(target, sizeof target, "../%s/flat", chain);
	if (symlinkat(target, s->fd, link) < 0 && errno != EEXIST)
		return err_sys("store: %s", link);
	return 0;
}

static int cmd_unpack(int argc, char **argv, int i)
{
	struct store st;
	struct images im;
	const struct image *img;
	int fd, rc;

	if (i != argc - 2)
		return usage_error("usage: unpack IMAGE DIR"), 1;
	if (store_open(&st, cli_store, 0) < 0 || images_load(&st, &im) < 0)
		return store_close(&st), fail(argv[i]);
	rc = -1;
	if ((img = images_find(&im, argv[i]))) {
		if (mkdir(argv[i + 1], 0755) < 0 && errno != EEXIST)
			err_sys("%s", argv[i + 1]);
		else if ((fd = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			err_sys("%s", argv[i + 1]);
		else
			rc = image_flatten(&st, img, fd), close(fd);
	}
	images_free(&im);
	store_close(&st);
	return rc < 0 ? fail(argv[i]) : 0;
}

static int feed_fd(void *ctx, const void *p, size_t n)
{
	return write_all(*(int *)ctx, p, n) < 0 ? err_sys("write") : 0;
}

/* Keeps out of a layer what the init layer holds, as Docker leaves its
 * bind-mounted /etc/hosts, /etc/hostname and /etc/resolv.conf out. */
static int skip_init_files(void *ctx, const char *path, const struct stat *st)
{
	(void)ctx;
	(void)st;
	while (*path == '/' || (*path == '.' && path[1] == '/'))
		path += path[0] == '.' ? 2 : 1;
	return strcmp(path, "etc/hosts") && strcmp(path, "etc/hostname") &&
	    strcmp(path, "etc/resolv.conf");
}

static int dir_opaque(int layer, const char *dir, char *v, size_t n)
{
	int fd = openat(layer, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r;

	if (fd < 0)
		return 0;
	r = fgetxattr(fd, TAR_OPAQUE_XATTR, v, n) > 0 && v[0] == 'y';
	close(fd);
	return r;
}

/* A file as the image's layers show it, top layer first: a whiteout of
 * it or of its directory, or an opaque directory, ends the search. */
static char *image_file(struct store *s, const struct image *img, const char *path, size_t max)
{
	char dir[128], parent[PATH_MAX], opq[4];
	struct stat st;
	size_t k = img->nlayers;
	int fd, stop = 0;
	char *text = NULL;

	strf(parent, sizeof parent, "%.*s", (int)(strrchr(path, '/') - path), path);
	while (k-- > 0 && !text && !stop) {
		strf(dir, sizeof dir, "layers/%s/diff", digest_hex(img->layers[k].chain));
		if ((fd = openat(s->fd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		if (fstatat(fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
			stop = 1, text = S_ISREG(st.st_mode) ? read_file_at(fd, path, max, NULL) : NULL;
		else if ((fstatat(fd, parent, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)))
			stop = 1;
		else if (dir_opaque(fd, parent, opq, sizeof opq))
			stop = 1;
		close(fd);
	}
	return text;
}

/* A line of /etc/passwd or /etc/group whose field 0 (name) or 2 (id)
 * is want; its fields in f. */
static int id_lookup(char *text, const char *want, int by_id, char *f[4])
{
	char *line, *save, *save2;
	int k;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		for (k = 0; k < 4; k++)
			f[k] = strtok_r(k ? NULL : line, ":", &save2);
		if (f[0] && f[2] && !strcmp(by_id ? f[2] : f[0], want))
			return 0;
	}
	return -1;
}

/* Docker's user forms: NAME, UID, NAME:GROUP, UID:GID (and mixed), read
 * through the image's /etc/passwd and /etc/group; a named user also gets
 * the groups that list it. */
static int image_user(struct store *s, const struct image *img, const char *spec, struct buf *out)
{
	char user[256], *group, *pw = NULL, *gr = NULL, *f[4], *copy;
	long long uid = 0, gid = 0, v;
	int named, rc = -1, n = 0;

	strf(user, sizeof user, "%s", spec && *spec ? spec : "0");
	if ((group = strchr(user, ':')))
		*group++ = 0;
	named = parse_ll(user, 0, UINT32_MAX, &v) < 0;
	if (!named)
		uid = v;
	pw = image_file(s, img, "etc/passwd", 1 << 20);
	if ((copy = pw ? strdup(pw) : NULL) && id_lookup(copy, user, !named, f) == 0) {
		uid = (long long)dec(f[2], NULL);
		gid = f[3] ? (long long)dec(f[3], NULL) : 0;
	} else if (named) {
		err_set("user \"%s\": not in the image's /etc/passwd", user);
		goto out;
	}
	free(copy);
	copy = NULL;
	gr = image_file(s, img, "etc/group", 1 << 20);
	if (group && parse_ll(group, 0, UINT32_MAX, &v) == 0) {
		gid = v;
	} else if (group) {
		if (!(copy = gr ? strdup(gr) : NULL) || id_lookup(copy, group, 0, f) < 0) {
			err_set("group \"%s\": not in the image's /etc/group", group);
			goto out;
		}
		gid = (long long)dec(f[2], NULL);
		free(copy);
		copy = NULL;
	}
	buf_printf(out, "\"user\":{\"uid\":%lld,\"gid\":%lld,\"additionalGids\":[", uid, gid);
	if (named && gr) {
		char *line, *save;

		for (line = strtok_r(gr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *g[4], *m, *save2;
			int k;

			for (k = 0; k < 4; k++)
				g[k] = strtok_r(k ? NULL : line, ":", &save2);
			for (m = g[3] ? strtok_r(g[3], ",", &save2) : NULL; m; m = strtok_r(NULL, ",", &save2))
				if (g[2] && !strcmp(m, user))
					buf_printf(out, "%s%llu", n++ ? "," : "", dec(g[2], NULL));
		}
	}
	buf_puts(out, "]}");
	rc = 0;
out:
	free(copy);
	free(pw);
	free(gr);
	return rc;
}

/* Docker's defaults for a container it runs from an image. */
static const char *const docker_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

/* Docker's order: ALL in --cap-drop empties the set, ALL in --cap-add
 * fills it, then the other drops, then the other adds. */
static int caps_json(struct buf *b, const struct image_opts *io)
{
	uint64_t set = 0, all = ~0ull >> (64 - LEN(cap_names));
	const char *const *lists[2] = { io->cap_drop, io->cap_add };
	size_t k, pass;
	int c, n = 0;

	for (k = 0; k < LEN(docker_caps); k++)
		set |= 1ull << cap_from_name(docker_caps[k]);
	for (k = 0; io->cap_drop[k]; k++)
		if (!strcasecmp(io->cap_drop[k], "ALL"))
			set = 0;
	for (k = 0; io->cap_add[k]; k++)
		if (!strcasecmp(io->cap_add[k], "ALL"))
			set = all;
	for (pass = 0; pass < 2; pass++)
		for (k = 0; lists[pass][k]; k++) {
			const char *v = lists[pass][k];
			char name[64];

			if (!strcasecmp(v, "ALL"))
				continue;
			strf(name, sizeof name, "%s%s", strncasecmp(v, "CAP_", 4) ? "CAP_" : "", v);
			for (c = 0; name[c]; c++)
				name[c] = (char)toupper((unsigned char)name[c]);
			if ((c = cap_from_name(name)) < 0)
				return err_set("--cap-%s %s: unknown capability", pass ? "add" : "drop", v);
			set = pass ? set | 1ull << c : set & ~(1ull << c);
		}
	buf_puts(b, "[");
	for (k = 0; k < LEN(cap_names); k++)
		if (set & (1ull << k))
			buf_printf(b, "%s\"%s\"", n++ ? "," : "", cap_names[k]);
	buf_puts(b, "]");
	return 0;
}

/* --cpus 1.5: a quota per 100 ms period, in integers. */
static int cpus_quota(const char *s, long long *quota)
{
	const char *end;
	unsigned long long whole = dec(s, &end), frac = 0, scale = 100000;

	if (end == s && *end != '.')
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9' && scale > 1; end++)
			scale /= 10, frac += (unsigned long long)(*end - '0') * scale;
	if (*end || whole > 1024)
		return -1;
	*quota = (long long)(whole * 100000 + frac);
	return *quota >= 1000 ? 0 : -1;
}

/* Whether env (KEY=...) sets key. */
static int env_has(const char *const *env, size_t n, const char *kv)
{
	size_t k, len = strcspn(kv, "=");

	for (k = 0; k < n; k++)
		if (!strncmp(env[k], kv, len) && env[k][len] == '=')
			return 1;
	return 0;
}

/* The container's config.json from the image and the flags. */
static int image_spec(struct store *s, const struct image *img, const struct image_opts *io,
    const char *id, char **cmd, const char *storage, struct buf *b)
{
	struct arena a = {0};
	const struct json *cfg, *cc, *ep, *cm, *e;
	const char *env[256];
	size_t nenv = 0, k, nargs = 0, squashed;
	const char *hostname = io->hostname ? io->hostname : id;
	long long v;
	int rc = -1;

	if (!(cfg = image_config(s, img, &a)))
		return -1;
	cc = json_get(cfg, "config");
	ep = json_get(cc, "Entrypoint");
	cm = json_get(cc, "Cmd");
	buf_printf(b, "{\"ociVersion\":\"%s\",\"process\":{\"terminal\":%s,\"args\":[", SB_OCI_VERSION,
	    io->tty ? "true" : "false");
	if (io->entrypoint) {
		json_put_str(b, io->entrypoint);
		nargs++;
	} else if (ep && ep->type == JSON_ARRAY) {
		for (e = ep->child; e; e = e->next, nargs++) {
			buf_puts(b, nargs ? "," : "");
			json_write(b, e);
		}
	}
	if (*cmd) {
		for (; *cmd; cmd++, nargs++) {
			buf_puts(b, nargs ? "," : "");
			json_put_str(b, *cmd);
		}
	} else if (!io->entrypoint && cm && cm->type == JSON_ARRAY) {
		for (e = cm->child; e; e = e->next, nargs++) {
			buf_puts(b, nargs ? "," : "");
			json_write(b, e);
		}
	}
	if (!nargs) {
		err_set("image %s: no command (give one after --, or --entrypoint)", io->image);
		goto out;
	}
	buf_puts(b, "],\"env\":[");
	for (k = 0; io->env[k] && nenv < LEN(env) - 4; k++)
		env[nenv++] = io->env[k];
	if ((e = json_get(cc, "Env")) && e->type == JSON_ARRAY)
		for (e = e->child; e && nenv < LEN(env) - 4; e = e->next)
			if (e->type == JSON_STRING && !env_has(env, nenv, e->str))
				env[nenv++] = e->str;
	if (!env_has(env, nenv, "PATH="))
		env[nenv++] = "PATH=" SB_DEFAULT_PATH;
	if (io->tty && !env_has(env, nenv, "TERM="))
		env[nenv++] = "TERM=xterm";
	if (!env_has(env, nenv, "HOSTNAME=")) {
		char *h = arena_alloc(&a, strlen(hostname) + 10);

		if (!h)
			goto out;
		strf(h, strlen(hostname) + 10, "HOSTNAME=%s", hostname);
		env[nenv++] = h;
	}
	for (k = 0; k < nenv; k++) {
		buf_puts(b, k ? "," : "");
		json_put_str(b, env[k]);
	}
	buf_puts(b, "],\"cwd\":");
	json_put_str(b, io->workdir ? io->workdir : jstr(cc, "WorkingDir") && *jstr(cc, "WorkingDir") ?
	    jstr(cc, "WorkingDir") : "/");
	buf_puts(b, ",");
	if (image_user(s, img, io->user ? io->user : jstr(cc, "User"), b) < 0)
		goto out;
	buf_puts(b, ",\"capabilities\":{\"bounding\":");
	if (caps_json(b, io) < 0)
		goto out;
	buf_puts(b, ",\"effective\":");
	caps_json(b, io);
	buf_puts(b, ",\"permitted\":");
	caps_json(b, io);
	buf_puts(b, "},\"noNewPrivileges\":true},\"root\":{\"path\":");
	buf_printf(b, "\"%s/merged\",\"readonly\":%s},\"hostname\":", storage,
	    io->read_only ? "true" : "false");
	json_put_str(b, hostname);
	buf_puts(b, ",\"mounts\":["
	    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
	    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
	    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
	    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}");
	for (k = 0; io->vol[k]; k++) {
		char src[PATH_MAX], dst[PATH_MAX], mode[8] = "rw";
		const char *p = io->vol[k], *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c1 || p[0] != '/') {
			err_set("-v %s: SRC:DST[:ro] with an absolute host path is needed", p);
			goto out;
		}
		strf(src, sizeof src, "%.*s", (int)(c1 - p), p);
		strf(dst, sizeof dst, "%.*s", (int)(c2 ? c2 - c1 - 1 : (long)strlen(c1 + 1)), c1 + 1);
		if (c2)
			strf(mode, sizeof mode, "%s", c2 + 1);
		if (strcmp(mode, "ro") && strcmp(mode, "rw")) {
			err_set("-v %s: the mode is ro or rw", p);
			goto out;
		}
		buf_puts(b, ",{\"destination\":");
		json_put_str(b, dst);
		buf_puts(b, ",\"type\":\"bind\",\"source\":");
		json_put_str(b, src);
		buf_printf(b, ",\"options\":[\"rbind\",\"%s\",\"rprivate\"]}", mode);
	}
	for (k = 0; io->tmpfs[k]; k++) {
		const char *p = io->tmpfs[k], *c1 = strchr(p, ':'), *o;
		char dst[PATH_MAX];

		strf(dst, sizeof dst, "%.*s", c1 ? (int)(c1 - p) : (int)strlen(p), p);
		buf_puts(b, ",{\"destination\":");
		json_put_str(b, dst);
		buf_puts(b, ",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"nodev\"");
		for (o = c1 ? c1 + 1 : NULL; o && *o; o += strcspn(o, ",") + (o[strcspn(o, ",")] == ',')) {
			char opt[128];

			strf(opt, sizeof opt, "%.*s", (int)strcspn(o, ","), o);
			buf_puts(b, ",");
			json_put_str(b, opt);
		}
		buf_puts(b, "]}");
	}
	buf_puts(b, "],\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},"
	    "{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}");
	if (!io->network || !strcmp(io->network, "none"))
		buf_puts(b, ",{\"type\":\"network\"}");
	else if (strcmp(io->network, "host")) {
		err_set("--network %s: none or host (sandbox makes no network of its own)", io->network);
		goto out;
	}
	buf_puts(b, "],\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]");
	if (io->memory) {
		if (parse_size(io->memory, &v) < 0 || v < 4096) {
			err_set("--memory %s: not a size (bytes, or with k, m, g)", io->memory);
			goto out;
		}
		buf_printf(b, ",\"memory\":{\"limit\":%lld}", v);
	}
	if (io->cpus) {
		if (cpus_quota(io->cpus, &v) < 0) {
			err_set("--cpus %s: not a number of CPUs (0.01 and up)", io->cpus);
			goto out;
		}
		buf_printf(b, ",\"cpu\":{\"quota\":%lld,\"period\":100000}", v);
	}
	if (io->pids) {
		if (parse_ll(io->pids, -1, INT32_MAX, &v) < 0) {
			err_set("--pids-limit %s: not a number", io->pids);
			goto out;
		}
		buf_printf(b, ",\"pids\":{\"limit\":%lld}", v);
	}
	buf_puts(b, "},\"maskedPaths\":[\"/proc/asound\",\"/proc/acpi\",\"/proc/kcore\",\"/proc/keys\","
	    "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
	    "\"/proc/scsi\",\"/sys/firmware\",\"/sys/devices/virtual/powercap\"],"
	    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]},");
	buf_puts(b, "\"annotations\":{\"org.sandbox.image\":");
	json_put_str(b, img->name ? img->name : img->id);
	buf_printf(b, ",\"org.sandbox.image.id\":\"%s\",\"org.sandbox.storage\":", img->id);
	json_put_str(b, storage);
	buf_puts(b, "},\"org.sandbox.overlay\":{\"layers\":");
	buf_printf(b, "\"%s/layers\",\"lower\":[\"%s/init\"", s->root, storage);
	squashed = ovl_squashed(img);
	for (k = img->nlayers; k-- > squashed; )
		buf_printf(b, ",\"l/%.16s\"", digest_hex(img->layers[k].chain));
	if (squashed)
		buf_printf(b, ",\"l/%.16sf\"", digest_hex(img->layers[squashed - 1].chain));
	buf_printf(b, "],\"upper\":\"%s/upper\",\"work\":\"%s/work\"}}\n", storage, storage);
	rc = b->oom ? err_set("out of memory") : 0;
out:
	arena_free(&a);
	return rc;
}

/* containers/ID: upper, work, merged (the mount point), init (the init
 * layer: /etc/hosts, /etc/hostname, /etc/resolv.conf), image (its id),
 * layers (its chainIDs, for the GC). Made in tmp/, renamed into place. */
static int store_container(struct store *s, const struct image *img, const char *id,
    const char *hostname, char *storage, size_t n)
{
	static const char *const dirs[] = { "upper", "work", "merged", "init", "init/etc" };
	char tmp[PATH_MAX], path[PATH_MAX + 64], dst[NAME_MAX + 16], *resolv;
	struct buf b = {0};
	size_t k;
	int rc = -1;

	if (!valid_id(id))
		return err_set("container id \"%s\": use letters, digits and _+-. only", id);
	strf(dst, sizeof dst, "containers/%s", id);
	if (faccessat(s->fd, dst, F_OK, 0) == 0)
		return err_set("container \"%s\" already has storage in %s", id, s->root);
	if (store_tmpdir(s, "container", tmp, sizeof tmp) < 0)
		return -1;
	for (k = 0; k < LEN(dirs); k++) {
		strf(path, sizeof path, "%s/%s", tmp, dirs[k]);
		if (mkdirat(s->fd, path, 0755) < 0) {
			err_sys("store: mkdir %s", path);
			goto out;
		}
	}
	buf_printf(&b, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname);
	strf(path, sizeof path, "%s/init/etc/hosts", tmp);
	if (b.oom || store_write_file(s, path, b.p, b.len) < 0)
		goto out;
	buf_free(&b);
	buf_printf(&b, "%s\n", hostname);
	strf(path, sizeof path, "%s/init/etc/hostname", tmp);
	if (b.oom || store_write_file(s, path, b.p, b.len) < 0)
		goto out;
	buf_free(&b);
	resolv = read_file("/etc/resolv.conf", 65536, &k);
	strf(path, sizeof path, "%s/init/etc/resolv.conf", tmp);
	if (store_write_file(s, path, resolv ? resolv : "", resolv ? k : 0) < 0) {
		free(resolv);
		goto out;
	}
	free(resolv);
	strf(path, sizeof path, "%s/image", tmp);
	if (store_write_file(s, path, img->id, strlen(img->id)) < 0)
		goto out;
	for (k = 0; k < img->nlayers; k++) {
		char link[64], target[100];

		buf_printf(&b, "%s\n", img->layers[k].chain);
		/* short names are repaired here if a crash lost one */
		strf(link, sizeof link, "layers/l/%.16s", digest_hex(img->layers[k].chain));
		strf(target, sizeof target, "../%s/diff", digest_hex(img->layers[k].chain));
		if (symlinkat(target, s->fd, link) < 0 && errno != EEXIST) {
			err_sys("store: %s", link);
			goto out;
		}
	}
	if (ovl_squashed(img) && store_flat(s, img, ovl_squashed(img)) < 0)
		goto out;
	strf(path, sizeof path, "%s/layers", tmp);
	if (b.oom || store_write_file(s, path, b.p, b.len) < 0 || store_install(s, tmp, dst) < 0)
		goto out;
	if (pathf(storage, n, "%s/%s", s->root, dst) < 0)
		goto out;
	rc = 0;
out:
	buf_free(&b);
	if (rc < 0)
		rm_tree_at(s->fd, tmp, 0);
	return rc;
}

static int cmd_export(int argc, char **argv, int i)
{
	const char *out = NULL, *id, *storage;
	struct opt opts[] = {
		{ "output", 'o', &out, NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct tar_w_opts wo = { 0, feed_fd, NULL, NULL };
	struct sb_config *c = NULL;
	struct state st;
	char mnt[PATH_MAX];
	int fd = 1, dir = -1, rc = -1, mounted = 0;

	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, 0)))
		return 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	if (!out && isatty(1)) {
		err_set("refusing to write a tar archive to a terminal (use -o FILE, or a pipe)");
		goto out;
	}
	if (out && (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		err_sys("%s", out);
		goto out;
	}
	wo.ctx = &fd;
	if (!(storage = state_storage(&st))) {
		/* a bundle's container: its rootfs as it is */
		if ((dir = open(st.rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			err_sys("%s", st.rootfs);
		else
			rc = tar_write(dir, &wo);
		goto out;
	}
	/* the image's layers with the container's changes on top, read-only,
	 * in a mount namespace of our own that goes with us */
	if (!(c = state_config(&st)) || !c->overlay) {
		if (c)
			err_set("no overlay in the container's config");
		goto out;
	}
	strf(mnt, sizeof mnt, "%s/merged", storage);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		err_sys("a mount namespace for export");
		goto out;
	}
	{
		struct sb_overlay o = *c->overlay;
		const char **lower = calloc(o.nlower + 1, sizeof *lower);
		char upper[PATH_MAX];

		if (!lower)
			goto out;
		/* its upper on top of the layers, the init layer left out */
		strf(upper, sizeof upper, "%s", o.upper);
		lower[0] = upper;
		memcpy(lower + 1, o.lower + 1, (o.nlower - 1) * sizeof *lower);
		o.lower = lower;
		mounted = mnt_overlay(&o, NULL, NULL, mnt) == 0;
		free(lower);
	}
	if (!mounted || (dir = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (mounted)
			err_sys("%s", mnt);
		goto out;
	}
	rc = tar_write(dir, &wo);
out:
	if (dir >= 0)
		close(dir);
	if (fd > 1)
		close(fd);
	sb_config_free(c);
	state_free(&st);
	return rc < 0 ? fail(id) : 0;
}

/* A layer from a container's upper dir: overlay whiteouts become OCI's,
 * the init layer's files stay out; into the store as it is written. */
struct commit_ctx {
	struct sha_ctx diff;
	struct tar_x *x;
	uint64_t size;
};

static int commit_feed(void *ctx, const void *p, size_t n)
{
	struct commit_ctx *cc = ctx;

	sha_update(&cc->diff, p, n);
	cc->size += n;
	return tar_x_feed(cc->x, p, n);
}

static int commit_filter(void *ctx, const char *path, const struct stat *st)
{
	return skip_init_files(ctx, path, st);
}

/* prev: the chainID of the image's top layer. */
static int commit_layer(struct store *s, const char *upper, const uint8_t prev[32], struct layer *l)
{
	struct tar_w_opts wo = { TAR_W_OVERLAY, commit_feed, commit_filter, NULL };
	struct commit_ctx cc;
	char tmp[PATH_MAX], path[PATH_MAX + 32], dst[128], meta[120];
	uint8_t d[32];
	int up = -1, dir = -1, rc = -1;

	memset(&cc, 0, sizeof cc);
	sha_init(&cc.diff);
	wo.ctx = &cc;
	if (store_tmpdir(s, "commit", tmp, sizeof tmp) < 0)
		return -1;
	strf(path, sizeof path, "%s/diff", tmp);
	if ((up = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || mkdirat(s->fd, path, 0755) < 0 ||
	    (dir = openat(s->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_sys("commit: %s", up < 0 ? upper : path);
		goto out;
	}
	if (!(cc.x = tar_x_new(dir, TAR_OVERLAY | TAR_OWNERS)) || tar_write(up, &wo) < 0 ||
	    tar_x_end(cc.x) < 0)
		goto out;
	sha_final(&cc.diff, d);
	sha_hex(d, l->diff);
	sha_chain_step(prev, d, d);
	sha_hex(d, l->chain);
	l->size = cc.size;
	strf(meta, sizeof meta, "%s %llu\n", l->diff, (unsigned long long)cc.size);
	strf(path, sizeof path, "%s/meta", tmp);
	if (store_write_file(s, path, meta, strlen(meta)) < 0)
		goto out;
	strf(dst, sizeof dst, "layers/%s", digest_hex(l->chain));
	if (faccessat(s->fd, dst, F_OK, 0) < 0 && store_install(s, tmp, dst) < 0)
		goto out;
	strf(path, sizeof path, "layers/l/%.16s", digest_hex(l->chain));
	strf(meta, sizeof meta, "../%s/diff", digest_hex(l->chain));
	if (symlinkat(meta, s->fd, path) < 0 && errno != EEXIST)
		dbg("store: short name %s: %s", path, strerror(errno));
	rc = 0;
out:
	if (cc.x)
		tar_x_free(cc.x);
	if (up >= 0)
		close(up);
	if (dir >= 0)
		close(dir);
	rm_tree_at(s->fd, tmp, 0);
	return rc;
}

/* The image config of a commit: the old one, its rootfs and history
 * grown by the new layer. */
static int commit_config(const struct json *old, const struct image *img, const struct layer *l,
    const char *id, const char *now, struct buf *b)
{
	const struct json *e, *hist;
	size_t k;
	int n = 0;

	buf_puts(b, "{");
	for (e = old->child; e; e = e->next) {
		if (!strcmp(e->key, "rootfs") || !strcmp(e->key, "history") || !strcmp(e->key, "created"))
			continue;
		buf_puts(b, n++ ? "," : "");
		json_put_str(b, e->key);
		buf_puts(b, ":");
		json_write(b, e);
	}
	buf_printf(b, "%s\"created\":\"%s\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[", n ? "," : "", now);
	for (k = 0; k < img->nlayers; k++)
		buf_printf(b, "\"%s\",", img->layers[k].diff);
	buf_printf(b, "\"%s\"]},\"history\":[", l->diff);
	n = 0;
	if ((hist = json_get(old, "history")) && hist->type == JSON_ARRAY)
		for (e = hist->child; e; e = e->next, n++) {
			json_write(b, e);
			buf_puts(b, ",");
		}
	buf_printf(b, "{\"created\":\"%s\",\"created_by\":\"sandbox commit %s\"}]}", now, id);
	return b->oom ? err_set("out of memory") : 0;
}

static int cmd_commit(int argc, char **argv, int i)
{
	struct store s;
	struct images im;
	struct arena a = {0};
	struct state st;
	struct buf cfg = {0}, man = {0};
	struct image *img;
	struct layer *layers = NULL, l;
	const struct json *old;
	const char *id, *storage, *status;
	char upper[PATH_MAX + 8], *image_id = NULL, path[PATH_MAX + 16], cdig[72], mdig[72], full[REF_STR_MAX];
	char now[48];
	uint8_t prev[32];
	struct ref r;
	size_t k;
	int rc = -1, frozen = 0;

	if (i != argc - 2)
		return usage_error("usage: commit CONTAINER NAME[:TAG]"), 1;
	id = argv[i];
	if (ref_parse(&r, argv[i + 1]) < 0 || ref_format(&r, full, sizeof full) < 0 || r.digest[0])
		return fail(argv[i + 1]);
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	memset(&im, 0, sizeof im);
	s.fd = s.lock = -1;
	if (!(storage = state_storage(&st))) {
		err_set("not a container made from an image (sandbox run --image)");
		goto out;
	}
	strf(path, sizeof path, "%s/image", storage);
	strf(upper, sizeof upper, "%s/upper", storage);
	if (!(image_id = read_file(path, 128, NULL)) || store_open(&s, NULL, 1) < 0 ||
	    images_load(&s, &im) < 0)
		goto out;
	if (strncmp(s.root, storage, strlen(s.root))) {
		store_close(&s);
		strf(path, sizeof path, "%.*s", (int)(strstr(storage, "/containers/") - storage), storage);
		if (store_open(&s, path, 1) < 0 || (images_free(&im), images_load(&s, &im)) < 0)
			goto out;
	}
	if (!(img = images_find(&im, image_id)) || !(old = image_config(&s, img, &a)))
		goto out;
	/* a running container is paused meanwhile, as Docker does */
	status = state_status(&st);
	if (!strcmp(status, "running") && freeze(st.freezer, 1) == 0)
		frozen = 1;
	memset(&l, 0, sizeof l);
	if (sha_parse(img->layers[img->nlayers - 1].chain, 71, prev) < 0 ||
	    commit_layer(&s, upper, prev, &l) < 0)
		goto out;
	rfc3339_now(now, sizeof now);
	if (commit_config(old, img, &l, id, now, &cfg) < 0 || store_put_blob(&s, cfg.p, cfg.len, cdig) < 0)
		goto out;
	if (!(layers = calloc(img->nlayers + 2, sizeof *layers)))
		goto out;
	memcpy(layers, img->layers, img->nlayers * sizeof *layers);
	layers[img->nlayers] = l;
	buf_printf(&man, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
	    "\"size\":%zu},\"layers\":[", cdig, cfg.len);
	for (k = 0; k <= img->nlayers; k++)
		buf_printf(&man, "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
		    "\"digest\":\"%s\",\"size\":%llu}", k ? "," : "", layers[k].diff,
		    (unsigned long long)layers[k].size);
	buf_puts(&man, "]}");
	if (man.oom || store_put_blob(&s, man.p, man.len, mdig) < 0)
		goto out;
	{
		struct load ld = { &s, NULL, &im, NULL, 0 };

		if (load_record(&ld, full, cdig, mdig, now, layers, img->nlayers + 1) < 0 ||
		    images_save(&s, &im) < 0)
			goto out;
	}
	say(1, "%s\n", cdig);
	rc = 0;
out:
	if (frozen)
		freeze(st.freezer, 0);
	free(layers);
	free(image_id);
	buf_free(&cfg);
	buf_free(&man);
	images_free(&im);
	arena_free(&a);
	store_close(&s);
	state_free(&st);
	return rc < 0 ? fail(id) : 0;
}
#endif /* SB_WITH_IMAGES */

/* CVE-2019-5736: a container that makes its program "#!/proc/self/exe"
 * (or finds /proc/PID/exe of a process running sandbox's code inside it)
 * reaches the runtime's binary on the host, and could write it once the
 * process ends. Copying the binary into memory for each container would
 * cost a small device its RAM; instead the runtime execs itself once from
 * a read-only bind of its binary: a clone of its mount attached nowhere
 * (open_tree, mount_setattr, execveat: Linux 5.12), or on older kernels a
 * bind made in a mount namespace of its own, after which it goes back to
 * the mount namespace it came from (hooks and bind mounts must see the
 * host's). The bind lives on as long as a process maps it: /proc/PID/exe
 * of any process running sandbox's code is on a read-only mount, which no
 * namespace holds and none can remount, so opening it for writing fails
 * with EROFS. A binary the caller cannot
 * write, or one on a read-only filesystem (firmware's squashfs), needs
 * nothing. */
#define EXE_PROTECT_ENV "_SANDBOX_HOST_MNT_NS"

/* "NS,CWD": descriptors of the host's mount namespace and of the working
 * directory there (setns leaves us at the namespace's root). */
static int exe_return_home(const char *fds)
{
	long long ns, cwd;
	const char *comma = strchr(fds, ',');
	char first[16];
	int r;

	if (!strcmp(fds, "-")) { /* from a detached mount: nowhere to return */
		unsetenv(EXE_PROTECT_ENV);
		return 0;
	}
	strf(first, sizeof first, "%.*s", comma ? (int)(comma - fds) : 0, fds);
	if (!comma || parse_ll(first, 3, 1 << 20, &ns) < 0 || parse_ll(comma + 1, 3, 1 << 20, &cwd) < 0)
		return err_set("%s=%s: not two file descriptors", EXE_PROTECT_ENV, fds);
	r = setns((int)ns, CLONE_NEWNS) < 0 || fchdir((int)cwd) < 0;
	close((int)ns);
	close((int)cwd);
	unsetenv(EXE_PROTECT_ENV);
	return r ? err_sys("protect the runtime's binary: return to the host's mount namespace") : 0;
}

/* The cheaper way, where the kernel has the new mount API (5.12): a
 * read-only clone of the binary's mount, attached nowhere, executed by
 * its descriptor. No namespace is made (copying the host's mount table
 * was most of the cost) and there is none to return from. Returns only
 * if it cannot be done. */
static void exe_protect_detached(char **argv)
{
#if defined(SYS_open_tree) && defined(SYS_mount_setattr) && defined(SYS_execveat)
	extern char **environ;
	struct {
		uint64_t attr_set, attr_clr, propagation, userns_fd;
	} attr = { 1 | 2 | 4, 0, 0, 0 }; /* MOUNT_ATTR_RDONLY, NOSUID, NODEV */
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe",
	    1 /* OPEN_TREE_CLONE */ | O_CLOEXEC);

	if (fd < 0)
		return;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0 &&
	    setenv(EXE_PROTECT_ENV, "-", 1) == 0)
		syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	dbg("protect the runtime's binary: a detached read-only mount: %s", strerror(errno));
	unsetenv(EXE_PROTECT_ENV);
	close(fd);
#else
	(void)argv;
#endif
}

static int exe_protect(char **argv)
{
	extern char **environ;
	char self[PATH_MAX], num[32];
	const char *home = getenv(EXE_PROTECT_ENV);
	struct statvfs sv;
	ssize_t n;
	int ns, cwd, fd, r;

	if (home)
		return exe_return_home(home);
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) < 0)
		return err_sys("protect the runtime's binary: /proc/self/exe");
	self[n] = 0;
	if (access(self, W_OK) < 0 || (statvfs(self, &sv) == 0 && (sv.f_flag & ST_RDONLY)))
		return 0;
	if (strstr(self, " (deleted)"))
		return err_set("protect the runtime's binary: %s was replaced while running", self);
	exe_protect_detached(argv);
	/* else a private mount namespace holding a read-only bind, and the
	 * way back, kept open across exec */
	if ((ns = open("/proc/self/ns/mnt", O_RDONLY)) < 0)
		return err_sys("protect the runtime's binary: /proc/self/ns/mnt");
	if ((cwd = open(".", O_PATH | O_DIRECTORY)) < 0) {
		close(ns);
		return err_sys("protect the runtime's binary: the working directory");
	}
	r = -1;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount(self, self, NULL, MS_BIND, NULL) < 0 || (fd = open(self, O_PATH | O_CLOEXEC)) < 0) {
		err_sys("protect the runtime's binary %s: a read-only bind of it", self);
		goto out;
	}
	r = mnt_rebind(fd, MS_RDONLY | MS_NOSUID | MS_NODEV, 0, self);
	close(fd);
	if (r < 0) {
		err_ctx("protect the runtime's binary");
		goto out;
	}
	strf(num, sizeof num, "%d,%d", ns, cwd);
	if (setenv(EXE_PROTECT_ENV, num, 1) < 0) {
		r = err_sys("protect the runtime's binary: setenv");
		goto out;
	}
	execve(self, argv, environ);
	r = err_sys("protect the runtime's binary: exec %s", self);
out:
	close(ns);
	close(cwd);
	return r;
}

/* Options of run and create, and what they turn into. */
struct create_opts {
	const char *bundle, *pid_file, *console, *pfds;
	const char *security[8];
	int detach, init, no_pivot, no_keyring, interactive;
	struct image_opts img;
};

#if SB_WITH_SECCOMP
/* --security-opt seccomp=X but unconfined: default (Docker's profile,
 * for the capabilities the process may ever have) or FILE (an OCI
 * seccomp object). */
static int security_seccomp(struct sb_config *c, const char *o)
{
	struct arena *a = c->priv;
	struct sec_profile p;
	struct json *doc;
	char *text;
	size_t len;
	int r;

	if (!(c->seccomp = arena_alloc(a, sizeof *c->seccomp)))
		return -1;
	if (!strcmp(o, "default")) {
		r = sec_default(a, c->process.caps[SB_CAP_BOUNDING], sec_kernel_version(), &p);
	} else {
		if (!(text = read_file(o, SB_CONFIG_MAX, &len)))
			return err_ctx("--security-opt seccomp");
		doc = json_parse(a, text, len);
		free(text);
		r = doc ? sec_parse(a, doc, &p) : -1;
	}
	if (r < 0 || sec_compile(a, &p, c->seccomp) < 0)
		return err_ctx("--security-opt seccomp=%s", o);
	return 0;
}
#else
static int security_seccomp(struct sb_config *c, const char *o)
{
	(void)c;
	return err_set("--security-opt seccomp=%s: seccomp is not built in (SB_WITH_SECCOMP=0)", o);
}
#endif

/* --security-opt, as Docker takes it: seccomp=..., no-new-privileges. */
static int security_opts(struct sb_config *c, const char *const *opts)
{
	for (; *opts; opts++) {
		const char *o = *opts;

		if (!strcmp(o, "no-new-privileges") || !strcmp(o, "no-new-privileges=true")) {
			c->process.no_new_privileges = 1;
			continue;
		}
		if (strncmp(o, "seccomp=", 8) && strncmp(o, "seccomp:", 8))
			return err_set("--security-opt %s: not supported (seccomp=..., no-new-privileges)", o);
		if (!strcmp(o + 8, "unconfined"))
			c->seccomp = NULL;
		else if (security_seccomp(c, o + 8) < 0)
			return -1;
	}
	return 0;
}

#if SB_WITH_IMAGES
/* The config.json text and bundle of `run --image`: the container's
 * storage made in the store, the config generated from the image. */
static int image_container(struct create_opts *co, const char *id, char **cmd, char *dir,
    size_t n, char **text, size_t *len)
{
	struct store st;
	struct images im;
	struct buf b = {0};
	const struct image *img;
	int rc = -1;

	if (store_open(&st, cli_store, 1) < 0)
		return -1;
	if (images_load(&st, &im) == 0 && (img = images_find(&im, co->img.image)) &&
	    store_container(&st, img, id, co->img.hostname ? co->img.hostname : id, dir, n) == 0) {
		if (image_spec(&st, img, &co->img, id, cmd, dir, &b) == 0) {
			*text = b.p;
			*len = b.len;
			rc = 0;
		} else {
			char name[NAME_MAX + 16];

			buf_free(&b);
			strf(name, sizeof name, "containers/%s", id);
			rm_tree_at(st.fd, name, 0);
		}
	}
	images_free(&im);
	store_close(&st);
	return rc;
}
#else
static int image_container(struct create_opts *co, const char *id, char **cmd, char *dir,
    size_t n, char **text, size_t *len)
{
	(void)id, (void)cmd, (void)dir, (void)n, (void)text, (void)len;
	return err_set("--image %s: the image store is not built in (SB_WITH_IMAGES=0)",
	    co->img.image);
}
#endif

static int cmd_create_or_run(int argc, char **argv, int i, int mode)
{
	struct create_opts co;
	struct image_opts *io = &co.img;
	struct opt opts[] = {
		{ "bundle", 'b', &co.bundle, NULL, NULL },
		{ "pid-file", 0, &co.pid_file, NULL, NULL },
		{ "console-socket", 0, &co.console, NULL, NULL },
		{ "preserve-fds", 0, &co.pfds, NULL, NULL },
		{ "detach", 'd', NULL, &co.detach, NULL },
		{ "init", 0, NULL, &co.init, NULL },
		{ "no-pivot", 0, NULL, &co.no_pivot, NULL },
		{ "no-new-keyring", 0, NULL, &co.no_keyring, NULL },
		{ "security-opt", 0, NULL, NULL, co.security },
		/* run --image: Docker's flags */
		{ "image", 0, &io->image, NULL, NULL },
		{ "env", 'e', NULL, NULL, io->env },
		{ "workdir", 'w', &io->workdir, NULL, NULL },
		{ "user", 'u', &io->user, NULL, NULL },
		{ "entrypoint", 0, &io->entrypoint, NULL, NULL },
		{ "volume", 'v', NULL, NULL, io->vol },
		{ "tmpfs", 0, NULL, NULL, io->tmpfs },
		{ "memory", 'm', &io->memory, NULL, NULL },
		{ "cpus", 0, &io->cpus, NULL, NULL },
		{ "pids-limit", 0, &io->pids, NULL, NULL },
		{ "hostname", 0, &io->hostname, NULL, NULL },
		{ "network", 0, &io->network, NULL, NULL },
		{ "cap-add", 0, NULL, NULL, io->cap_add },
		{ "cap-drop", 0, NULL, NULL, io->cap_drop },
		{ "read-only", 0, NULL, &io->read_only, NULL },
		{ "rm", 0, NULL, &io->rm, NULL },
		{ "tty", 't', NULL, &io->tty, NULL },
		{ "interactive", 'i', NULL, &co.interactive, NULL }, /* stdin always passes */
		{ NULL, 0, NULL, NULL, NULL },
	};
	char dir[PATH_MAX], path[PATH_MAX + 16], *text = NULL;
	struct sb_config *c = NULL;
	struct spawn s;
	struct state st;
	sigset_t all;
	long long n = 0;
	/* Docker's default seccomp profile, where there is a filter to have */
	const char *id, *sec_default[2] = { SB_WITH_SECCOMP ? "seccomp=default" : NULL, NULL };
	size_t len = 0;
	int status = -1, lock, bad = mode == SPAWN_RUN ? 125 : 1;

	memset(&co, 0, sizeof co);
	co.bundle = ".";
	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, !!io->image)))
		return bad;
	if (exe_protect(argv) < 0)
		return fail(id), bad;
	if (co.pfds && parse_ll(co.pfds, 0, 1 << 20, &n) < 0)
		return usage_error("--preserve-fds: \"%s\" is not a count", co.pfds), bad;
	if (!io->image && (io->env[0] || io->vol[0] || io->tmpfs[0] || io->workdir || io->user ||
	    io->entrypoint || io->memory || io->cpus || io->pids || io->hostname || io->network ||
	    io->cap_add[0] || io->cap_drop[0] || io->read_only || io->rm || io->tty))
		return usage_error("those options go with --image; a bundle's config.json says it all"), bad;
	if (io->rm && (co.detach || mode == SPAWN_CREATE))
		return usage_error("--rm needs run in the foreground: no daemon watches the container"), bad;
	if (io->image) {
		/* the command after the id, with or without "--" */
		char **cmd = argv + i + 1;

		if (*cmd && !strcmp(*cmd, "--"))
			cmd++;
		if (image_container(&co, id, cmd, dir, sizeof dir, &text, &len) < 0)
			return fail(id), bad;
		if (!(c = sb_config_parse(text, len, dir))) {
			err_ctx("the config generated for %s", io->image);
			goto fail_storage;
		}
		/* Docker's default seccomp profile, unless --security-opt says */
		if (security_opts(c, sec_default) < 0 || security_opts(c, co.security) < 0)
			goto fail_storage;
	} else {
		if (!realpath(co.bundle, dir))
			return err_sys("bundle %s", co.bundle), fail(id), bad;
		if (pathf(path, sizeof path, "%s/config.json", dir) < 0 ||
		    !(text = read_file(path, SB_CONFIG_MAX, &len)) ||
		    !(c = sb_config_parse(text, len, dir))) {
			if (text)
				err_ctx("%s", path);
			free(text);
			return fail(id), bad;
		}
		if (security_opts(c, co.security) < 0) {
			sb_config_free(c);
			free(text);
			return fail(id), bad;
		}
	}
	/* from here on, signals wait to be forwarded or seen in spawn_wait */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	spawn_init_struct(&s);
	s.c = c;
	s.proc = &c->process;
	s.id = id;
	s.mode = mode;
	s.init = co.init;
	s.preserve_fds = (int)n;
	s.detach = co.detach;
	s.no_pivot = co.no_pivot;
	s.no_keyring = co.no_keyring;
	s.console = co.console;
	s.pid_file = co.pid_file;
	/* an image's container stays (stopped) after run unless --rm */
	s.keep = io->image && !io->rm;
	if (mode == SPAWN_RUN) {
		int started;

		status = run_container(&s, cli_root, cli_systemd, text, len);
		if (!(started = status >= 0))
			status = (fail(id), s.exit_hint);
		/* the storage goes with the state: after --rm, or when the
		 * container never started (its state is gone already) */
		if (io->image && (io->rm || !started) && storage_remove(dir) < 0)
			fail(id);
	} else if ((lock = spawn_create(&s, cli_root, cli_systemd, text, len, &st)) < 0) {
		status = fail(id);
		if (io->image)
			storage_remove(dir);
	} else {
		char pid[24];

		/* I waits on start.sock from here: R's part is done */
		strf(pid, sizeof pid, "%d", (int)s.pid);
		msg_send(s.sync, MSG_WAIT, 0, pid);
		close(s.sync);
		state_free(&st);
		cg_free(&s.cg);
		close(lock);
		status = 0;
	}
	sb_config_free(c);
	free(text);
	return status;
fail_storage:
	fail(id);
	sb_config_free(c);
	free(text);
	storage_remove(dir);
	return bad;
}

static int cmd_start(int argc, char **argv, int i)
{
	struct sb_config *c;
	struct state st;
	struct buf b = {0};
	const char *id, *status;
	char path[PATH_MAX + 16];
	int lock, conn, rc;

	if (!(id = cli_id(argc, argv, i, 0)))
		return 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	if ((lock = state_lock(st.dir)) < 0)
		return state_free(&st), fail(id);
	status = state_status(&st);
	if (strcmp(status, "created")) {
		err_set("container is %s, not created", status);
		goto out;
	}
	if ((conn = unix_at(st.dir, "start.sock", 0)) < 0)
		goto out;
	rc = spawn_until_exec(conn, NULL);
	close(conn);
	if (pathf(path, sizeof path, "%s/start.sock", st.dir) == 0)
		unlink(path);
	if (rc < 0)
		goto out;
	st.started = 1;
	if (state_save(&st) < 0)
		goto out;
	close(lock);
	lock = -1;
	if ((c = state_config(&st))) {
		state_json(&b, &st, "running");
		if (!b.oom)
			hooks_run_warn(c, SB_HOOK_POSTSTART, b.p);
		buf_free(&b);
		sb_config_free(c);
	}
	state_free(&st);
	return 0;
out:
	if (lock >= 0)
		close(lock);
	state_free(&st);
	return fail(id);
}

static int cmd_state(int argc, char **argv, int i)
{
	struct state st;
	struct buf b = {0};
	const char *id;

	if (!(id = cli_id(argc, argv, i, 0)))
		return 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	state_json(&b, &st, state_status(&st));
	buf_puts(&b, "\n");
	state_free(&st);
	if (b.oom)
		return err_set("out of memory"), fail(id);
	write_all(1, b.p, b.len);
	buf_free(&b);
	return 0;
}

static int sig_from_name(const char *s)
{
	static const struct { const char *name; int sig; } names[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
		{ "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
#ifdef SIGSTKFLT /* not on MIPS */
		{ "STKFLT", SIGSTKFLT },
#endif
		{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
		{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
		{ "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL },
		{ "PWR", SIGPWR }, { "SYS", SIGSYS },
	};
	long long n;
	size_t k;

	if (parse_ll(s, 1, _NSIG - 1, &n) == 0)
		return (int)n;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RTMIN+", 6) && parse_ll(s + 6, 0, SIGRTMAX - SIGRTMIN, &n) == 0)
		return SIGRTMIN + (int)n;
	for (k = 0; k < LEN(names); k++)
		if (!strcasecmp(s, names[k].name))
			return names[k].sig;
	return -1;
}

static int cmd_kill(int argc, char **argv, int i)
{
	int all = 0, sig = SIGTERM, rc;
	struct opt opts[] = {
		{ "all", 'a', NULL, &all, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct state st;
	const char *id;

	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, 1)))
		return 1;
	if (i + 2 < argc)
		return usage_error("unexpected argument %s", argv[i + 2]), 1;
	if (i + 1 < argc && (sig = sig_from_name(argv[i + 1])) < 0)
		return usage_error("unknown signal \"%s\"", argv[i + 1]), 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	if (!strcmp(state_status(&st), "stopped"))
		rc = err_set("container \"%s\" is not running", id);
	else
		rc = all ? state_signal_all(&st, sig) : state_signal(&st, sig);
	state_free(&st);
	return rc < 0 ? fail(id) : 0;
}

static int cmd_delete(int argc, char **argv, int i)
{
	int force = 0, lock, rc;
	struct opt opts[] = {
		{ "force", 'f', NULL, &force, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct state st;
	const char *id, *status;

	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, 0)))
		return 1;
	if (state_load(&st, cli_root, id) < 0) {
		/* runc: deleting what is not there with --force is no error */
		return force && strstr(sb_error(), "does not exist") ? 0 : fail(id);
	}
	if ((lock = state_lock(st.dir)) < 0)
		return state_free(&st), fail(id);
	status = state_status(&st);
	if (strcmp(status, "stopped") && !force) {
		rc = err_set("container is %s: stop it first, or use --force", status);
	} else {
		if (strcmp(status, "stopped")) {
			if (!strcmp(status, "paused")) {
				struct cg cg;

				if (cg_from_state(&cg, &st) == 0)
					cg_destroy(&cg), cg_free(&cg);
			}
			state_signal_all(&st, SIGKILL);
			state_signal(&st, SIGKILL);
			state_wait_gone(&st, 2000);
		}
		rc = state_delete(&st);
	}
	close(lock);
	state_free(&st);
	return rc < 0 ? fail(id) : 0;
}

static int cmd_pause_resume(int argc, char **argv, int i, int on)
{
	const char *id, *status;
	struct state st;
	int lock, rc;

	if (!(id = cli_id(argc, argv, i, 0)))
		return 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	if ((lock = state_lock(st.dir)) < 0)
		return state_free(&st), fail(id);
	status = state_status(&st);
	if (strcmp(status, on ? "running" : "paused"))
		rc = err_set("container is %s, not %s", status, on ? "running" : "paused");
	else
		rc = freeze(st.freezer, on);
	close(lock);
	state_free(&st);
	return rc < 0 ? fail(id) : 0;
}

static int cmd_list(int argc, char **argv, int i)
{
	const char *format = "table", *root = cli_root ? cli_root : SB_STATE_DIR;
	int quiet = 0, n = 0;
	struct opt opts[] = {
		{ "quiet", 'q', NULL, &quiet, NULL },
		{ "format", 'f', &format, NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct dirent *e;
	struct state st;
	struct buf b = {0};
	DIR *d;

	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (strcmp(format, "table") && strcmp(format, "json"))
		return usage_error("--format: table or json, not %s", format), 1;
	if (!strcmp(format, "json"))
		buf_puts(&b, "[");
	else if (!quiet)
		buf_printf(&b, "%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS",
		    "BUNDLE", "CREATED", "OWNER");
	if ((d = opendir(root))) {
		while ((e = readdir(d))) {
			const char *status;

			if (e->d_name[0] == '.' || state_load(&st, cli_root, e->d_name) < 0)
				continue;
			status = state_status(&st);
			if (!strcmp(format, "json")) {
				if (n++)
					buf_puts(&b, ",");
				state_json(&b, &st, status);
			} else if (quiet) {
				buf_printf(&b, "%s\n", st.id);
			} else {
				buf_printf(&b, "%-12s %-8d %-10s %-40s %-30s %s\n", st.id,
				    strcmp(status, "stopped") ? (int)st.pid : 0, status,
				    st.bundle, st.created ? st.created : "", "root");
			}
			state_free(&st);
		}
		closedir(d);
	}
	if (!strcmp(format, "json"))
		buf_puts(&b, "]\n");
	if (b.oom)
		return err_set("out of memory"), fail(NULL);
	if (b.p)
		write_all(1, b.p, b.len);
	buf_free(&b);
	return 0;
}

/* ps(1)'s output (with the given options, else -ef), only the lines
 * whose PID column is one of pids. */
static int ps_table(int argc, char **argv, int i, const pid_t *pids, size_t n)
{
	const char *args[64] = { "ps", "-ef", NULL };
	struct buf out = {0};
	char buf[4096], *line, *save, *tok, *save2;
	int fd[2], st, col = -1, c, k;
	ssize_t r;
	pid_t p;

	for (k = 1; i < argc && k < 63; i++)
		args[k++] = argv[i], args[k] = NULL;
	if (pipe2(fd, O_CLOEXEC) < 0 || (p = fork()) < 0)
		return err_sys("ps");
	if (p == 0) {
		dup2(fd[1], 1);
		execvp("ps", (char *const *)args);
		_exit(127);
	}
	close(fd[1]);
	while ((r = read(fd[0], buf, sizeof buf)) > 0)
		buf_put(&out, buf, (size_t)r);
	close(fd[0]);
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) || out.oom || !out.p)
		return buf_free(&out), err_set("ps %s failed", args[1] ? args[1] : "");
	for (line = strtok_r(out.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char copy[4096];
		long long pid;
		size_t j;

		strf(copy, sizeof copy, "%s", line);
		if (col < 0) {
			for (c = 0, tok = strtok_r(copy, " \t", &save2); tok;
			    c++, tok = strtok_r(NULL, " \t", &save2))
				if (!strcmp(tok, "PID"))
					col = c;
			if (col < 0)
				return buf_free(&out), err_set("ps: no PID column");
			say(1, "%s\n", line);
			continue;
		}
		for (c = 0, tok = strtok_r(copy, " \t", &save2); tok && c < col;
		    c++, tok = strtok_r(NULL, " \t", &save2))
			;
		if (!tok || parse_ll(tok, 1, INT_MAX, &pid) < 0)
			continue;
		for (j = 0; j < n; j++)
			if (pids[j] == (pid_t)pid)
				say(1, "%s\n", line);
	}
	buf_free(&out);
	return 0;
}

/* ps: the container's processes; table output is ps(1)'s, filtered. */
static int cmd_ps(int argc, char **argv, int i)
{
	const char *format = "table", *id;
	struct opt opts[] = {
		{ "format", 'f', &format, NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct state st;
	struct buf b = {0};
	pid_t *pids;
	size_t n, k;

	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, 1)))
		return 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	if (state_pids(&st, &pids, &n) < 0)
		return state_free(&st), fail(id);
	state_free(&st);
	if (!strcmp(format, "json")) {
		buf_puts(&b, "[");
		for (k = 0; k < n; k++)
			buf_printf(&b, "%s%d", k ? "," : "", (int)pids[k]);
		buf_puts(&b, "]\n");
		if (!b.oom)
			write_all(1, b.p, b.len);
		buf_free(&b);
		free(pids);
		return 0;
	}
	if (strcmp(format, "table")) {
		free(pids);
		return usage_error("--format: table or json, not %s", format), 1;
	}
	k = (size_t)ps_table(argc, argv, i + 1, pids, n);
	free(pids);
	return k ? fail(id) : 0;
}

int sandbox_main(int argc, char **argv);

/* Moves every process of the container into group. */
static int update_move_all(const struct state *st, const char *group)
{
	char path[PATH_MAX + 16], v[24];
	pid_t *pids;
	size_t n, i;
	int rc = 0;

	if (pathf(path, sizeof path, "%s/cgroup.procs", group) < 0 || state_pids(st, &pids, &n) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		strf(v, sizeof v, "%d", (int)pids[i]);
		if (write_file(path, v) < 0 && errno != ESRCH)
			rc = -1;
	}
	free(pids);
	return rc;
}

/* A copy of v (n entries) with room for two more, in the arena. */
static const char **realloc_in_arena(struct arena *a, const char **v, size_t n)
{
	const char **w = arena_alloc(a, (n + 2) * sizeof *w);

	if (w && n)
		memcpy(w, v, n * sizeof *w);
	return w;
}

/* exec's process: --process FILE (an OCI process object), else the
 * container's own process with the flags' changes, as runc does. */
struct exec_opts {
	const char *process, *cwd, *user, *console, *pid_file, *pfds, *apparmor, *label;
	const char *env[64], *caps[64];
	int tty, detach, nnp, ignore_paused;
};

static int exec_process(struct arena *a, struct sb_process *p, const struct sb_config *c,
    const struct exec_opts *eo, char **args)
{
	size_t n = 0, k, j;
	const char **env;
	long long v;
	int cap;

	if (eo->process) {
		struct sb_config tmp;
		struct json *doc;
		char *text;
		size_t len;

		if (*args)
			return err_set("--process and a command: give one of them");
		if (!(text = read_file(eo->process, 1 << 20, &len)))
			return -1;
		memset(&tmp, 0, sizeof tmp);
		tmp.process.umask = tmp.process.oom_score_adj = SB_UNSET;
		doc = json_parse(a, text, len);
		free(text);
		if (!doc || cfg_process(a, &tmp, doc) < 0)
			return err_ctx("--process %s", eo->process);
		*p = tmp.process;
		return 0;
	}
	if (!*args)
		return err_set("missing the command to run");
	*p = c->process;
	p->args = (const char **)args;
	p->terminal = eo->tty;
	if (eo->cwd) {
		if (eo->cwd[0] != '/')
			return err_set("--cwd %s: not an absolute path", eo->cwd);
		p->cwd = eo->cwd;
	}
	while (c->process.env && c->process.env[n])
		n++;
	for (k = 0; eo->env[k]; k++)
		if (!strchr(eo->env[k], '='))
			return err_set("--env %s: not KEY=value", eo->env[k]);
	if (!(env = arena_alloc(a, (n + k + 1) * sizeof *env)))
		return -1;
	for (j = 0; j < n; j++)
		env[j] = c->process.env[j];
	for (j = 0; j < k; j++)
		env[n + j] = eo->env[j];
	p->env = env;
	if (eo->user) {
		const char *colon = strchr(eo->user, ':');
		char uid[32];

		strf(uid, sizeof uid, "%.*s", colon ? (int)(colon - eo->user) : 31, eo->user);
		if (parse_ll(uid, 0, UINT32_MAX, &v) < 0)
			return err_set("--user %s: a numeric uid[:gid] is needed", eo->user);
		p->uid = (uint32_t)v;
		if (colon) {
			if (parse_ll(colon + 1, 0, UINT32_MAX, &v) < 0)
				return err_set("--user %s: a numeric uid[:gid] is needed", eo->user);
			p->gid = (uint32_t)v;
		}
	}
	for (k = 0; eo->caps[k]; k++) {
		if ((cap = cap_from_name(eo->caps[k])) < 0)
			return err_set("--cap %s: unknown capability", eo->caps[k]);
		p->caps[SB_CAP_BOUNDING] |= 1ull << cap;
		p->caps[SB_CAP_EFFECTIVE] |= 1ull << cap;
		p->caps[SB_CAP_PERMITTED] |= 1ull << cap;
		p->has_caps = 1;
	}
	if (eo->nnp)
		p->no_new_privileges = 1;
	if (eo->apparmor)
		p->apparmor = eo->apparmor;
	if (eo->label)
		p->selinux = eo->label;
	return 0;
}

/* Opens what an exec joins, through the /proc directory of the
 * container's PID 1: a descriptor on that directory stays with that
 * process, so a pid reused meanwhile cannot redirect the joins. */
static int exec_target(struct spawn *s, const struct state *st)
{
	char path[64], name[32], letter;
	struct stat mine, theirs;
	unsigned long long start = 0;
	int dir, k, rc = -1;

	strf(path, sizeof path, "/proc/%d", (int)st->pid);
	if ((dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_set("container \"%s\" is not running", st->id);
	if (proc_stat_at(dir, "stat", &letter, &start) < 0 || start != st->start_time ||
	    letter == 'Z') {
		err_set("container \"%s\" is not running", st->id);
		goto out;
	}
	for (k = 0; k < SB_NS_COUNT; k++) {
		strf(name, sizeof name, "ns/%s", ns_info[k].proc);
		strf(path, sizeof path, "/proc/self/ns/%s", ns_info[k].proc);
		if (fstatat(dir, name, &theirs, 0) < 0 || stat(path, &mine) < 0 ||
		    mine.st_ino == theirs.st_ino)
			continue;
		if ((s->nsfd[k] = openat(dir, name, O_RDONLY | O_CLOEXEC)) < 0) {
			err_sys("open the container's %s namespace", ns_info[k].name);
			goto out;
		}
		s->nsflags |= ns_info[k].flag;
	}
	if ((s->rootfd = openat(dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_sys("open the container's root");
		goto out;
	}
	rc = 0;
out:
	close(dir);
	return rc;
}

static int cmd_exec(int argc, char **argv, int i)
{
	struct exec_opts eo;
	struct opt opts[] = {
		{ "process", 'p', &eo.process, NULL, NULL },
		{ "tty", 't', NULL, &eo.tty, NULL },
		{ "detach", 'd', NULL, &eo.detach, NULL },
		{ "cwd", 0, &eo.cwd, NULL, NULL },
		{ "env", 'e', NULL, NULL, eo.env },
		{ "user", 'u', &eo.user, NULL, NULL },
		{ "cap", 'c', NULL, NULL, eo.caps },
		{ "no-new-privs", 0, NULL, &eo.nnp, NULL },
		{ "pid-file", 0, &eo.pid_file, NULL, NULL },
		{ "console-socket", 0, &eo.console, NULL, NULL },
		{ "preserve-fds", 0, &eo.pfds, NULL, NULL },
		{ "apparmor", 'a', &eo.apparmor, NULL, NULL },
		{ "process-label", 0, &eo.label, NULL, NULL },
		{ "ignore-paused", 0, NULL, &eo.ignore_paused, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct sb_process proc;
	struct sb_config *c = NULL;
	struct arena a = {0};
	struct state st;
	struct spawn s;
	sigset_t all;
	const char *id, *status;
	long long n = 0;
	size_t k;
	char pid[24];
	int rc = 1;

	memset(&eo, 0, sizeof eo);
	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, 1)))
		return 1;
	if (exe_protect(argv) < 0)
		return fail(id);
	if (eo.pfds && parse_ll(eo.pfds, 0, 1 << 20, &n) < 0)
		return usage_error("--preserve-fds: \"%s\" is not a count", eo.pfds), 1;
	if (state_load(&st, cli_root, id) < 0)
		return fail(id);
	spawn_init_struct(&s);
	status = state_status(&st);
	if (!strcmp(status, "stopped") || (!strcmp(status, "paused") && !eo.ignore_paused)) {
		err_set("container is %s", status);
		goto out;
	}
	if (!(c = state_config(&st)) || exec_process(&a, &proc, c, &eo, argv + i + 1) < 0)
		goto out;
	s.c = c;
	s.proc = &proc;
	s.id = id;
	s.mode = SPAWN_EXEC;
	s.detach = eo.detach;
	s.console = eo.console;
	s.pid_file = eo.pid_file;
	s.preserve_fds = (int)n;
	if (exec_target(&s, &st) < 0)
		goto out;
	if (st.v2 && spawn_open_v2(&s, st.v2) < 0)
		goto out;
	for (k = 0; k < st.nv1 && s.nprocs < (int)LEN(s.procs); k++) {
		char path[PATH_MAX + 16];

		if (pathf(path, sizeof path, "%s/cgroup.procs", st.v1[k]) < 0 ||
		    (s.procs[s.nprocs] = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
			err_sys("open %s", path);
			goto out;
		}
		s.nprocs++;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		err_sys("become a subreaper");
		goto out;
	}
	if (spawn_fork(&s, spawn_exec_helper) < 0)
		goto out;
	strf(pid, sizeof pid, "%d", (int)s.pid);
	if (msg_send(s.sync, MSG_GO, 0, pid) < 0 || spawn_until_exec(s.sync, &s.exit_hint) < 0) {
		spawn_abort(&s);
		goto out;
	}
	close(s.sync);
	s.sync = -1;
	if (write_pid_file(eo.pid_file, s.pid) < 0)
		goto out;
	rc = eo.detach ? 0 : spawn_wait(s.pid, s.master);
	if (rc < 0)
		goto out;
	state_free(&st);
	sb_config_free(c);
	arena_free(&a);
	return rc;
out:
	for (k = 0; k < SB_NS_COUNT; k++)
		if (s.nsfd[k] >= 0)
			close(s.nsfd[k]);
	spawn_close_cgroup_fds(&s);
	state_free(&st);
	sb_config_free(c);
	arena_free(&a);
	fail(id);
	return eo.detach ? 1 : s.exit_hint;
}

static int cmd_update(int argc, char **argv, int i)
{
	const char *file = NULL, *v[10] = { NULL };
	static const char *const keys[10][2] = {
		{ "memory", "limit" }, { "memory", "reservation" }, { "memory", "swap" },
		{ "cpu", "shares" }, { "cpu", "quota" }, { "cpu", "period" },
		{ "cpu", "cpus" }, { "cpu", "mems" }, { "pids", "limit" },
		{ "blockIO", "weight" },
	};
	struct opt opts[] = {
		{ "resources", 'r', &file, NULL, NULL },
		{ "memory", 'm', &v[0], NULL, NULL },
		{ "memory-reservation", 0, &v[1], NULL, NULL },
		{ "memory-swap", 0, &v[2], NULL, NULL },
		{ "cpu-shares", 0, &v[3], NULL, NULL },
		{ "cpu-quota", 0, &v[4], NULL, NULL },
		{ "cpu-period", 0, &v[5], NULL, NULL },
		{ "cpuset-cpus", 0, &v[6], NULL, NULL },
		{ "cpuset-mems", 0, &v[7], NULL, NULL },
		{ "pids-limit", 0, &v[8], NULL, NULL },
		{ "blkio-weight", 0, &v[9], NULL, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	struct sb_config tmp;
	struct arena a = {0};
	struct buf b = {0};
	struct state st;
	struct json *doc;
	struct cg cg;
	const char *id, *group;
	char *text = NULL;
	size_t len, k;
	int lock = -1, rc = -1, h, changed = 0;

	if (opts_parse(argc, argv, &i, opts) < 0 || !(id = cli_id(argc, argv, i, 0)))
		return 1;
	if (file) {
		text = !strcmp(file, "-") ? read_file("/dev/stdin", 1 << 20, &len) :
		    read_file(file, 1 << 20, &len);
		if (!text)
			return fail(id);
	} else {
		/* flags into the JSON of linux.resources, for one parser */
		const char *sect = NULL;

		buf_puts(&b, "{");
		for (k = 0; k < 10; k++) {
			long long x;

			if (!v[k])
				continue;
			if (!sect || strcmp(sect, keys[k][0]))
				buf_printf(&b, "%s\"%s\":{", sect ? "}," : "", keys[k][0]);
			else
				buf_puts(&b, ",");
			sect = keys[k][0];
			if (k == 6 || k == 7) {
				buf_printf(&b, "\"%s\":", keys[k][1]);
				json_put_str(&b, v[k]);
			} else if (parse_size(v[k], &x) == 0) {
				buf_printf(&b, "\"%s\":%lld", keys[k][1], x);
			} else {
				buf_free(&b);
				return usage_error("--%s: \"%s\" is not a number",
				    opts[k + 1].name, v[k]), 1;
			}
		}
		buf_puts(&b, sect ? "}}" : "}");
		if (b.oom)
			return err_set("out of memory"), fail(id);
		text = b.p;
		len = b.len;
	}
	memset(&tmp, 0, sizeof tmp);
	memset(&cg, 0, sizeof cg);
	cg.v2 = -1;
	if (state_load(&st, cli_root, id) < 0)
		goto out_nostate;
	if (!(doc = json_parse(&a, text, len)) || cfg_resources(&a, &tmp, doc) < 0) {
		err_ctx("%s", file ? file : "resources");
		goto out;
	}
	if (tmp.res.has_devices) {
		err_set("linux.resources.devices: not changed by update");
		goto out;
	}
	if ((lock = state_lock(st.dir)) < 0)
		goto out;
	if (!strcmp(state_status(&st), "stopped")) {
		err_set("container is stopped");
		goto out;
	}
	if (cg_discover(&cg) < 0 || cg_plan(&cg, &tmp) < 0)
		goto out;
	for (h = 0; h < cg.nh; h++) {
		struct cg_hier *hh = &cg.h[h];
		size_t m = strlen(hh->mnt);

		if (!cg_used(&cg, h))
			continue;
		group = NULL;
		if (hh->v2)
			group = st.v2;
		for (k = 0; !hh->v2 && k < st.nv1; k++)
			if (!strncmp(st.v1[k], hh->mnt, m) && st.v1[k][m] == '/')
				group = st.v1[k];
		if (group) {
			if (!(hh->dir = strdup(group)))
				goto out;
			continue;
		}
		/* a v1 controller the container was not in yet: a group for
		 * it, and every process of the container moved in */
		if (!(hh->dir = cg_dir(hh, st.cgpath ? st.cgpath : id)) || cg_mkdirs(&cg, hh) < 0 ||
		    update_move_all(&st, hh->dir) < 0)
			goto out;
		if (!(st.v1 = realloc_in_arena(&st.a, st.v1, st.nv1)) ||
		    !(st.v1[st.nv1++] = arena_strdup(&st.a, hh->dir)))
			goto out;
		changed = 1;
	}
	if (cg_apply(&cg, &tmp) < 0 || (changed && state_save(&st) < 0))
		goto out;
	rc = 0;
out:
	state_free(&st);
out_nostate:
	if (lock >= 0)
		close(lock);
	cg_free(&cg);
	arena_free(&a);
	free(text);
	return rc < 0 ? fail(id) : 0;
}

static void json_put_strs(struct buf *b, const char *const *v, size_t n)
{
	size_t i;

	buf_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i)
			buf_put(b, ",", 1);
		json_put_str(b, v[i]);
	}
	buf_put(b, "]", 1);
}

/* The runtime-spec's features document: what this build does, truly. */
static int cmd_features(int argc, char **argv, int i)
{
	const char *ns[SB_NS_COUNT], *opts[LEN(mount_opts) + 1];
	struct buf b = {0};
	size_t k;

	if (i < argc)
		return usage_error("unexpected argument %s", argv[i]), 1;
	for (k = 0; k < SB_NS_COUNT; k++)
		ns[k] = ns_info[k].name;
	for (k = 0; k < LEN(mount_opts); k++)
		opts[k] = mount_opts[k].name;
	opts[k] = "tmpcopyup";
	buf_printf(&b, "{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"%s\",\"hooks\":",
	    SB_OCI_VERSION);
	json_put_strs(&b, hook_kind_names, SB_HOOK_KINDS);
	buf_puts(&b, ",\"mountOptions\":");
	json_put_strs(&b, opts, LEN(opts));
	buf_puts(&b, ",\"linux\":{\"namespaces\":");
	json_put_strs(&b, ns, SB_NS_COUNT);
	buf_puts(&b, ",\"capabilities\":");
	json_put_strs(&b, cap_names, LEN(cap_names));
	buf_puts(&b, ",\"cgroup\":{\"v1\":true,\"v2\":true,\"systemd\":false,"
	    "\"systemdUser\":false,\"rdma\":false},");
#if SB_WITH_SECCOMP
	buf_puts(&b, "\"seccomp\":{\"enabled\":true,"
	    "\"actions\":[\"SCMP_ACT_ALLOW\",\"SCMP_ACT_ERRNO\",\"SCMP_ACT_KILL\","
	    "\"SCMP_ACT_KILL_PROCESS\",\"SCMP_ACT_KILL_THREAD\",\"SCMP_ACT_LOG\","
	    "\"SCMP_ACT_TRACE\",\"SCMP_ACT_TRAP\"],\"operators\":[\"SCMP_CMP_EQ\","
	    "\"SCMP_CMP_GE\",\"SCMP_CMP_GT\",\"SCMP_CMP_LE\",\"SCMP_CMP_LT\","
	    "\"SCMP_CMP_MASKED_EQ\",\"SCMP_CMP_NE\"],\"archs\":[\"" SEC_ARCH_NAME "\"],"
	    "\"knownFlags\":[\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\","
	    "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\"supportedFlags\":[\"SECCOMP_FILTER_FLAG_TSYNC\","
	    "\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]},");
#else
	buf_puts(&b, "\"seccomp\":{\"enabled\":false},");
#endif
	buf_printf(&b,
	    "\"apparmor\":{\"enabled\":%s},\"selinux\":{\"enabled\":%s},"
	    "\"intelRdt\":{\"enabled\":false},\"mountExtensions\":{\"idmap\":{\"enabled\":false}}},"
	    "\"annotations\":{\"org.sandbox.version\":\"%s\"}}\n",
	    access("/sys/module/apparmor/parameters/enabled", F_OK) == 0 ? "true" : "false",
	    access("/sys/fs/selinux/enforce", F_OK) == 0 ? "true" : "false", SB_VERSION);
	if (b.oom)
		return err_set("out of memory"), fail(NULL);
	write_all(1, b.p, b.len);
	buf_free(&b);
	return 0;
}

static void usage(int fd)
{
	write_str(fd, "usage: sandbox [global options] command [options] [arguments]\n"
	    "\n"
	    "OCI runtime commands (as runc and crun take them):\n"
	    "  create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID\n"
	    "  start ID             run the created container's program\n"
	    "  run [create's options] [-d] [--init] ID\n"
	    "                       create and start; in the foreground, wait and delete\n"
	    "  state ID             its state, as JSON\n"
	    "  kill [--all] ID [SIGNAL]\n"
	    "  delete [--force] ID\n"
	    "  list [-q] [--format table|json]\n"
	    "  ps [--format table|json] ID [ps options]\n"
	    "  pause ID, resume ID  freeze and thaw its cgroup\n"
	    "  exec [--process F] [-t] [-d] [--cwd D] [-e K=V] [-u UID[:GID]] [--cap C]\n"
	    "       [--pid-file F] [--console-socket S] ID [COMMAND...]\n"
	    "  update [--resources F] [--memory N] [--cpu-quota N] [--pids-limit N] ... ID\n"
	    "  spec [--bundle DIR]  write a default config.json\n"
	    "  features             what this build supports, as JSON\n"
#if SB_WITH_IMAGES
	    "  run|create --image IMAGE [-e K=V] [-w DIR] [-u USER] [--entrypoint P]\n"
	    "       [-v SRC:DST[:ro]] [--tmpfs DST] [-m SIZE] [--cpus N] [--pids-limit N]\n"
	    "       [--hostname H] [--network none|host] [--cap-add C] [--cap-drop C]\n"
	    "       [--read-only] [--rm] [-t] [--init] [--security-opt O] ID [-- CMD...]\n"
	    "                       a container on an image of the store, as docker run\n"
	    "\n"
	    "image commands:\n"
	    "  pull [-q] [--platform P] [--ca F] [--insecure-registry HOST] [--authfile F]\n"
	    "       [--creds USER[:PASS]] [--timeout S] REF\n"
	    "  load [--name NAME] [--platform P] FILE|DIR   an OCI layout or archive,\n"
	    "                       or a docker save archive\n"
	    "  images [-q] [--format table|json]\n"
	    "  rmi [-f] IMAGE...    untag or remove, and free the layers nothing uses\n"
	    "  inspect IMAGE        its config and layers, as JSON\n"
	    "  unpack IMAGE DIR     its layers flattened into DIR\n"
	    "  export [-o FILE] ID  a container's files, as a tar\n"
	    "  commit ID NAME[:TAG] a container's changes as a new image\n"
#endif
	    "\n"
	    "global options:\n"
	    "  --root DIR           state directory (default " SB_STATE_DIR ")\n"
	    "  --store DIR          image store (default " SB_STORE_DIR ")\n"
	    "  --log FILE           also write errors there; --log-format text|json\n"
	    "  --debug              explain what is done, on stderr\n"
	    "  --systemd-cgroup     cgroupsPath is slice:prefix:name\n"
	    "  --version, --help\n"
	    "\n"
	    "exit status: 0 success; 1 failure; run and exec in the foreground: the\n"
	    "program's status (128+N if killed by signal N), 125 if the container could\n"
	    "not be started, 126 if its program cannot be executed, 127 if not found.\n");
}

int sandbox_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, int);
	} cmds[] = {
		{ "spec", cmd_spec }, { "start", cmd_start }, { "state", cmd_state },
		{ "kill", cmd_kill }, { "delete", cmd_delete }, { "list", cmd_list },
		{ "ps", cmd_ps }, { "exec", cmd_exec }, { "update", cmd_update },
		{ "features", cmd_features },
#if SB_WITH_IMAGES
		{ "load", cmd_load }, { "pull", cmd_pull }, { "images", cmd_images },
		{ "rmi", cmd_rmi }, { "inspect", cmd_inspect }, { "unpack", cmd_unpack },
		{ "export", cmd_export }, { "commit", cmd_commit },
#endif
	};
	int i = 1, help = 0, version = 0;
	const char *log_format = "text";
	struct opt opts[] = {
		{ "debug", 0, NULL, &sb_debug, NULL },
		{ "help", 'h', NULL, &help, NULL },
		{ "version", 'v', NULL, &version, NULL },
		{ "root", 0, &cli_root, NULL, NULL },
		{ "store", 0, &cli_store, NULL, NULL },
		{ "log", 0, &cli_log, NULL, NULL },
		{ "log-format", 0, &log_format, NULL, NULL },
		{ "systemd-cgroup", 0, NULL, &cli_systemd, NULL },
		{ NULL, 0, NULL, NULL, NULL },
	};
	size_t k;

	if (opts_parse(argc, argv, &i, opts) < 0)
		return 1;
	if (strcmp(log_format, "text") && strcmp(log_format, "json"))
		return usage_error("--log-format: text or json, not %s", log_format), 1;
	cli_log_json = !strcmp(log_format, "json");
	if (help) {
		usage(1);
		return 0;
	}
	if (version) {
		say(1, "sandbox version %s\nspec: %s\n", SB_VERSION, SB_OCI_VERSION);
		return 0;
	}
	if (i >= argc) {
		usage(2);
		return 1;
	}
	prog_cmd = argv[i];
	if (!strcmp(argv[i], "run"))
		return cmd_create_or_run(argc, argv, i + 1, SPAWN_RUN);
	if (!strcmp(argv[i], "create"))
		return cmd_create_or_run(argc, argv, i + 1, SPAWN_CREATE);
	if (!strcmp(argv[i], "pause") || !strcmp(argv[i], "resume"))
		return cmd_pause_resume(argc, argv, i + 1, argv[i][0] == 'p');
	for (k = 0; k < LEN(cmds); k++)
		if (!strcmp(argv[i], cmds[k].name))
			return cmds[k].fn(argc, argv, i + 1);
	usage_error("unknown command");
	return 1;
}

#ifndef SANDBOX_NO_MAIN
int main(int argc, char **argv)
{
	return sandbox_main(argc, argv);
}
#endif
