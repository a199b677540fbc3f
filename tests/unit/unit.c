/* tests/unit/unit.c: unit tests of sandbox.c's parsers and checks. The file
 * includes sandbox.c itself, so the static functions are in reach. Prints
 * one "ok - " or "not ok - " line per check; exits 1 if any failed. */
#define SANDBOX_NO_MAIN
#include "../../sandbox.c"

static int failures;

static void report(int good, const char *name, const char *why)
{
	if (good) {
		printf("ok - %s\n", name);
	} else {
		printf("not ok - %s: %s\n", name, why);
		failures++;
	}
}

/* ---------------------------------------------------------------- json */

static void json_accepts(const char *name, const char *text)
{
	struct arena a = {0};
	struct json *v = json_parse(&a, text, strlen(text));

	report(v != NULL, name, sb_error());
	arena_free(&a);
}

static void json_refuses(const char *name, const char *text, size_t len)
{
	struct arena a = {0};
	struct json *v = json_parse(&a, text, len);
	char why[1200];

	snprintf(why, sizeof why, "accepted, or message without \"json:\": %s",
	    v ? "(accepted)" : sb_error());
	report(!v && !strncmp(sb_error(), "json: ", 6), name, why);
	arena_free(&a);
}

static void test_json_values(void)
{
	struct arena a = {0};
	const char *t = "{\"s\":\"a\\u00e9\\ud83d\\ude00\\n\",\"i\":-42,\"u\":18446744073709551615,"
	    "\"f\":1.5e3,\"big\":18446744073709551616,\"l\":[true,false,null,{}],\"e\":\"\"}";
	struct json *v = json_parse(&a, t, strlen(t)), *x;
	char why[128];

	report(v && v->type == JSON_OBJECT && v->n == 7, "json: object with 7 members", sb_error());
	if (!v)
		return;
	x = json_get(v, "s");
	report(x && x->len == 8 && !memcmp(x->str, "a\xc3\xa9\xf0\x9f\x98\x80\n", 8),
	    "json: escapes and surrogate pairs decode to UTF-8", "wrong bytes");
	x = json_get(v, "i");
	report(x && x->isint && x->neg && x->u == 42, "json: negative integer", "wrong value");
	x = json_get(v, "u");
	report(x && x->isint && x->u == UINT64_MAX, "json: 2^64-1 is an integer", "wrong value");
	x = json_get(v, "f");
	report(x && !x->isint && !strcmp(x->str, "1.5e3"), "json: fraction kept as text only", "wrong");
	x = json_get(v, "big");
	report(x && !x->isint, "json: 2^64 overflows to not-an-integer", "isint set");
	x = json_get(v, "l");
	snprintf(why, sizeof why, "n=%zu", x ? x->n : 0);
	report(x && x->type == JSON_ARRAY && x->n == 4 && x->child->type == JSON_TRUE &&
	    x->child->next->next->type == JSON_NULL, "json: array of literals", why);
	report(json_get(v, "missing") == NULL, "json: absent member is NULL", "found");
	arena_free(&a);
}

