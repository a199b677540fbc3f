/* tests/tools/recvtty.c: the engine's side of --console-socket, for tests.
 *
 *	recvtty SOCKET [INPUT]
 *
 * Listens on SOCKET, takes one connection, receives the terminal master
 * sent with SCM_RIGHTS, writes INPUT to it (if given), and copies what the
 * container writes to stdout until the terminal closes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int recv_fd(int sock)
{
	char buf[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof buf };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	int fd = -1;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	if (recvmsg(sock, &mh, 0) < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t n;
	int ls, c, master;

	if (argc < 2 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: recvtty SOCKET [INPUT]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	if ((ls = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0) {
		perror("recvtty: listen");
		return 1;
	}
	if ((c = accept(ls, NULL, NULL)) < 0 || (master = recv_fd(c)) < 0) {
		perror("recvtty: receive");
		return 1;
	}
	close(c);
	close(ls);
	unlink(argv[1]);
	printf("recvtty: got a terminal\n");
	fflush(stdout);
	if (argc > 2 && write(master, argv[2], strlen(argv[2])) < 0)
		perror("recvtty: write");
	while ((n = read(master, buf, sizeof buf)) > 0)
		if (write(1, buf, (size_t)n) < 0)
			break;
	return 0;
}
