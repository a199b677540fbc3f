/* sandbox.h - public types and embeddable API of sandbox.
 *
 * A C program can compile sandbox.c with -DSANDBOX_NO_MAIN, link it, and run a
 * container from a parsed OCI config:
 *
 *	struct sb_config *c = sb_config_load("/path/to/bundle");
 *	struct sb_run_opts o = { .id = "web" };
 *	int status = c ? sb_run(c, &o) : -1;
 *	if (status < 0)
 *		fprintf(stderr, "%s\n", sb_error());
 *	sb_config_free(c);
 *
 * Functions return -1 (or NULL) on error and leave a message naming the
 * object and the cause in sb_error(). Strings in a config are owned by it.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#define SB_VERSION "0.1.0"
#define SB_OCI_VERSION "1.2.0"

/* A value absent from config.json. */
#define SB_UNSET INT64_MIN

enum sb_ns {
	SB_NS_PID, SB_NS_NET, SB_NS_MNT, SB_NS_IPC, SB_NS_UTS,
	SB_NS_USER, SB_NS_CGROUP, SB_NS_TIME, SB_NS_COUNT
};

enum sb_capset {
	SB_CAP_BOUNDING, SB_CAP_EFFECTIVE, SB_CAP_INHERITABLE,
	SB_CAP_PERMITTED, SB_CAP_AMBIENT, SB_CAP_SETS
};

struct sec_prog;

struct sb_kv {
	const char *key, *value;
};

struct sb_namespace {
	int enabled;      /* listed in linux.namespaces */
	const char *path; /* join this one instead of making a new one */
};

struct sb_idmap {
	uint32_t container_id, host_id, size;
};

struct sb_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct sb_mount {
	const char *destination, *source, *type;
	const char *data;           /* options that are not flags, comma-joined */
	unsigned long flags;        /* MS_* to set */
	unsigned long clear;        /* MS_* that options such as "rw" clear */
	unsigned long propagation;  /* MS_SHARED etc., with MS_REC */
	unsigned long rec_set;      /* recursive attributes ("rro", ...): MOUNT_ATTR_* */
	unsigned long rec_clear;
	int bind;                   /* bind or rbind */
};

struct sb_device {
	const char *path;
	char type;                  /* 'c', 'b', 'u' or 'p' */
	int64_t major, minor;
	uint32_t mode, uid, gid;    /* mode includes the permission bits */
	int has_mode, has_uid, has_gid;
};

struct sb_devrule {
	int allow;
	char type;                  /* 'a', 'c' or 'b' */
	int64_t major, minor;       /* -1 for any */
	char access[4];             /* subset of "rwm" */
};

struct sb_resources {
	int64_t mem_limit, mem_reservation, mem_swap;
	int64_t cpu_shares, cpu_quota, cpu_period;
	const char *cpus, *mems;
	int64_t pids_limit;
	int64_t blkio_weight;
	struct sb_kv *unified;
	size_t nunified;
	struct sb_devrule *devices;
	size_t ndevices;
	int has_devices;            /* linux.resources.devices was given */
};

struct sb_hook {
	const char *path;
	const char **args, **env;   /* NULL-terminated, may be NULL */
	int64_t timeout;            /* seconds, SB_UNSET for none */
};

enum sb_hook_kind {
	SB_HOOK_PRESTART, SB_HOOK_CREATE_RUNTIME, SB_HOOK_CREATE_CONTAINER,
	SB_HOOK_START_CONTAINER, SB_HOOK_POSTSTART, SB_HOOK_POSTSTOP,
	SB_HOOK_KINDS
};

struct sb_process {
	int terminal;
	const char **args;          /* NULL-terminated */
	const char **env;           /* NULL-terminated */
	const char *cwd;
	uint32_t uid, gid;
	uint32_t *gids;
	size_t ngids;
	int64_t umask;              /* SB_UNSET: SB_DEFAULT_UMASK */
	struct sb_rlimit *rlimits;
	size_t nrlimits;
	int no_new_privileges;
	int has_caps;               /* process.capabilities was given */
	uint64_t caps[SB_CAP_SETS]; /* bit n is capability n */
	int64_t oom_score_adj;      /* SB_UNSET: leave it */
	const char *apparmor;       /* profile, or NULL */
	const char *selinux;        /* label, or NULL */
};

/* sandbox's own extension: the rootfs as an overlay of image layers. */
struct sb_overlay {
	const char *layers;         /* the directory lower names are in */
	const char **lower;         /* top first */
	size_t nlower;
	const char *upper, *work;
};

struct sb_config {
	const char *oci_version;
	const char *bundle;         /* absolute */
	const char *root;           /* absolute */
	int root_readonly;
	const char *hostname, *domainname;
	struct sb_process process;
	struct sb_mount *mounts;
	size_t nmounts;
	struct sb_hook *hooks[SB_HOOK_KINDS];
	size_t nhooks[SB_HOOK_KINDS];
	struct sb_kv *annotations;
	size_t nannotations;
	/* linux */
	struct sb_namespace ns[SB_NS_COUNT];
	struct sb_idmap *uid_map, *gid_map;
	size_t nuid_map, ngid_map;
	const char *cgroups_path;
	int has_resources;
	struct sb_resources res;
	const char **masked_paths, **readonly_paths;
	size_t nmasked, nreadonly;
	struct sb_kv *sysctl;
	size_t nsysctl;
	struct sb_device *devices;
	size_t ndevices;
	unsigned long rootfs_propagation; /* 0: the default (private) */
	int64_t time_offset[2][2];  /* [monotonic, boottime][secs, nanosecs] */
	int has_time_offsets;
	struct sb_overlay *overlay; /* org.sandbox.overlay, or NULL */
	struct sec_prog *seccomp;    /* linux.seccomp, compiled; NULL: none */
	void *priv;                 /* the arena that owns all of the above */
};

struct sb_run_opts {
	const char *id;             /* container id */
	const char *state_root;     /* NULL: SB_STATE_DIR */
	int init;                   /* sandbox itself is PID 1 inside */
	int preserve_fds;           /* pass fds 3 .. 3+n-1 */
	int debug;
};

/* config.json of a bundle directory (path relative to the cwd). */
struct sb_config *sb_config_load(const char *bundle);
/* A config.json text; bundle is the directory relative paths refer to. */
struct sb_config *sb_config_parse(const char *json, size_t len, const char *bundle);
void sb_config_free(struct sb_config *c);

/* Run the container in the foreground. Returns its exit status (128+N when
 * killed by signal N), or -1 when it could not be started. */
int sb_run(const struct sb_config *c, const struct sb_run_opts *o);

const char *sb_error(void);

#endif