static void test_json_hostile(void)
{
	static char deep[20001];
	static char longstr[1 << 20];

	json_accepts("json: empty object", "{}");
	json_accepts("json: whitespace around", " \t\r\n[ 1 , 2 ]\n ");
	json_accepts("json: 64 levels", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	json_refuses("json: 65 levels", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 130);
	memset(deep, '[', sizeof deep - 1);
	json_refuses("json: 20000 open brackets", deep, sizeof deep - 1);
	json_refuses("json: empty input", "", 0);
	json_refuses("json: trailing comma in array", "[1,]", 4);
	json_refuses("json: trailing comma in object", "{\"a\":1,}", 8);
	json_refuses("json: duplicate member", "{\"a\":1,\"a\":2}", 13);
	json_refuses("json: unterminated string", "\"abc", 4);
	json_refuses("json: raw control character", "\"a\tb\"", 5);
	json_refuses("json: bad escape", "\"\\x\"", 4);
	json_refuses("json: lone high surrogate", "\"\\ud83d\"", 8);
	json_refuses("json: lone low surrogate", "\"\\ude00\"", 8);
	json_refuses("json: invalid UTF-8", "\"\xff\"", 3);
	json_refuses("json: overlong UTF-8", "\"\xc0\xaf\"", 4);
	json_refuses("json: UTF-8 surrogate", "\"\xed\xa0\x80\"", 5);
	json_refuses("json: truncated UTF-8", "\"\xe2\x82\"", 4);
	json_refuses("json: leading zero", "01", 2);
	json_refuses("json: bare minus", "-", 1);
	json_refuses("json: dot without digits", "1.", 2);
	json_refuses("json: exponent without digits", "1e", 2);
	json_refuses("json: two values", "1 2", 3);
	json_refuses("json: bad literal", "tru", 3);
	json_refuses("json: NUL byte outside strings", "[1,\0 2]", 6);
	json_refuses("json: unquoted key", "{a:1}", 5);
	json_refuses("json: missing colon", "{\"a\" 1}", 7);
	json_refuses("json: missing value", "{\"a\":}", 6);
	json_refuses("json: single quotes", "['a']", 5);
	memset(longstr, 'x', sizeof longstr - 1);
	longstr[0] = '"';
	json_refuses("json: 1 MiB unterminated string", longstr, sizeof longstr - 1);
	longstr[sizeof longstr - 2] = '"';
	json_accepts("json: 1 MiB string", longstr);
}

static void test_json_writer(void)
{
	struct buf b = {0};

	json_put_str(&b, "a\"b\\c\n\x01\xc3\xa9");
	report(!b.oom && !strcmp(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\""),
	    "json: writer escapes quotes, backslashes and controls", b.p ? b.p : "(null)");
	buf_free(&b);
}

/* -------------------------------------------------------------- config */

#define BASE_PROCESS "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}"
#define BASE_ROOT "\"root\":{\"path\":\"rootfs\"}"
#define BASE_NS "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"uts\"}]}"

static struct sb_config *parse(const char *text)
{
	return sb_config_parse(text, strlen(text), "/bundle");
}

/* The config is refused, and the message holds want. */
static void config_refuses(const char *name, const char *text, const char *want)
{
	struct sb_config *c = parse(text);
	char why[2400];

	snprintf(why, sizeof why, "want \"%s\", got %s", want, c ? "(accepted)" : sb_error());
	report(!c && strstr(sb_error(), want), name, why);
	sb_config_free(c);
}

static void test_config_good(void)
{
	const char *t = "{\"ociVersion\":\"1.2.0\"," BASE_ROOT ",\"hostname\":\"h\","
	    "\"process\":{\"args\":[\"sh\",\"-c\",\"x\"],\"cwd\":\"/w\",\"env\":[\"A=1\"],"
	    "\"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6]},"
	    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":18446744073709551615}],"
	    "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHECKPOINT_RESTORE\"]},"
	    "\"oomScoreAdj\":100,\"unknownMember\":{\"is\":\"ignored\"}},"
	    "\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"data\","
	    "\"options\":[\"rbind\",\"ro\",\"rprivate\",\"size=1\"]}],"
	    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"uts\"},"
	    "{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"}],"
	    "\"resources\":{\"memory\":{\"limit\":1048576,\"swap\":2097152},"
	    "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0\"},"
	    "\"pids\":{\"limit\":10},\"devices\":[{\"allow\":false,\"access\":\"rwm\"}],"
	    "\"unified\":{\"memory.high\":\"max\"}},"
	    "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},\"rootfsPropagation\":\"rshared\","
	    "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"]}}";
	struct sb_config *c = parse(t);

	report(c != NULL, "config: a full config parses", sb_error());
	if (!c)
		return;
	report(!strcmp(c->root, "/bundle/rootfs"), "config: relative root is in the bundle", c->root);
	report(!strcmp(c->mounts[0].source, "/bundle/data"), "config: relative bind source is in the bundle",
	    c->mounts[0].source);
	report(c->mounts[0].bind && (c->mounts[0].flags & MS_RDONLY) && (c->mounts[0].flags & MS_REC) &&
	    c->mounts[0].propagation == (MS_PRIVATE | MS_REC) && !strcmp(c->mounts[0].data, "size=1"),
	    "config: mount options split into flags, propagation and data", "wrong flags");
	report(c->process.uid == 1000 && c->process.gid == 100 && c->process.ngids == 2 &&
	    c->process.umask == 18, "config: user", "wrong user");
	report(c->process.rlimits[0].hard == UINT64_MAX && c->process.rlimits[0].resource == RLIMIT_NOFILE,
	    "config: rlimit with 2^64-1 hard limit", "wrong rlimit");
	report(c->process.caps[SB_CAP_BOUNDING] == ((1ull << 5) | (1ull << 40)) &&
	    !c->process.caps[SB_CAP_EFFECTIVE], "config: capability bits", "wrong caps");
	report(c->ns[SB_NS_NET].enabled && !strcmp(c->ns[SB_NS_NET].path, "/proc/1/ns/net") &&
	    !c->ns[SB_NS_PID].enabled, "config: namespaces and paths", "wrong namespaces");
	report(c->res.mem_limit == 1048576 && c->res.mem_swap == 2097152 && c->res.cpu_shares == 512 &&
	    c->res.pids_limit == 10 && c->res.ndevices == 1 && c->res.nunified == 1,
	    "config: resources", "wrong resources");
	report(c->rootfs_propagation == (MS_SHARED | MS_REC), "config: rootfsPropagation", "wrong");
	sb_config_free(c);
}

