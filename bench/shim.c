/* bench/shim.c: one container's life as an engine drives the runtime.
 *
 *	shim ID BUNDLE RUNTIME [GLOBAL-OPTIONS...]
 *
 * Runs "RUNTIME... create --bundle BUNDLE --pid-file BUNDLE/ID.pid ID",
 * "start ID", waits for the container's process to exit, then "delete ID",
 * and exits 0 when all of it succeeded. The wait is the one containerd-shim
 * and conmon do: a child subreaper, to which the container's process falls
 * when the runtime that made it exits; no polling of "state", which would
 * time the runtime's state as well. Whatever else the runtime leaves to be
 * reaped is reaped on the way. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static char *argv_rt[64];
static int nrt;

/* Runs RUNTIME [GLOBAL-OPTIONS] VERB ARGS... (up to a NULL): 0 if it
 * succeeded, else -1 */
static int call(const char *verb, const char *a1, const char *a2, const char *a3, const char *a4,
    const char *a5)
{
	const char *extra[] = { verb, a1, a2, a3, a4, a5 };
	char *argv[72];
	int i, n = 0, st;
	pid_t p;

	for (i = 0; i < nrt; i++)
		argv[n++] = argv_rt[i];
	for (i = 0; i < 6 && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	if ((p = fork()) < 0)
		return -1;
	if (p == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "shim: %s %s: status %d\n", argv[0], verb, st);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char pidfile[4096], buf[32];
	const char *id, *bundle;
	pid_t ct = 0, w;
	FILE *f;
	int i, st, rc = 0;

	if (argc < 4 || argc - 3 > 60) {
		fprintf(stderr, "usage: shim ID BUNDLE RUNTIME [GLOBAL-OPTIONS...]\n");
		return 2;
	}
	id = argv[1];
	bundle = argv[2];
	for (i = 3; i < argc; i++)
		argv_rt[nrt++] = argv[i];
	snprintf(pidfile, sizeof pidfile, "%s/%s.pid", bundle, id);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("shim: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	if (call("create", "--bundle", bundle, "--pid-file", pidfile, id) < 0 || !(f = fopen(pidfile, "r"))) {
		call("delete", "--force", id, NULL, NULL, NULL);
		return 1;
	}
	if (fgets(buf, sizeof buf, f))
		ct = (pid_t)atoi(buf);
	fclose(f);
	unlink(pidfile);
	if (ct <= 0 || call("start", id, NULL, NULL, NULL, NULL) < 0) {
		call("delete", "--force", id, NULL, NULL, NULL);
		return 1;
	}
	/* until the container's process is reaped, or nothing is left that
	 * could be it (a runtime that keeps it as its own child, say) */
	while ((w = wait(&st)) != ct)
		if (w < 0 && errno != EINTR)
			break;
	if (w == ct && (!WIFEXITED(st) || WEXITSTATUS(st))) {
		fprintf(stderr, "shim: %s: the container's process: status %d\n", id, st);
		rc = 1;
	}
	if (call("delete", id, NULL, NULL, NULL, NULL) < 0)
		rc = 1;
	return rc;
}
