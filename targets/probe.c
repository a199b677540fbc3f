/*
 * probe: a stand-in for sandbox in the targets/ smoke tests. It exercises what the runtime
 * needs from each target's toolchain and kernel, with the same flags and libraries:
 * musl static, the kernel headers (-isystem build/TARGET/kh), BearSSL, namespaces, mounts,
 * pivot_root, overlay and cgroup2. No floating point (soft-float mipsel).
 *
 *   probe --version     "probe ARCH": proves the binary runs (qemu-user or the VM)
 *   probe all           sha256, caps, ns, overlay, cgroup: prints ok/not ok/skip lines
 *   probe sha256|caps|ns|overlay|cgroup    one of those
 *   probe pivot         pivot_root into a tmpfs in a new mount namespace; prints
 *                       "pivot_root: ok" or the error, exits 0 or with the errno
 * Exits 1 if any "not ok" was printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bearssl_hash.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

#if defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__aarch64__)
#define ARCH "aarch64"
#elif defined(__arm__)
#define ARCH "armv7"
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH "riscv64"
#elif defined(__mips__) && defined(__mips_soft_float)
#define ARCH "mipsel"
#elif defined(__mips__)
#define ARCH "mipsel-hardfloat"
#else
#define ARCH "unknown"
#endif

static int failures;

static void report(const char *status, const char *fmt, va_list ap)
{
	printf("%s - ", status);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	if (!ok)
		failures++;
	va_start(ap, fmt);
	report(ok ? "ok" : "not ok", fmt, ap);
	va_end(ap);
}

static void skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report("skip", fmt, ap);
	va_end(ap);
}


static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Runs fn in a child; returns its exit status, 128+signal if it was killed. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 255;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) < 0)
		return 255;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_sha256(void)
{
	static const unsigned char want[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
		0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	br_sha256_context ctx;
	unsigned char out[32];

	br_sha256_init(&ctx);
	br_sha256_update(&ctx, "abc", 3);
	br_sha256_out(&ctx, out);
	result(memcmp(out, want, 32) == 0, "bearssl sha256(\"abc\")");
}

static void test_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) != 0) {
		result(0, "capget: %s", strerror(errno));
		return;
	}
	result(1, "capget (linux/capability.h): effective %08x%08x",
	       data[1].effective, data[0].effective);
}

struct ns {
	const char *name;
	int flag;
};

/* After unshare, checks what the namespace is for: pid 1, a private mount, a hostname. */
static int ns_child(void *arg)
{
	const struct ns *ns = arg;
	char buf[32];

	if (unshare(ns->flag) != 0)
		return errno;
	if (ns->flag == CLONE_NEWUTS && sethostname("probe", 5) != 0)
		return errno;
	if (ns->flag & CLONE_NEWNS) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			return errno;
		if (mount("probe", "/tmp", "tmpfs", 0, "size=64k") != 0)
			return errno;
	}
	if (ns->flag & CLONE_NEWPID) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			ssize_t n;

			if (getpid() != 1)
				_exit(ESRCH);
			if (mount("proc", "/proc", "proc", 0, NULL) != 0)
				_exit(errno);
			n = readlink("/proc/self", buf, sizeof buf - 1);
			_exit(n == 1 && buf[0] == '1' ? 0 : ESRCH);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			return errno;
		return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
	}
	return 0;
}

static void test_ns(void)
{
	static const struct ns list[] = {
		{ "mnt (+ tmpfs mount)", CLONE_NEWNS },
		{ "uts (+ sethostname)", CLONE_NEWUTS },
		{ "ipc", CLONE_NEWIPC },
		{ "net", CLONE_NEWNET },
		{ "pid+mnt (pid 1, proc mount)", CLONE_NEWPID | CLONE_NEWNS },
		{ "cgroup", CLONE_NEWCGROUP },
		{ "user", CLONE_NEWUSER },
		{ "time", CLONE_NEWTIME },
	};
	size_t i;

	for (i = 0; i < sizeof list / sizeof list[0]; i++) {
		int err = in_child(ns_child, (void *)&list[i]);

		if (err == EINVAL && list[i].flag == CLONE_NEWTIME)
			skip("unshare time: EINVAL (kernel without CONFIG_TIME_NS)");
		else
			result(err == 0, "unshare %s%s%s", list[i].name,
			       err ? ": " : "", err ? strerror(err) : "");
	}
}