static void test_config_bad(void)
{
	static const struct { const char *name, *text, *want; } cases[] = {
		{ "not an object", "[]", "(top level): expected an object" },
		{ "no ociVersion", "{" BASE_ROOT "," BASE_PROCESS "}", "ociVersion: missing" },
		{ "ociVersion 2", "{\"ociVersion\":\"2.0.0\"," BASE_ROOT "," BASE_PROCESS "}",
		  "ociVersion: \"2.0.0\" is not a 1.x version" },
		{ "no root", "{\"ociVersion\":\"1.0.0\"," BASE_PROCESS "}", "root: missing" },
		{ "no process", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "}", "process: missing" },
		{ "empty args", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[],\"cwd\":\"/\"}}",
		  "process.args: empty" },
		{ "args not strings", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\",1],\"cwd\":\"/\"}}",
		  "process.args[1]: expected a string" },
		{ "NUL in an arg", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\\u0000b\"],\"cwd\":\"/\"}}",
		  "process.args[0]: string holds a NUL character" },
		{ "relative cwd", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"w\"}}",
		  "process.cwd: \"w\" is not an absolute path" },
		{ "env without =", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"env\":[\"X\"]}}",
		  "process.env[0]: \"X\" is not KEY=value" },
		{ "terminal not boolean", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"terminal\":1}}",
		  "process.terminal: expected a boolean" },
		{ "negative uid", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}}",
		  "process.user.uid: -1 is out of range" },
		{ "uid 2^32", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"uid\":4294967296}}}",
		  "process.user.uid: 4294967296 is out of range" },
		{ "fractional gid", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"user\":{\"gid\":1.5}}}",
		  "process.user.gid: expected an integer, got 1.5" },
		{ "unknown capability", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\","
		  "\"capabilities\":{\"effective\":[\"CAP_KILL\",\"CAP_FLY\"]}}}",
		  "process.capabilities.effective[1]: unknown capability \"CAP_FLY\"" },
		{ "ambient not permitted", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\","
		  "\"capabilities\":{\"ambient\":[\"CAP_KILL\"]}}}",
		  "process.capabilities.ambient: every ambient capability must also be permitted" },
		{ "unknown rlimit", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\","
		  "\"rlimits\":[{\"type\":\"RLIMIT_X\",\"soft\":1,\"hard\":1}]}}",
		  "process.rlimits[0].type: unknown rlimit \"RLIMIT_X\"" },
		{ "duplicate rlimit", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\","
		  "\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":1,\"hard\":1},{\"type\":\"RLIMIT_CORE\",\"soft\":1,\"hard\":1}]}}",
		  "process.rlimits[1].type: duplicate rlimit \"RLIMIT_CORE\"" },
		{ "soft above hard", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\","
		  "\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":2,\"hard\":1}]}}",
		  "process.rlimits[0]: soft limit above hard limit" },
		{ "oomScoreAdj range", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT ",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\",\"oomScoreAdj\":1001}}",
		  "process.oomScoreAdj: 1001 is out of range" },
		{ "unknown namespace", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"namespaces\":[{\"type\":\"pids\"}]}}",
		  "linux.namespaces[0].type: unknown namespace type \"pids\"" },
		{ "namespace twice", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
		  "linux.namespaces[1].type: namespace \"pid\" listed twice" },
		{ "hostname without uts", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"hostname\":\"x\"}",
		  "hostname: needs a uts namespace" },
		{ "user ns without mappings", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}",
		  "a new user namespace needs uidMappings and gidMappings" },
		{ "mappings without user ns", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{"
		  "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}}",
		  "linux.uidMappings: given without a new user namespace" },
		{ "mapping without size", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{"
		  "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000}]}}",
		  "linux.uidMappings[0].size: missing" },
		{ "host sysctl", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"sysctl\":{\"kernel.panic\":\"1\"}}}",
		  "linux.sysctl.kernel.panic: not a namespaced sysctl" },
		{ "net sysctl without netns", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}}",
		  "linux.sysctl.net.ipv4.ip_forward: needs a network namespace" },
		{ "sysctl with ..", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"sysctl\":{\"net/../kernel\":\"1\"}}}",
		  "not a sysctl name" },
		{ "swap below limit", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"resources\":"
		  "{\"memory\":{\"limit\":2000000,\"swap\":1000000}}}}",
		  "linux.resources.memory.swap: 1000000 is below memory.limit" },
		{ "cpu shares range", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"resources\":"
		  "{\"cpu\":{\"shares\":1}}}}", "linux.resources.cpu.shares: 1 is out of range" },
		{ "kernel memory", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"resources\":"
		  "{\"memory\":{\"kernel\":1000000}}}}", "linux.resources.memory.kernel: not supported by sandbox" },
		{ "unified path", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"resources\":"
		  "{\"unified\":{\"../memory.max\":\"1\"}}}}", "linux.resources.unified.../memory.max: not a cgroup file name" },
		{ "unified core file", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"resources\":"
		  "{\"unified\":{\"cgroup.procs\":\"1\"}}}}", "linux.resources.unified.cgroup.procs: not a resource file" },
		{ "device rule access", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"resources\":"
		  "{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}}", "linux.resources.devices[0].access: \"rwx\" is not a subset" },
		{ "device type", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"devices\":"
		  "[{\"path\":\"/dev/x\",\"type\":\"z\",\"major\":1,\"minor\":1}]}}", "linux.devices[0].type: \"z\" is not one of" },
		{ "mount without destination", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"mounts\":[{\"type\":\"tmpfs\"}]}",
		  "mounts[0].destination: missing" },
		{ "mount without type", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"mounts\":[{\"destination\":\"/x\"}]}",
		  "mounts[0].type: missing for a mount that is not a bind mount" },
		{ "idmapped mount", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"mounts\":[{\"destination\":\"/x\","
		  "\"type\":\"bind\",\"source\":\"/x\",\"options\":[\"idmap\"]}]}", "idmapped mounts are not supported" },
		{ "rootfsPropagation", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"rootfsPropagation\":\"sideways\"}}",
		  "linux.rootfsPropagation: unknown propagation \"sideways\"" },
		{ "relative masked path", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"maskedPaths\":[\"proc\"]}}",
		  "linux.maskedPaths[0]: \"proc\" is not an absolute path" },
		{ "time offsets without timens", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"timeOffsets\":"
		  "{\"monotonic\":{\"secs\":1}}}}", "linux.timeOffsets: needs a new time namespace" },
		{ "hook path relative", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"hooks\":{\"prestart\":[{\"path\":\"x\"}]}}",
		  "hooks.prestart[0].path: \"x\" is not an absolute path" },
		{ "annotation not a string", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"annotations\":{\"a\":1}}",
		  "annotations.a: expected a string" },
		{ "intelRdt", "{\"ociVersion\":\"1.0.0\"," BASE_ROOT "," BASE_PROCESS ",\"linux\":{\"intelRdt\":{}}}",
		  "linux.intelRdt: not supported by sandbox" },
		{ "bad json", "{\"ociVersion\":", "json: line 1 column 15: unexpected end of input" },
	};
	char name[128];
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		snprintf(name, sizeof name, "config: refused: %s", cases[i].name);
		config_refuses(name, cases[i].text, cases[i].want);
	}
}

