/* config.def.h - compile-time configuration of sandbox.
 *
 * Copy to config.h (the Makefile does it when config.h is missing) and edit
 * config.h; config.def.h holds the defaults. Every knob is guarded, so a
 * build can also override one with -DNAME=value.
 */

/* Where runtime state lives: one directory per container (state.json, lock,
 * exec fifo). A tmpfs, so that a reboot forgets containers. --root overrides. */
#ifndef SB_STATE_DIR
#define SB_STATE_DIR "/run/sandbox"
#endif

/* Where images and layers are kept. --store overrides. */
#ifndef SB_STORE_DIR
#define SB_STORE_DIR "/var/lib/sandbox"
#endif

/* The cgroup of a container whose config.json has no linux.cgroupsPath:
 * this parent, from the root of each hierarchy, then the container id.
 * Absolute on purpose: on cgroup v2 a process's own cgroup may hold
 * processes, and controllers cannot be enabled below such a cgroup. */
#ifndef SB_CGROUP_PARENT
#define SB_CGROUP_PARENT "/sandbox"
#endif

/* PATH used to find the container's program when its env has no PATH. */
#ifndef SB_DEFAULT_PATH
#define SB_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#endif

/* Largest config.json accepted, and deepest JSON nesting. */
#ifndef SB_CONFIG_MAX
#define SB_CONFIG_MAX (4 << 20)
#endif
#ifndef SB_JSON_MAX_DEPTH
#define SB_JSON_MAX_DEPTH 64
#endif

/* How long the runtime waits, after the container's PID 1 is gone, for the
 * rest of its cgroup to die before it reports the cgroup as busy. */
#ifndef SB_CGROUP_DRAIN_MS
#define SB_CGROUP_DRAIN_MS 2000
#endif

/* With process.terminal, `run` and `exec` pass the end of their stdin on
 * as a ^D once the program has read all it was sent and the terminal has
 * been quiet this long: a ^D sent earlier can reach a shell before it
 * starts its line editor, and be lost. */
#ifndef SB_TTY_EOF_QUIET_MS
#define SB_TTY_EOF_QUIET_MS 200
#endif

/* Default umask of the container process when config.json sets none
 * (runc and crun use the same). */
#ifndef SB_DEFAULT_UMASK
#define SB_DEFAULT_UMASK 022
#endif

/* Most image layers mounted as one overlay: an image with more has its
 * bottom layers squashed into one (made once, kept in the store). The
 * kernel takes 500; with the store's short names 200 fit in the page
 * that mount options may fill. */
#ifndef SB_OVL_MAX_LOWER
#define SB_OVL_MAX_LOWER 120
#endif

/* The largest zstd window a layer may ask for (its history is kept in
 * memory while it unpacks): zstd's own default limit. A device with little
 * RAM sets it lower; a layer asking more is refused, naming both sizes. */
#ifndef SB_ZSTD_WINDOW_MAX
#define SB_ZSTD_WINDOW_MAX ((uint64_t)1 << 27)
#endif

/* Trust anchors for https registries (PEM, all CERTIFICATE blocks read). */
#ifndef SB_CA_BUNDLE
#define SB_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#endif

/* Network timeouts: connecting, and any single wait for data to read or
 * room to write. */
#ifndef SB_HTTP_CONNECT_TIMEOUT_MS
#define SB_HTTP_CONNECT_TIMEOUT_MS 15000
#endif
#ifndef SB_HTTP_IO_TIMEOUT_MS
#define SB_HTTP_IO_TIMEOUT_MS 30000
#endif

/* Open connections kept for reuse: two, so that a registry and the host
 * its blobs redirect to (a CDN) both stay open during a pull. Each TLS
 * connection holds about 40 KB (BearSSL's full-duplex buffer and context). */
#ifndef SB_HTTP_CONNS
#define SB_HTTP_CONNS 2
#endif

/* Largest response head, header count, URL (path and query: signed CDN
 * URLs are long), redirects followed. */
#ifndef SB_HTTP_HEAD_MAX
#define SB_HTTP_HEAD_MAX 16384
#endif
#ifndef SB_HTTP_MAX_HEADERS
#define SB_HTTP_MAX_HEADERS 64
#endif
#ifndef SB_HTTP_URL_MAX
#define SB_HTTP_URL_MAX 4096
#endif
#ifndef SB_HTTP_MAX_REDIRECTS
#define SB_HTTP_MAX_REDIRECTS 5
#endif

/* Largest manifest or index read into memory, and how many times a blob
 * download is resumed after the connection dropped (backoff 0.5 s, 1 s,
 * 2 s, ...). */
#ifndef SB_MANIFEST_MAX
#define SB_MANIFEST_MAX (4 << 20)
#endif
#ifndef SB_REG_RETRIES
#define SB_REG_RETRIES 4
#endif

#ifndef SB_HTTP_AGENT
#define SB_HTTP_AGENT "sandbox/0.1"
#endif

/* Optional features: 0 leaves the code out of the binary. */
#ifndef SB_WITH_TLS
#define SB_WITH_TLS 1 /* HTTPS registry client (BearSSL) */
#endif
#ifndef SB_WITH_SECCOMP
#define SB_WITH_SECCOMP 1 /* linux.seccomp and the default profile */
#endif
#ifndef SB_WITH_IMAGES
#define SB_WITH_IMAGES 1 /* the image store: pull, load, images, rmi, commit,
                          * export, run --image (0: an OCI runtime alone) */
#endif