static int overlay_child(void *arg)
{
	char dir[64], opts[256], path[96];
	struct stat st;

	(void)arg;
	snprintf(dir, sizeof dir, "/tmp/probe-ovl.%d", (int)getpid());
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return 1;
	if (mkdir(dir, 0755) != 0 || mount("probe", dir, "tmpfs", 0, NULL) != 0)
		return 2;
	if (chdir(dir) != 0 || mkdir("l", 0755) || mkdir("u", 0755) || mkdir("w", 0755) ||
	    mkdir("m", 0755) || mkdir("l/lower", 0755))
		return 3;
	snprintf(opts, sizeof opts, "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", dir, dir, dir);
	if (mount("overlay", "m", "overlay", 0, opts) != 0)
		return 10 + errno;
	if (mkdir("m/upper", 0755) != 0 || stat("m/lower", &st) != 0 || stat("u/upper", &st) != 0)
		return 4;
	snprintf(path, sizeof path, "%s/l/upper", dir);
	return stat(path, &st) == 0 ? 5 : 0;
}

static void test_overlay(void)
{
	int st = in_child(overlay_child, NULL);

	if (st > 10 && st < 128)
		result(0, "overlay mount: %s", strerror(st - 10));
	else
		result(st == 0, "overlay mount (lower visible, writes land in upper)%s",
		       st ? ": step failed" : "");
}

static int pivot_child(void *arg)
{
	char dir[64], old[80];

	(void)arg;
	snprintf(dir, sizeof dir, "/tmp/probe-pivot.%d", (int)getpid());
	snprintf(old, sizeof old, "%s/old", dir);
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return errno;
	if (mkdir(dir, 0755) != 0 || mount("probe", dir, "tmpfs", 0, NULL) != 0 ||
	    mkdir(old, 0755) != 0)
		return errno;
	if (syscall(SYS_pivot_root, dir, old) != 0)
		return errno;
	if (chdir("/") != 0 || umount2("/old", MNT_DETACH) != 0)
		return errno;
	return 0;
}

static int test_pivot(void)
{
	int err = in_child(pivot_child, NULL);

	printf("pivot_root: %s\n", err ? strerror(err) : "ok");
	return err;
}

static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return 1;
	return 0;
}

/* In a group with memory.max 32 MiB, touches 64 MiB: the kernel must kill it. */
static int hog_child(void *arg)
{
	char *cg = arg, path[128], pid[16];
	size_t i, mib = 1 << 20;

	snprintf(path, sizeof path, "%s/cgroup.procs", cg);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	if (write_file(path, pid) != 0)
		return 1;
	for (i = 0; i < 64; i++) {
		char *p = malloc(mib);

		if (p == NULL)
			return 2;
		memset(p, 1, mib);
	}
	return 0;
}

static void test_cgroup(void)
{
	static const char *const want[] = { "memory", "pids", "cpu" };
	char have[256], cg[64], path[128], buf[64];
	size_t i;
	int st;

	if (read_file("/sys/fs/cgroup/cgroup.controllers", have, sizeof have) != 0) {
		result(0, "cgroup2 at /sys/fs/cgroup: %s", strerror(errno));
		return;
	}
	printf("# cgroup2 controllers: %s\n", have);
	for (i = 0; i < 3; i++)
		result(has_word(have, want[i]), "cgroup2 controller %s", want[i]);
	if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu") != 0) {
		result(0, "cgroup2 enable memory pids cpu: %s", strerror(errno));
		return;
	}
	snprintf(cg, sizeof cg, "/sys/fs/cgroup/probe.%d", (int)getpid());
	if (mkdir(cg, 0755) != 0 && errno != EEXIST) {
		result(0, "cgroup2 mkdir %s: %s", cg, strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/memory.max", cg);
	st = write_file(path, "33554432") == 0 && read_file(path, buf, sizeof buf) == 0 &&
	     strcmp(buf, "33554432") == 0;
	snprintf(path, sizeof path, "%s/pids.max", cg);
	st = st && write_file(path, "16") == 0;
	snprintf(path, sizeof path, "%s/cpu.max", cg);
	st = st && write_file(path, "50000 100000") == 0;
	result(st, "cgroup2 memory.max, pids.max, cpu.max written");
	st = in_child(hog_child, cg);
	result(st == 128 + SIGKILL, "cgroup2 memory.max enforced (64 MiB in a 32 MiB group: %s)",
	       st == 128 + SIGKILL ? "killed" : "not killed");
	if (rmdir(cg) != 0)
		result(0, "cgroup2 rmdir: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "all";
	int all = strcmp(cmd, "all") == 0;

	if (strcmp(cmd, "--version") == 0) {
		printf("probe " ARCH "\n");
		return 0;
	}
	if (strcmp(cmd, "pivot") == 0)
		return test_pivot();
	if (all || strcmp(cmd, "sha256") == 0)
		test_sha256();
	if (all || strcmp(cmd, "caps") == 0)
		test_caps();
	if (all || strcmp(cmd, "ns") == 0)
		test_ns();
	if (all || strcmp(cmd, "overlay") == 0)
		test_overlay();
	if (all || strcmp(cmd, "cgroup") == 0)
		test_cgroup();
	return failures ? 1 : 0;
}