/* ---------------------------------------------------------------- misc */

static void test_misc(void)
{
	char buf[8];

	report(valid_id("web-1.a_b+c") && !valid_id("..") && !valid_id("a/b") && !valid_id(""),
	    "ids: letters, digits and _+-. only", "wrong");
	report(pathf(buf, sizeof buf, "%s", "1234567") == 0 && pathf(buf, sizeof buf, "%s", "12345678") < 0,
	    "pathf: refuses what does not fit", "wrong");
	report(sysctl_ns("kernel.shmmax") == SB_NS_IPC && sysctl_ns("fs.mqueue.msg_max") == SB_NS_IPC &&
	    sysctl_ns("net.core.somaxconn") == SB_NS_NET && sysctl_ns("vm.swappiness") < 0,
	    "sysctl: namespace of a key", "wrong");
}

/* chainIDs from a config's diff_ids, as load computes them: the vector
 * from a walk-through of Docker's layer store. */
static void test_chain(void)
{
	const char *t = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
	    "\"sha256:f2cb0ecef392f2a630fa1205b874ab2e2aedf96de04d0b8838e4e728e28142da\","
	    "\"sha256:a9f6b7c7101b86ffaa53dc29638e577dabf5b24150577a59199d8554d7ce2921\"]}}";
	struct arena a = {0};
	struct layer l[2];
	struct json *v = json_parse(&a, t, strlen(t));

	report(v && load_chain(v, l, 2, "test") == 0 &&
	    !strcmp(l[0].chain, "sha256:f2cb0ecef392f2a630fa1205b874ab2e2aedf96de04d0b8838e4e728e28142da") &&
	    !strcmp(l[1].chain, "sha256:bbb9cccab59a16cb6da78f8879e9d07a19e3a8d49010ab9c98a2c348fa116c87"),
	    "chainID: Docker's vector over two diff_ids", v ? l[1].chain : sb_error());
	report(v && load_chain(v, l, 1, "test") < 0 && strstr(sb_error(), "1 layers but 2 diff_ids"),
	    "chainID: layers and diff_ids must agree in number", sb_error());
	arena_free(&a);
}

