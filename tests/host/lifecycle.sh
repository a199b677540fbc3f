#!/bin/sh
# Host tests: the OCI lifecycle as engines drive it: create, start, state,
# exec, ps, pause, resume, kill, delete, list, update, hooks, terminals.
. "$(dirname "$0")/../lib.sh"
make_rootfs "$T/rootfs"
R=$T/state
sb() { "$SANDBOX" --root "$R" "$@"; }
status_of() { sb state "$1" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }
pid_of() { sb state "$1" 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'; }
cc -O2 -o "$T/recvtty" "$(dirname "$0")/../tools/recvtty.c"

# --- create, state, start
cfg_args='"sleep","100"'
write_config "$T/b1"
rc=0
sb create --bundle "$T/b1" --pid-file "$T/b1.pid" c1 >"$T/c1.out" 2>&1 || rc=$?
expect "create: status 0" 0 "$rc"
expect "create: state is created" created "$(status_of c1)"
expect "create: --pid-file holds the container's pid" "$(pid_of c1)" "$(cat "$T/b1.pid" 2>/dev/null)"
expect_match "create: state has the spec's fields" '"ociVersion":"1.2.0","id":"c1","status":"created","pid":[0-9]+,"bundle":"'"$T"'/b1"' "$(sb state c1)"
rc=0
sb create --bundle "$T/b1" c1 >"$T/dup.out" 2>&1 || rc=$?
expect_match "create: a duplicate id is refused" '^1 sandbox: create c1: container "c1" already exists' "$rc $(cat "$T/dup.out")"
rc=0
sb delete c1 >"$T/del.out" 2>&1 || rc=$?
expect_match "delete of a created container fails (spec MUST)" '^1 .*container is created' "$rc $(cat "$T/del.out")"
check "start" sb start c1
expect "start: state is running" running "$(status_of c1)"
rc=0
sb start c1 >"$T/start2.out" 2>&1 || rc=$?
expect_match "start twice: refused" '^1 .*container is running, not created' "$rc $(cat "$T/start2.out")"

# --- exec
out=$(sb exec c1 sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "; exit 5' 2>&1); rc=$?
expect "exec: output and exit status" "5 2 sleep 100" "$rc $(echo $out)"
out=$(sb exec --env FOO=bar --cwd /tmp --user 1000:1001 c1 sh -c 'echo $FOO $(pwd) $(id -u):$(id -g)' 2>&1)
expect "exec: --env, --cwd, --user" "bar /tmp 1000:1001" "$out"
out=$(sb exec c1 sh -c 'cat /proc/self/cgroup; echo; cat /proc/1/cgroup' 2>&1)
expect "exec: in the container's cgroups (as PID 1 sees them)" "$(printf '%s\n' "$out" | sed -n '1,/^$/p' | sed '/^$/d')" "$(printf '%s\n' "$out" | sed -n '/^$/,$p' | sed '/^$/d')"
check "exec: in the container's cgroup (as the host sees it)" grep -q "^0::/sandbox/c1$" /proc/$(sb exec -d --pid-file "$T/cg.pid" c1 sleep 5 && cat "$T/cg.pid")/cgroup
cat >"$T/proc.json" <<EOF
{ "args": [ "sh", "-c", "echo from-file \$X" ], "env": [ "PATH=/bin", "X=42" ], "cwd": "/", "user": { "uid": 0, "gid": 0 } }
EOF
out=$(sb exec --process "$T/proc.json" c1 2>&1)
expect "exec --process FILE" "from-file 42" "$out"
rc=0
sb exec c1 no-such-cmd >"$T/ex.out" 2>&1 || rc=$?
expect_match "exec: missing program: 127 with the reason" '^127 .*executable file not found' "$rc $(cat "$T/ex.out")"
rc=0
sb exec --detach --pid-file "$T/ex.pid" c1 sleep 30 || rc=$?
expect "exec --detach: status 0" 0 "$rc"
check "exec --detach: its pid file names a live process" kill -0 "$(cat "$T/ex.pid")"

# --- ps
expect "ps --format json: the container's processes" "[$(pid_of c1),$(cat "$T/ex.pid")]" "$(sb ps --format json c1)"
expect_match "ps: ps(1)'s table, only the container's lines" '^UID +PID .*
root +'"$(pid_of c1)"' .*sleep 100' "$(sb ps c1)"

# --- pause, resume
check "pause" sb pause c1
expect "pause: state is paused" paused "$(status_of c1)"
rc=0
sb exec c1 true >"$T/exp.out" 2>&1 || rc=$?
expect_match "exec into a paused container: refused" 'container is paused' "$(cat "$T/exp.out")"
check "resume" sb resume c1
expect "resume: state is running" running "$(status_of c1)"

# --- kill, delete
rc=0
sb kill c1 NOPE >"$T/k.out" 2>&1 || rc=$?
expect_match "kill: an unknown signal is refused" '^1 .*unknown signal "NOPE"' "$rc $(cat "$T/k.out")"
check "kill --all KILL" sb kill --all c1 KILL
i=0; while [ "$(status_of c1)" != stopped ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
expect "kill: state is stopped" stopped "$(status_of c1)"
rc=0
sb kill c1 TERM >"$T/k2.out" 2>&1 || rc=$?
expect_match "kill of a stopped container: refused" '^1 .*is not running' "$rc $(cat "$T/k2.out")"
check "delete a stopped container" sb delete c1
expect "delete: gone" "" "$(sb list -q)"
expect "delete: no cgroup left" "" "$(ls -d /sys/fs/cgroup/*/sandbox/c1 2>/dev/null)"
rc=0
sb state c1 >"$T/st.out" 2>&1 || rc=$?
expect_match "state of an unknown container: refused" '^1 .*container "c1" does not exist' "$rc $(cat "$T/st.out")"
check "delete --force of an unknown container: no error (as runc)" sb delete --force c1

# --- signals by name and number; run -d; delete --force
cfg_args='"sh","-c","trap \"exit 7\" USR1; while :; do sleep 0.05; done"'
write_config "$T/b2"
check "run -d" sb run -d --bundle "$T/b2" c2
expect "run -d: running" running "$(status_of c2)"
check "kill SIGUSR1 by name" sb kill c2 SIGUSR1
i=0; while [ "$(status_of c2)" != stopped ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
expect "kill: the trap ran, PID 1 exited" stopped "$(status_of c2)"
check "delete c2" sb delete c2
check "run -d again" sb run -d --bundle "$T/b2" c3
check "delete --force of a running container" sb delete --force c3
expect "delete --force: gone, no cgroup left" ":" "$(sb list -q):$(ls -d /sys/fs/cgroup/*/sandbox/c3 2>/dev/null)"
check "create for delete --force" sb create --bundle "$T/b2" c4
check "delete --force of a created container" sb delete --force c4
expect "no process left of c4" "" "$(pgrep -f 'sandbox --root '"$R"' create' || true)"

# --- list
check "create two" sh -c "'$SANDBOX' --root '$R' create --bundle '$T/b1' l1 && '$SANDBOX' --root '$R' create --bundle '$T/b1' l2"
expect "list -q" "l1
l2" "$(sb list -q | sort)"
expect_match "list --format json" '^\[\{"ociVersion":"1.2.0","id":"l[12]","status":"created"' "$(sb list --format json)"
sb delete --force l1
sb delete --force l2

# --- commands serialise on the container's lock
check "create for the lock test" sb create --bundle "$T/b1" lk
flock "$R/lk" sleep 1 &
locker=$!
sleep 0.2
t0=$(date +%s%N)
sb start lk
t1=$(date +%s%N)
wait $locker
check "start waited for the lock (>= 0.5 s)" test $(((t1 - t0) / 1000000)) -ge 500
sb delete --force lk

# --- hooks: each at its moment, with the state on stdin
mkdir -p "$T/hooklog"
cat >"$T/hook" <<'EOF'
#!/bin/sh
state=$(cat)
status=$(echo "$state" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
pid=$(echo "$state" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
echo "$1 $status $([ -n "$pid" ] && [ "$pid" != 0 ] && echo pid)" >>"$2"
EOF
chmod +x "$T/hook"
log=$T/hooklog/log
: >"$log"
h() { echo "{ \"path\": \"$T/hook\", \"args\": [ \"hook\", \"$1\", \"$log\" ] }"; }
cfg_args='"sleep","100"'
cfg_mounts="{ \"destination\": \"/hooklog\", \"type\": \"bind\", \"source\": \"$T/hooklog\", \"options\": [ \"bind\" ] }"
cfg_top_extra="\"hooks\": { \"prestart\": [ $(h prestart) ], \"createRuntime\": [ $(h createRuntime) ],
	\"createContainer\": [ $(h createContainer) ],
	\"startContainer\": [ { \"path\": \"/bin/sh\", \"args\": [ \"sh\", \"-c\", \"cat >/dev/null; echo startContainer inside >>/hooklog/log\" ] } ],
	\"poststart\": [ $(h poststart) ], \"poststop\": [ $(h poststop) ] }"
write_config "$T/bh"
check "hooks: create" sb create --bundle "$T/bh" ch
expect "hooks: prestart, createRuntime, createContainer at create, state creating" "prestart creating pid
createRuntime creating pid
createContainer creating pid" "$(cat "$log")"
check "hooks: start" sb start ch
check "hooks: kill" sb kill ch KILL
sleep 0.2
check "hooks: delete" sb delete ch
expect "hooks: startContainer in the container, then poststart, poststop" "startContainer inside
poststart running pid
poststop stopped " "$(tail -n 3 "$log")"
cfg_top_extra="\"hooks\": { \"createRuntime\": [ { \"path\": \"/bin/false\" } ] }"
write_config "$T/bhf"
rc=0
sb create --bundle "$T/bhf" chf >"$T/hf.out" 2>&1 || rc=$?
expect_match "hooks: a failing createRuntime hook fails create" '^1 .*hooks.createRuntime\[0\]: hook /bin/false: exited with status 1' "$rc $(cat "$T/hf.out")"
expect "hooks: ... and leaves nothing" ":" "$(sb list -q):$(ls -d /sys/fs/cgroup/*/sandbox/chf 2>/dev/null)"
cfg_top_extra="\"hooks\": { \"createRuntime\": [ { \"path\": \"/bin/sleep\", \"args\": [ \"sleep\", \"5\" ], \"timeout\": 1 } ] }"
write_config "$T/bht"
rc=0
sb create --bundle "$T/bht" cht >"$T/ht.out" 2>&1 || rc=$?
expect_match "hooks: a hook past its timeout is killed, create fails" '^1 .*timed out after 1 s' "$rc $(cat "$T/ht.out")"
cfg_top_extra="\"hooks\": { \"poststart\": [ { \"path\": \"/bin/false\" } ], \"createRuntime\": [ { \"path\": \"/bin/true\" } ] }"
write_config "$T/bhp"
rc=0
sb run -d --bundle "$T/bhp" chp >"$T/hp.out" 2>&1 || rc=$?
expect_match "hooks: a failing poststart hook is a warning; a hook not reading stdin is fine" "^0 sandbox: warning: hooks.poststart\[0\]: hook /bin/false: exited with status 1" "$rc $(cat "$T/hp.out")"
expect "hooks: ... and the container runs" running "$(status_of chp)"
sb delete --force chp
cfg_reset

# --- terminal: the master to --console-socket
cfg_terminal=true
cfg_args='"sh","-c","tty; ls -l /dev/console | cut -c1; read line; echo got $line"'
write_config "$T/bt"
"$T/recvtty" "$T/tty.sock" "hello
" >"$T/tty.out" 2>&1 &
rt=$!
sleep 0.2
check "terminal: create with --console-socket" sb create --bundle "$T/bt" --console-socket "$T/tty.sock" ct
check "terminal: start" sb start ct
i=0; while [ "$(status_of ct)" != stopped ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.2
kill $rt 2>/dev/null
wait $rt
expect_match "terminal: a pty, /dev/console (a char device), input and output" 'recvtty: got a terminal.*/dev/pts/0.*c.*got hello' "$(cat "$T/tty.out" | tr '\r\n' '  ')"
sb delete --force ct
rc=0
sb create --bundle "$T/bt" ct2 >"$T/nocs.out" 2>&1 || rc=$?
expect_match "terminal: create without a console socket is refused" '^1 .*--console-socket is needed' "$rc $(cat "$T/nocs.out")"
expect "terminal: ... and leaves nothing" "" "$(sb list -q)"
if command -v script >/dev/null; then
	cfg_args='"sh","-c","tty; echo relayed"'
	write_config "$T/bt2"
	out=$(script -qec "'$SANDBOX' --root '$R' run --bundle '$T/bt2' ct3" /dev/null </dev/null | tr -d '\r')
	expect_match "terminal: run in the foreground relays it" '/dev/pts/0
relayed' "$out"
fi
cfg_reset

# --- --log --log-format json: errors where engines read them
rc=0
"$SANDBOX" --root "$R" --log "$T/log.json" --log-format json state nope 2>/dev/null || rc=$?
expect_match "--log-format json: an error line" '^\{"level":"error","msg":"state nope: container \\"nope\\" does not exist","time":"[0-9T:.-]+Z"\}$' "$(cat "$T/log.json")"

# --- features
out=$(sb features)
expect_match "features: namespaces, capabilities, hooks, cgroups" '"namespaces":\["pid","network","mount","ipc","uts","user","cgroup","time"\].*"capabilities":\["CAP_CHOWN".*"cgroup":\{"v1":true,"v2":true' "$out"

# --- update on a running container
cfg_args='"sleep","100"'
write_config "$T/bu"
check "update: run -d" sb run -d --bundle "$T/bu" cu
check "update --memory --pids-limit" sb update --memory 64m --pids-limit 77 cu
mem=$(cat /sys/fs/cgroup/memory/sandbox/cu/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/sandbox/cu/memory.max 2>/dev/null)
pids=$(cat /sys/fs/cgroup/pids/sandbox/cu/pids.max 2>/dev/null || cat /sys/fs/cgroup/sandbox/cu/pids.max 2>/dev/null)
expect "update: the limits are set" "67108864 77" "$mem $pids"
check "update: the container's process is in its memory group" grep -q "$(pid_of cu)" /sys/fs/cgroup/memory/sandbox/cu/cgroup.procs
echo '{ "pids": { "limit": 12 } }' >"$T/res.json"
check "update --resources FILE" sb update --resources "$T/res.json" cu
pids=$(cat /sys/fs/cgroup/pids/sandbox/cu/pids.max 2>/dev/null || cat /sys/fs/cgroup/sandbox/cu/pids.max 2>/dev/null)
expect "update --resources: applied" 12 "$pids"
sb delete --force cu
expect "update: no cgroup left" "" "$(ls -d /sys/fs/cgroup/*/sandbox/cu 2>/dev/null)"

expect "nothing left in the state root" "" "$(ls "$R" 2>/dev/null)"
