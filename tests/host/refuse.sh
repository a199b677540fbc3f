#!/bin/sh
# Host tests: bad input is refused with a message naming the JSON path,
# before anything is created; a start that fails midway leaves nothing.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
m0=$(mount_count)

nothing_left() {
	expect "$1: no state, cgroup or mount left" "::$m0" \
		"$(ls -d /run/sandbox/sbt-$2-$$ 2>/dev/null):$(ls -d /sys/fs/cgroup/*/sandbox/sbt-$2-$$ 2>/dev/null):$(mount_count)"
}

cfg_caps='"bounding":["CAP_KILL","CAP_TELEPORT"]'
ct badcap '"true"'
expect_match "unknown capability: refused, path named" '^125 .*config.json: process.capabilities.bounding\[1\]: unknown capability "CAP_TELEPORT"' "$rc $out"
nothing_left "unknown capability" badcap
cfg_reset

cfg_resources='"memory": { "limit": "lots" }'
ct badtype '"true"'
expect_match "wrong type: refused, path named" 'linux.resources.memory.limit: expected a number' "$out"
nothing_left "wrong type" badtype
cfg_reset

mkdir -p "$T/badjson"
printf '{ "ociVersion": "1.2.0",\n  "process": { "args": [ "sh" ] ' >"$T/badjson/config.json"
run_ct badjson
expect_match "truncated config.json: refused with the position" 'config.json: json: line 2 column 33: expected' "$out"
nothing_left "truncated config.json" badjson

cfg_mounts='{ "destination": "/data", "type": "bind", "source": "/nonexistent/sbt", "options": [ "bind" ] }'
cfg_resources='"pids": { "limit": 50 }'
ct badmount '"true"'
expect_match "missing bind source: fails, the mount named" '^125 .*mounts\[6\]: mount source /nonexistent/sbt: No such file or directory' "$rc $out"
nothing_left "missing bind source (after the cgroup was made)" badmount
cfg_reset

cfg_cwd=/nonexistent
ct badcwd '"true"'
expect_match "missing cwd: fails, named" 'process.cwd /nonexistent: No such file or directory' "$out"
nothing_left "missing cwd" badcwd
cfg_reset

# a container id is unique while it runs
cfg_args='"sleep","3"'
write_config "$T/dup"
"$SANDBOX" run --bundle "$T/dup" "sbt-dup-$$" >/dev/null 2>&1 &
bg=$!
i=0
while [ ! -e "/run/sandbox/sbt-dup-$$/state.json" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
rc=0
"$SANDBOX" run --bundle "$T/dup" "sbt-dup-$$" >"$T/dup.out" 2>&1 || rc=$?
expect_match "a second container with a running one's id: refused" "^125 .*container \"sbt-dup-$$\" already exists" "$rc $(cat "$T/dup.out")"
kill "$(sed 's/.*"pid":\([0-9]*\).*/\1/' "/run/sandbox/sbt-dup-$$/state.json")" 2>/dev/null
kill -9 "$(sed 's/.*"pid":\([0-9]*\).*/\1/' "/run/sandbox/sbt-dup-$$/state.json")" 2>/dev/null
wait $bg
nothing_left "after the first one ends" dup

cfg_reset
ct badid '"true"'
rc=0
"$SANDBOX" run --bundle "$T/badid" "../escape" >"$T/badid.out" 2>&1 || rc=$?
expect_match "a container id with a slash: refused" "^125 .*container id \"../escape\": use letters" "$rc $(cat "$T/badid.out")"
