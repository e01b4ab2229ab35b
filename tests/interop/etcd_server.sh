# etcd_server.sh: run a real etcd 3.4 member (Debian's /usr/bin/etcd) for
# a test, on loopback ports chosen free at run time, with a temporary data
# dir; sourced by the round-trip tests (bash), never run.
#
#   . "$(dirname "$0")/etcd_server.sh"
#   etcd_harness_init            # ETCD_TMP: a fresh temporary directory;
#                                # trap: stop the member, remove ETCD_TMP
#   etcd_start "$ETCD_TMP/m1"    # start a member on that data dir, wait
#                                # until it answers (bounded)
#   etcdctl_ put foo bar         # etcdctl with --endpoints of that member
#   etcd_stop                    # SIGTERM, wait: its db is consistent
#   etcd_restore SNAP DIR        # etcdctl snapshot restore for the next
#                                # etcd_start (same name and peer URL)
#
# One member runs at a time. Every exit path (the end of the script, a
# failure, SIGINT/SIGTERM/SIGHUP from meson's timeout) runs the trap: the
# commands registered with etcd_on_exit (newest first), then etcd_stop,
# then ETCD_TMP is removed (kept when INTEROP_KEEP=1).
#
# Knobs: ETCD_BIN (etcd), ETCDCTL_BIN (etcdctl), ETCD_START_TIMEOUT (seconds
# until a started member must answer; 90), ETCD_STOP_TIMEOUT (seconds a
# stopping member gets before SIGKILL, which is then a failure; 60).
#
# Functions return non-zero (with a message on stderr) on failure; the
# tests decide whether that ends them.

ETCD_BIN=${ETCD_BIN:-etcd}
ETCDCTL_BIN=${ETCDCTL_BIN:-etcdctl}
ETCD_START_TIMEOUT=${ETCD_START_TIMEOUT:-90}
ETCD_STOP_TIMEOUT=${ETCD_STOP_TIMEOUT:-60}

# etcd and etcdctl read ETCD_* / ETCDCTL_* variables as flags: a
# developer's environment must not change what the tests run.
for _etcd_v in $(compgen -e | grep -E '^ETCD(CTL)?_' | grep -vE '^ETCD(CTL)?_(BIN|START_TIMEOUT|STOP_TIMEOUT)$'); do
    unset "$_etcd_v"
done
unset _etcd_v
export ETCDCTL_API=3

ETCD_TMP=
ETCD_PID=
ETCD_NAME=
ETCD_DATA_DIR=
ETCD_LOG=
ETCD_ENDPOINT=
ETCD_PEER_URL=
ETCD_CLIENT_PORT=
ETCD_PEER_PORT=
_etcd_exit_cmds=()