/* Image references, normalised as Docker does. */
static void test_refs(void)
{
	static const char *const cases[][2] = {
		{ "busybox", "docker.io/library/busybox:latest" },
		{ "library/busybox:1.36", "docker.io/library/busybox:1.36" },
		{ "docker.io/peers/debian:bookworm", "docker.io/peers/debian:bookworm" },
		{ "index.docker.io/peers/debian", "docker.io/peers/debian:latest" },
		{ "localhost:5000/a/b:t", "localhost:5000/a/b:t" },
		{ "ghcr.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "ghcr.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	};
	static const char *const bad[] = { "", "a/UPPER", "a::b", "a/../b", "x@sha256:12", "-a" };
	char out[REF_STR_MAX], name[128];
	struct ref r;
	size_t k;

	for (k = 0; k < LEN(cases); k++) {
		int good = ref_parse(&r, cases[k][0]) == 0 && ref_format(&r, out, sizeof out) == 0 &&
		    !strcmp(out, cases[k][1]);

		strf(name, sizeof name, "reference: %s is %s", cases[k][0], cases[k][1]);
		report(good, name, good ? "" : sb_error());
	}
	for (k = 0; k < LEN(bad); k++) {
		strf(name, sizeof name, "reference: \"%s\" refused", bad[k]);
		report(ref_parse(&r, bad[k]) < 0, name, "accepted");
	}
	report(!strcmp(name_familiar("docker.io/library/busybox:latest"), "busybox:latest") &&
	    !strcmp(name_familiar("docker.io/peers/debian:bookworm"), "peers/debian:bookworm") &&
	    !strcmp(name_familiar("ghcr.io/a/b:1"), "ghcr.io/a/b:1"), "reference: Docker's short names", "");
}

/* The resolver's wire format: a query, and answers with compressed names,
 * a CNAME before the address, the other family, and hostile lengths. */
static void test_dns(void)
{
	static const unsigned char want_q[] = {
		0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'r', 'e', 'g', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1,
	};
	/* reg.example: CNAME cdn.example (compressed), A 192.0.2.7, AAAA 2001:db8::1 */
	static const unsigned char resp[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0,
		3, 'r', 'e', 'g', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1,
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'c', 'd', 'n', 0xc0, 16,
		0xc0, 41, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7,
		0xc0, 41, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	};
	unsigned char q[280], bad[sizeof resp];
	struct dns_answer r;
	int n;

	n = dns_query(q, "reg.example", 0x1234, 1);
	report(n == (int)sizeof want_q && !memcmp(q, want_q, sizeof want_q), "dns: an A query as RFC 1035 has it", "");
	report(dns_query(q, "a..b", 1, 1) < 0 && dns_query(q, "x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 1) < 0,
	    "dns: empty and over-long labels refused", "");
	memset(&r, 0, sizeof r);
	n = dns_parse(resp, sizeof resp, 0x1234, &r);
	report(n == 0 && r.n == 2 && r.v[0].family == AF_INET && !memcmp(r.v[0].a, "\300\000\002\007", 4) &&
	    r.v[1].family == AF_INET6 && r.v[1].a[0] == 0x20 && r.v[1].a[15] == 1,
	    "dns: a CNAME, then A and AAAA, through compressed names", "");
	memset(&r, 0, sizeof r);
	report(dns_parse(resp, sizeof resp, 0x4321, &r) < 0 && !r.n, "dns: an answer to another id is ignored", "");
	memset(&r, 0, sizeof r);
	n = dns_parse(resp, 60, 0x1234, &r);
	report(n == 0 && r.n == 0, "dns: a truncated answer yields what it holds whole", "");
	memcpy(bad, resp, sizeof resp);
	bad[40] = 0xff;                 /* the CNAME's rdlength: past the end */
	memset(&r, 0, sizeof r);
	n = dns_parse(bad, sizeof bad, 0x1234, &r);
	report(n == 0 && r.n == 0, "dns: a length past the end stops the walk", "");
	memcpy(bad, resp, sizeof resp);
	bad[3] = 0x83;                  /* NXDOMAIN */
	memset(&r, 0, sizeof r);
	report(dns_parse(bad, 12, 0x1234, &r) < 0, "dns: a header alone is refused", "");
	report(dns_parse(bad, sizeof bad, 0x1234, &r) == 3, "dns: NXDOMAIN is rcode 3", "");
	memset(&r, 0, sizeof r);
	report(dns_resolve("192.0.2.9", 100, &r) == 0 && r.n == 1 && r.v[0].a[3] == 9 &&
	    dns_resolve("::1", 100, &r) == 0 && r.n == 1 && r.v[0].family == AF_INET6,
	    "dns: literals need no lookup", sb_error());
	report(dns_resolve("localhost", 100, &r) == 0 && r.n >= 1, "dns: localhost from /etc/hosts", sb_error());
}

/* ----------------------------------------------------------------- pem */

#if SB_WITH_TLS
/* a self-signed P-256 certificate for CN=localhost, made for this test */
static const char test_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfTCCASOgAwIBAgIUdva1VQ/grNKPvB1BWvK/7V879cUwCgYIKoZIzj0EAwIw\n"
	"FDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2MTEyNjIwMzQ1NVoXDTI2MTEyNzIw\n"
	"MzQ1NVowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAE/NEeN65msZ65ruO9Yq7RsSMmiASCunKtb9TC3ASb9P5nYtxzE1VZrRcb\n"
	"Z0VH35ERdz9doCVVyIinyJxY8W27iqNTMFEwHQYDVR0OBBYEFB/TuqF6nBn4xb6Y\n"
	"9WkjFyNja54gMB8GA1UdIwQYMBaAFB/TuqF6nBn4xb6Y9WkjFyNja54gMA8GA1Ud\n"
	"EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIge/Icg+vADe5pJNWgurQgzEoE\n"
	"tMTRRNGx8W/X46m7SFcCIQDcPKD2SqA533YpcnjuPQh3zwC95qWNQnhCe7NE55y1\n"
	"ng==\n"
	"-----END CERTIFICATE-----\n";

/* Loads text as a PEM file; returns the number of trust anchors, or -1. */
static int pem_load(struct http_client *cl, const char *text, size_t len)
{
	char path[] = "/tmp/sbunit-pem-XXXXXX";
	int fd = mkstemp(path), r;

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		if (fd >= 0)
			close(fd), unlink(path);
		return -2;
	}
	close(fd);
	memset(cl, 0, sizeof *cl);
	r = http_ta_load(cl, path);
	unlink(path);
	return r < 0 ? -1 : (int)cl->nta;
}

static void pem_free(struct http_client *cl)
{
	free(cl->ta);
	arena_free(&cl->ta_arena);
}

static void test_pem(void)
{
	static const unsigned char dn[] = {
		0x30, 0x14, 0x31, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x09,
		'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
	};
	struct http_client cl;
	char text[4096], *d;
	const char *p;
	int n;

	n = pem_load(&cl, test_cert, strlen(test_cert));
	report(n == 1 && cl.ta[0].dn.len == sizeof dn && !memcmp(cl.ta[0].dn.data, dn, sizeof dn) &&
	    cl.ta[0].pkey.key_type == BR_KEYTYPE_EC && cl.ta[0].pkey.key.ec.curve == BR_EC_secp256r1 &&
	    cl.ta[0].pkey.key.ec.qlen == 65 && (cl.ta[0].flags & BR_X509_TA_CA),
	    "pem: a certificate becomes a trust anchor: its DN, P-256 key, CA flag", sb_error());
	pem_free(&cl);

	/* CRLF lines, comments, another kind of object first, no last newline */
	d = text + sprintf(text, "# a comment, as bundles have\r\n-----BEGIN PRIVATE KEY-----\r\n"
	    "AAAA!!notbase64\r\n-----END PRIVATE KEY-----\r\n");
	for (p = test_cert; *p; p++) {
		if (*p == '\n' && p[-1] == '-')
			*d++ = ' ';     /* a marker with trailing blanks */
		if (*p == '\n')
			*d++ = '\r';
		*d++ = *p;
	}
	d -= 2;
	*d = 0;
	n = pem_load(&cl, text, strlen(text));
	report(n == 1 && cl.ta[0].dn.len == sizeof dn, "pem: CRLF, blanks after markers, comments, a key skipped, no last newline", sb_error());
	pem_free(&cl);

	snprintf(text, sizeof text, "%s%s", test_cert, test_cert);
	report(pem_load(&cl, text, strlen(text)) == 2, "pem: two certificates, two anchors", sb_error());
	pem_free(&cl);

	snprintf(text, sizeof text, "%s", test_cert);
	text[60] = '*';
	report(pem_load(&cl, text, strlen(text)) == -1 && strstr(sb_error(), "bad PEM data: byte 0x2a in base64"),
	    "pem: a bad base64 byte is refused", sb_error());
	pem_free(&cl);

	snprintf(text, sizeof text, "%.*s", (int)(strstr(test_cert, "-----END") - test_cert), test_cert);
	report(pem_load(&cl, text, strlen(text)) == -1 && strstr(sb_error(), "without its END line"),
	    "pem: a certificate without its END line is refused", sb_error());
	pem_free(&cl);

	report(pem_load(&cl, "nothing here\n", 13) == -1 && strstr(sb_error(), "no usable certificate"),
	    "pem: a file without certificates is refused", sb_error());
	pem_free(&cl);

	snprintf(text, sizeof text, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	report(pem_load(&cl, text, strlen(text)) == -1, "pem: a certificate BearSSL cannot decode is skipped", sb_error());
	pem_free(&cl);
}
#endif

int main(void)
{
	test_json_values();
	test_json_hostile();
	test_json_writer();
	test_config_good();
	test_config_bad();
	test_misc();
	test_chain();
	test_refs();
	test_dns();
#if SB_WITH_TLS
	test_pem();
#endif
	return failures != 0;
}
