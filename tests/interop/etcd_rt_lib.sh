# etcd_rt_lib.sh: what the etcd round trips share (bash; sourced after
# etcd_server.sh, never run): the history they drive through etcdctl into a
# running member, and their failure bookkeeping.
#
#   etcd_rt_history DIR   the history (below) into the running member; its
#                         etcdctl output goes to DIR/history.log; sets
#                         RT_LEASE_KEPT (the leases left, decimal IDs),
#                         RT_LEASE_REVOKED, RT_COMPACT_REV and RT_REV (the
#                         revision at the end); auth is enabled after it,
#                         so later etcdctl calls go through etcdctl_rt
#   etcdctl_rt ARGS...    etcdctl_ as root once auth is enabled
#   rt_queries COMPACT CUR  the queries of the canonical form (etcd_rt_json.py)
#                         for a store compacted at COMPACT, now at CUR
#   etcd_answers QUERIES  etcdctl's answers (the running member) to them
#   strata_answers QUERIES DB [OPTION...]  `strata etcd`'s answers on DB
#                         (STRATA: the CLI), OPTIONs (--live) on every call
#   same WHAT A B         fail unless the answer files A and B are equal
#   etcd_auth_answers     the running member's members, users, roles, auth
#   strata_auth_answers DB [OPTION...]  the same from strata etcd status/dump
#
# A QUERIES file is a list of canonical answer lines (etcd_rt_json.py); its
# status, get and hashkv lines name what is asked; leases are always all.
# An answer a store refuses is `get rev=N error=compacted` (hashkv alike).
#
# The history: puts (a key and a value with spaces, a value starting with
# '-', a 20,000-byte value, overwrites), a txn of several changes (two puts,
# a delete), single and prefix deletes, three leases with keys (one key
# detached by an unleased overwrite, one lease revoked with its two keys), a
# physical compaction (`compact --physical`), a defrag, auth (users root and
# alice, role r1 with a prefix permission, `auth enable`), and writes under
# auth after it (a put, a txn, a delete).

RT_USER=()
failures=${failures:-0}
RT_JSON="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/etcd_rt_json.py"

# fail MSG: count a failure and go on (the test exits 1 at the end).
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

etcdctl_rt() {
    etcdctl_ "${RT_USER[@]}" "$@"
}

# rt_step DESCRIPTION CMD...: run CMD (output appended to $RT_LOG); on
# failure say which step and return 1.
rt_step() {
    local what=$1
    shift
    echo "+ $what" >>"$RT_LOG"
    if ! "$@" >>"$RT_LOG" 2>&1; then
        echo "etcd_rt_history: '$what' failed:" >&2
        tail -n 5 "$RT_LOG" >&2
        return 1
    fi
}

# rt_grant TTL: grant a lease; print its ID in hex (etcdctl's form).
rt_grant() {
    local out
    out=$(etcdctl_rt lease grant "$1") || return 1
    echo "$out" >>"$RT_LOG"
    echo "$out" | awk '$1 == "lease" && $3 == "granted" { print $2 }'
}

rt_rev() {
    etcdctl_rt get --prefix "" --keys-only --limit 1 -w json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["revision"])'
}