# etcd_harness_init: make ETCD_TMP and install the trap.
etcd_harness_init() {
    local t
    for t in "$ETCD_BIN" "$ETCDCTL_BIN"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "etcd_server.sh: '$t' not found (Debian: etcd-server, etcd-client;" \
                "tools/ci/deps.sh installs them)" >&2
            exit 1
        fi
    done
    ETCD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-etcd.XXXXXX") || exit 1
    [ "${INTEROP_KEEP:-0}" = 1 ] && echo "keeping $ETCD_TMP"
    trap _etcd_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# etcd_on_exit CMD...: run CMD on exit, before the member is stopped.
etcd_on_exit() {
    _etcd_exit_cmds+=("$*")
}

_etcd_cleanup() {
    local rc=$? i
    trap - EXIT INT TERM HUP
    for ((i = ${#_etcd_exit_cmds[@]} - 1; i >= 0; i--)); do
        eval "${_etcd_exit_cmds[i]}" || true
    done
    etcd_stop >/dev/null 2>&1 || true
    if [ -n "$ETCD_TMP" ] && [ "${INTEROP_KEEP:-0}" != 1 ]; then
        rm -rf "$ETCD_TMP"
    fi
    exit "$rc"
}

# etcd_free_port: a loopback TCP port free right now (the kernel's choice).
etcd_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# etcd_pick_ports: choose the client and peer ports of the next member.
etcd_pick_ports() {
    ETCD_CLIENT_PORT=$(etcd_free_port) || return 1
    ETCD_PEER_PORT=$(etcd_free_port) || return 1
    while [ "$ETCD_PEER_PORT" = "$ETCD_CLIENT_PORT" ]; do
        ETCD_PEER_PORT=$(etcd_free_port) || return 1
    done
    ETCD_ENDPOINT=http://127.0.0.1:$ETCD_CLIENT_PORT
    ETCD_PEER_URL=http://127.0.0.1:$ETCD_PEER_PORT
}

# etcdctl_ ARGS...: etcdctl against the running member (--endpoints always).
etcdctl_() {
    "$ETCDCTL_BIN" --endpoints="$ETCD_ENDPOINT" --dial-timeout=5s --command-timeout=30s "$@"
}

# etcd_start DATADIR [NAME]: start a member on DATADIR (created by etcd when
# missing; a restored one keeps its member) and wait until `endpoint health`
# says it serves (or, auth enabled, refuses the anonymous check), at most
# ETCD_START_TIMEOUT seconds. Each poll is one etcdctl call that itself
# waits up to its dial and command timeouts (2 s, 5 s: the last flags win),
# so the loop needs no sleep. Ports come from etcd_restore when it chose them for
# this DATADIR, or from the last member when it ran on DATADIR (a restart),
# else they are chosen now; a member that could not bind them (taken
# meanwhile) is started again on new ones.
etcd_start() {
    local dir=$1 name=${2:-strata-rt} attempt deadline
    if [ -n "$ETCD_PID" ]; then
        echo "etcd_start: a member is running already (pid $ETCD_PID)" >&2
        return 1
    fi
    # A restored data dir, or a restart of the last member, keeps its ports
    # (its member's peer URL is recorded in the db and the WAL).
    if [ "${_etcd_restored_dir:-}" != "$dir" ] && [ "$ETCD_DATA_DIR" != "$dir" ]; then
        etcd_pick_ports || return 1
    fi
    _etcd_restored_dir=
    for attempt in 1 2 3; do
        ETCD_NAME=$name
        ETCD_DATA_DIR=$dir
        ETCD_LOG="$dir.log.$attempt"
        "$ETCD_BIN" --name "$name" --data-dir "$dir" \
            --listen-client-urls "$ETCD_ENDPOINT" --advertise-client-urls "$ETCD_ENDPOINT" \
            --listen-peer-urls "$ETCD_PEER_URL" --initial-advertise-peer-urls "$ETCD_PEER_URL" \
            --initial-cluster "$name=$ETCD_PEER_URL" --initial-cluster-state new \
            --initial-cluster-token strata-rt --logger zap --log-outputs stderr \
            >"$ETCD_LOG" 2>&1 &
        ETCD_PID=$!
        deadline=$((SECONDS + ETCD_START_TIMEOUT))
        while [ "$SECONDS" -lt "$deadline" ]; do
            if ! kill -0 "$ETCD_PID" 2>/dev/null; then
                wait "$ETCD_PID" 2>/dev/null
                ETCD_PID=
                break
            fi
            # With auth enabled, an anonymous health check is refused by a
            # member that serves: that refusal is an answer too.
            if etcdctl_ --dial-timeout=2s --command-timeout=5s endpoint health \
                >"$dir.health" 2>&1 ||
                grep -q 'user name is empty' "$dir.health"; then
                rm -f "$dir.health"
                return 0
            fi
        done
        if [ -n "$ETCD_PID" ]; then
            echo "etcd_start: the member on $dir did not answer within ${ETCD_START_TIMEOUT}s" \
                "(log $ETCD_LOG):" >&2
            tail -n 15 "$ETCD_LOG" >&2
            etcd_stop >/dev/null 2>&1
            return 1
        fi
        if grep -q 'address already in use' "$ETCD_LOG"; then
            etcd_pick_ports || return 1 # a port was taken between the choice and the bind
            continue
        fi
        break
    done
    echo "etcd_start: etcd exited while starting on $dir (log $ETCD_LOG):" >&2
    tail -n 15 "$ETCD_LOG" >&2
    return 1
}

# etcd_stop: stop the running member as an operator does (SIGTERM: etcd
# stops the server, commits and closes its backend) and wait for it, at
# most ETCD_STOP_TIMEOUT seconds; then SIGKILL, and that is a failure (its
# db might not be consistent). 0 when no member runs.
etcd_stop() {
    local pid=$ETCD_PID rc watchdog
    [ -n "$pid" ] || return 0
    ETCD_PID=
    kill -TERM "$pid" 2>/dev/null
    # A watchdog, not a wait for something to happen: it only bounds `wait`.
    (
        sleep "$ETCD_STOP_TIMEOUT" &
        s=$!
        trap 'kill $s 2>/dev/null; exit 0' TERM
        wait $s && kill -KILL "$pid" 2>/dev/null
    ) >/dev/null 2>&1 &
    watchdog=$!
    wait "$pid" 2>/dev/null
    rc=$?
    kill "$watchdog" 2>/dev/null
    wait "$watchdog" 2>/dev/null
    # etcd re-raises SIGTERM after its shutdown: 143 is a clean stop.
    if [ "$rc" -ne 143 ] && [ "$rc" -ne 0 ]; then
        echo "etcd_stop: the member on $ETCD_DATA_DIR ended with status $rc" \
            "(137: killed after ${ETCD_STOP_TIMEOUT}s; log $ETCD_LOG)" >&2
        tail -n 15 "$ETCD_LOG" >&2
        return 1
    fi
    return 0
}

# etcd_db: the running (or last) member's bolt file.
etcd_db() {
    echo "$ETCD_DATA_DIR/member/snap/db"
}

# etcd_restore SNAPSHOT DATADIR [NAME]: `etcdctl snapshot restore` into the
# new DATADIR as a one-member cluster whose peer URL is the next member's
# (chosen here; etcd_start DATADIR uses it).
etcd_restore() {
    local snap=$1 dir=$2 name=${3:-strata-rt}
    etcd_pick_ports || return 1
    _etcd_restored_dir=$dir
    "$ETCDCTL_BIN" --endpoints="$ETCD_ENDPOINT" snapshot restore "$snap" --data-dir "$dir" \
        --name "$name" --initial-cluster "$name=$ETCD_PEER_URL" \
        --initial-cluster-token strata-rt --initial-advertise-peer-urls "$ETCD_PEER_URL"
}
