/* tests/tools/sysprobe.c: makes one system call and says what happened, for
 * the seccomp and confinement tests (built static, copied into the test
 * rootfs).
 *
 *	sysprobe NAME    keyctl, unshare-user, unshare-ns, mount, personality,
 *	                 getpid, mkdir, int80 (x86_64: an i386 syscall), x32
 *
 * Prints "ok" or "errno N"; a killed probe says nothing (its status does). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long call(const char *name)
{
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
	if (!strcmp(name, "unshare-user"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(name, "unshare-ns"))
		return unshare(CLONE_NEWNS);
	if (!strcmp(name, "mount"))
		return mount("none", "/tmp", "tmpfs", 0, NULL);
	if (!strcmp(name, "personality"))
		return personality(0xffffffff);
	if (!strcmp(name, "personality-bad"))
		return personality(PER_BSD);
	if (!strcmp(name, "getpid"))
		return syscall(SYS_getpid);
	if (!strcmp(name, "mkdir"))
		return mkdir("/tmp/sysprobe", 0700);
#if defined(__x86_64__)
	if (!strcmp(name, "int80")) {
		long r;

		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		return r;
	}
	if (!strcmp(name, "x32"))
		return syscall(0x40000000 | SYS_getpid);
#endif
	errno = EINVAL;
	fprintf(stderr, "sysprobe: unknown call %s\n", name);
	return -2;
}

int main(int argc, char **argv)
{
	long r;

	if (argc != 2)
		return 2;
	r = call(argv[1]);
	if (r == -2)
		return 2;
	if (r < 0)
		printf("errno %d\n", errno);
	else
		printf("ok\n");
	return 0;
}