etcd_rt_history() {
    local dir=$1 l1 l2 l3 big rev
    RT_LOG="$dir/history.log"
    : >"$RT_LOG"
    big=$(python3 -c 'print("".join(chr(97 + i % 26) for i in range(20000)))')
    rt_step "put a" etcdctl_rt put a alpha &&
        rt_step "put b" etcdctl_rt put b beta &&
        rt_step "put with spaces" etcdctl_rt put "key with spaces" "value with spaces" &&
        rt_step "put -dash" etcdctl_rt put -- dash "-starts with a dash" &&
        rt_step "put big" etcdctl_rt put big "$big" &&
        rt_step "put a again" etcdctl_rt put a alpha2 &&
        rt_step "txn" etcdctl_rt txn < <(printf '\nput t/1 one\nput t/2 two\ndel b\n\n\n') &&
        rt_step "put p/1" etcdctl_rt put p/1 one &&
        rt_step "put p/2" etcdctl_rt put p/2 two &&
        rt_step "put p/3" etcdctl_rt put p/3 three &&
        rt_step "del --prefix p/" etcdctl_rt del --prefix p/ || return 1
    l1=$(rt_grant 600) && l2=$(rt_grant 1200) && l3=$(rt_grant 300) || return 1
    [ -n "$l1" ] && [ -n "$l2" ] && [ -n "$l3" ] || {
        echo "etcd_rt_history: lease grant printed no ID" >&2
        return 1
    }
    rt_step "put l/1 (lease 1)" etcdctl_rt put --lease="$l1" l/1 v1 &&
        rt_step "put l/2 (lease 1)" etcdctl_rt put --lease="$l1" l/2 v2 &&
        rt_step "put l/3 (lease 2)" etcdctl_rt put --lease="$l2" l/3 v3 &&
        rt_step "put l/2 unleased" etcdctl_rt put l/2 "no lease now" &&
        rt_step "put l/4 (lease 3)" etcdctl_rt put --lease="$l3" l/4 v4 &&
        rt_step "put l/5 (lease 3)" etcdctl_rt put --lease="$l3" l/5 v5 &&
        rt_step "revoke lease 3" etcdctl_rt lease revoke "$l3" &&
        rt_step "del with spaces" etcdctl_rt del "key with spaces" &&
        rt_step "put a third" etcdctl_rt put a alpha3 || return 1
    rev=$(rt_rev) || return 1
    RT_COMPACT_REV=$((rev - 3))
    rt_step "compact --physical" etcdctl_rt compact --physical "$RT_COMPACT_REV" &&
        rt_step "put c" etcdctl_rt put c gamma &&
        rt_step "defrag" etcdctl_rt defrag &&
        rt_step "user add root" etcdctl_rt user add root:rootpw &&
        rt_step "role add r1" etcdctl_rt role add r1 &&
        rt_step "role r1 p/" etcdctl_rt role grant-permission r1 readwrite p/ --prefix &&
        rt_step "user add alice" etcdctl_rt user add alice:alicepw &&
        rt_step "alice r1" etcdctl_rt user grant-role alice r1 &&
        rt_step "auth enable" etcdctl_rt auth enable || return 1
    RT_USER=(--user root:rootpw)
    rt_step "put under auth" etcdctl_rt put p/after-auth v &&
        rt_step "txn under auth" etcdctl_rt txn < <(printf '\nput t/1 uno\nput t/3 tres\n\n\n') &&
        rt_step "del under auth" etcdctl_rt del t/2 || return 1
    RT_REV=$(rt_rev) || return 1
    RT_LEASE_KEPT="$((16#$l1)) $((16#$l2))"
    RT_LEASE_REVOKED=$((16#$l3))
}

rt_queries() {
    local c=$1 r=$2 i
    echo "status rev=$r"
    echo "get rev=0"
    echo "hashkv rev=0"
    [ "$c" -gt 1 ] && echo "get rev=$((c - 1))"
    for ((i = c > 1 ? c : 1; i <= r; i++)); do
        echo "get rev=$i"
        echo "hashkv rev=$i"
    done
}

# _rt_refused ERRFILE WHAT REV: the manifest line of the canonical refusal
# when ERRFILE says the revision is compacted; else show ERRFILE, return 1.
_rt_refused() {
    if grep -q 'required revision has been compacted' "$1"; then
        echo "line $2 rev=$3 error=compacted"
        return 0
    fi
    sed -n '1,5p' "$1" >&2
    return 1
}

# _rt_query LINE: for a query line (status/get/hashkv rev=N ...), set
# what (its first word) and rev (N) and return 0; other lines (kv, lease)
# return 1. No subshell: answer files hold long kv lines.
_rt_query() {
    [[ $1 =~ ^(status|get|hashkv)\ rev=(-?[0-9]+) ]] || return 1
    what=${BASH_REMATCH[1]} rev=${BASH_REMATCH[2]}
}

# Both ask every query first, keeping each JSON answer in its own file and
# a manifest of what to print; one etcd_rt_json.py batch then prints them.
etcd_answers() {
    local q=$1 line what rev id n=0 t="$ETCD_TMP/answers"
    local -a at
    rm -rf "$t" && mkdir "$t" || return 1
    while read -r line; do
        _rt_query "$line" || continue
        at=()
        [ "$rev" = 0 ] || at=(--rev "$rev")
        n=$((n + 1))
        case $what in
        status)
            etcdctl_rt endpoint status -w json >"$t/$n.json" || return 1
            printf 'status %q\n' "$t/$n.json"
            ;;
        get)
            if etcdctl_rt get --prefix "" "${at[@]}" -w json >"$t/$n.json" 2>"$t/err"; then
                printf 'get %s %q\n' "$rev" "$t/$n.json"
            else
                _rt_refused "$t/err" get "$rev" || return 1
            fi
            ;;
        hashkv)
            if etcdctl_rt endpoint hashkv "${at[@]}" -w json >"$t/$n.json" 2>"$t/err"; then
                printf 'hashkv %s %q\n' "$rev" "$t/$n.json"
            else
                _rt_refused "$t/err" hashkv "$rev" || return 1
            fi
            ;;
        esac
    done <"$q" >"$t/manifest"
    etcdctl_rt lease list -w json >"$t/leases.json" || return 1
    n=0
    for id in $(python3 "$RT_JSON" ids "$t/leases.json"); do
        n=$((n + 1))
        etcdctl_rt lease timetolive --keys "$id" -w json >"$t/ttl.$n.json" || return 1
    done
    if [ "$n" -gt 0 ]; then
        printf 'leases' >>"$t/manifest"
        printf ' %q' "$t"/ttl.*.json >>"$t/manifest"
        echo >>"$t/manifest"
    fi
    python3 "$RT_JSON" batch "$t/manifest"
}

strata_answers() {
    local q=$1 db=$2 line what rev t="$ETCD_TMP/answers" rc n=0
    shift 2
    local -a opt=("$@") at
    rm -rf "$t" && mkdir "$t" || return 1
    while read -r line; do
        _rt_query "$line" || continue
        at=()
        [ "$rev" = 0 ] || at=(--rev "$rev")
        n=$((n + 1))
        case $what in
        status)
            "$STRATA" etcd status --json "${opt[@]}" "$db" >"$t/$n.json" 2>"$t/err" ||
                { sed -n '1,5p' "$t/err" >&2; return 1; }
            printf 'status %q\n' "$t/$n.json"
            ;;
        get)
            "$STRATA" etcd get --prefix "${at[@]}" --json "${opt[@]}" "$db" "" >"$t/$n.json" 2>"$t/err"
            rc=$?
            if [ "$rc" -eq 0 ]; then
                printf 'get %s %q\n' "$rev" "$t/$n.json"
            elif [ "$rc" -ne 1 ] || ! _rt_refused "$t/err" get "$rev"; then
                echo "strata etcd get --rev $rev: exit $rc" >&2
                return 1
            fi
            ;;
        hashkv)
            "$STRATA" etcd hashkv "${at[@]}" --json "${opt[@]}" "$db" >"$t/$n.json" 2>"$t/err"
            rc=$?
            if [ "$rc" -eq 0 ]; then
                printf 'hashkv %s %q\n' "$rev" "$t/$n.json"
            elif [ "$rc" -ne 1 ] || ! _rt_refused "$t/err" hashkv "$rev"; then
                echo "strata etcd hashkv --rev $rev: exit $rc" >&2
                return 1
            fi
            ;;
        esac
    done <"$q" >"$t/manifest"
    "$STRATA" etcd leases --keys --json "${opt[@]}" "$db" >"$t/leases.json" 2>"$t/err" ||
        { sed -n '1,5p' "$t/err" >&2; return 1; }
    printf 'leases-doc %q\n' "$t/leases.json" >>"$t/manifest"
    python3 "$RT_JSON" batch "$t/manifest"
}

same() {
    if ! cmp -s "$2" "$3"; then
        fail "$1 (first differences: $2 <, $3 >)"
        diff "$2" "$3" | sed -n '1,12p' | cut -c1-300
        return 1
    fi
    echo "ok: $1 ($(grep -c '' "$2") answers)"
}

# etcd_auth_answers: the running member's members (member list), users and
# roles (user/role list, get) and whether auth is on (an anonymous request
# is refused), in etcd_rt_json.py's canonical form.
etcd_auth_answers() {
    local t="$ETCD_TMP/auth" name n=0
    rm -rf "$t" && mkdir "$t" || return 1
    etcdctl_rt member list -w json >"$t/members.json" || return 1
    printf 'members %q\n' "$t/members.json" >"$t/manifest"
    etcdctl_rt user list -w json >"$t/users.json" || return 1
    for name in $(python3 "$RT_JSON" names "$t/users.json" users); do
        n=$((n + 1))
        etcdctl_rt user get "$name" -w json >"$t/$n.json" || return 1
        printf 'user %q %q\n' "$name" "$t/$n.json" >>"$t/manifest"
    done
    etcdctl_rt role list -w json >"$t/roles.json" || return 1
    for name in $(python3 "$RT_JSON" names "$t/roles.json" roles); do
        n=$((n + 1))
        etcdctl_rt role get "$name" -w json >"$t/$n.json" || return 1
        printf 'role %q %q\n' "$name" "$t/$n.json" >>"$t/manifest"
    done
    if etcdctl_ get a >/dev/null 2>"$t/err"; then
        echo "line auth enabled=false" >>"$t/manifest"
    elif grep -q 'user name is empty' "$t/err"; then
        echo "line auth enabled=true" >>"$t/manifest"
    else
        sed -n '1,5p' "$t/err" >&2
        return 1
    fi
    python3 "$RT_JSON" batch "$t/manifest"
}

# strata_auth_answers DB [OPTION...]: the same from `strata etcd status` and
# `strata etcd dump --decode`.
strata_auth_answers() {
    local db=$1 t="$ETCD_TMP/auth"
    shift
    rm -rf "$t" && mkdir "$t" || return 1
    "$STRATA" etcd status --json "$@" "$db" >"$t/status.json" 2>"$t/err" &&
        "$STRATA" etcd dump --decode --json "$@" "$db" >"$t/dump.json" 2>>"$t/err" ||
        { sed -n '1,5p' "$t/err" >&2; return 1; }
    printf 'members %q\nauth-doc %q\nauth-enabled %q\n' "$t/status.json" "$t/dump.json" \
        "$t/status.json" >"$t/manifest"
    python3 "$RT_JSON" batch "$t/manifest"
}
