#!/bin/sh
# test_etcd_codec.sh CODEC_PEER ETCDCODEC: strata's record codecs
# (mvcc/kvpb.c, lease/leasepb.c) against etcd 3.4's own (mvccpb, leasepb:
# gogoproto Marshal and Unmarshal), both ways:
#   1. encoding: the same seeded KeyValues and Leases (SplitMix64, one
#      stream on both sides), encoded by each; every line, encoding and
#      lease bucket key included, must be byte-identical;
#   2. decoding what the other wrote: etcd's Unmarshal of strata's bytes
#      and strata's decoder of etcd's bytes give back the generated fields;
#   3. malformed and unusual inputs (truncations, changed bytes, unknown
#      fields of every wire type and groups, repeated fields, wrong and
#      illegal wire types, field 0, 11-byte varints, negative and huge
#      lengths, aliased field numbers, random bytes, and a fixed list):
#      both decoders must agree on accept/reject, on the fields when they
#      accept and on the error class when they refuse. The one allowed
#      difference: where gogo 1.x panics (a length near 2^63 overflows its
#      index arithmetic), strata must refuse with trunc or length.
set -eu
peer=$1
etcd=$2
seed=${STRATA_TEST_SEED:-20240611}
nkv=${CODEC_NKV:-3000}
nlease=${CODEC_NLEASE:-3000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

# 1. Encodings, byte for byte.
"$etcd" gen "$seed" "$nkv" "$nlease" >"$dir/etcd.gen"
"$peer" gen "$seed" "$nkv" "$nlease" >"$dir/strata.gen"
records=$(wc -l <"$dir/etcd.gen")
if ! cmp -s "$dir/etcd.gen" "$dir/strata.gen"; then
    echo "FAIL: encodings differ (first differing line below: etcd, then strata)"
    diff "$dir/etcd.gen" "$dir/strata.gen" | sed -n '1,4p' | cut -c1-300
    fail=1
fi

# 2. Each side decodes the other's bytes back to the generated fields.
for kind in kv lease; do
    if [ "$kind" = kv ]; then fields='$2, $3, $4, $5, $6, $7'; enc='$8'; else fields='$2, $3, $4'; enc='$6'; fi
    awk -v k="$kind" "\$1 == k { print \"ok\", $fields }" "$dir/strata.gen" >"$dir/$kind.want"
    awk -v k="$kind" "\$1 == k { print $enc }" "$dir/strata.gen" >"$dir/$kind.strata.enc"
    awk -v k="$kind" "\$1 == k { print $enc }" "$dir/etcd.gen" >"$dir/$kind.etcd.enc"
    "$etcd" decode "$kind" <"$dir/$kind.strata.enc" >"$dir/$kind.etcd_of_strata"
    "$peer" decode "$kind" <"$dir/$kind.etcd.enc" >"$dir/$kind.strata_of_etcd"
    for got in etcd_of_strata strata_of_etcd; do
        if ! cmp -s "$dir/$kind.want" "$dir/$kind.$got"; then
            echo "FAIL: $kind $got: decoded fields differ from the generated ones"
            diff "$dir/$kind.want" "$dir/$kind.$got" | sed -n '1,4p' | cut -c1-300
            fail=1
        fi
    done
done

# 3. Malformed and unusual inputs: a fixed list, then seeded variants.
cat >"$dir/kv.fixed" <<'HEX'
-
0a0a66782f6b65792f32393710ab0218b50320032a0672332d323937
300730072a01312001180f10f6030a016b0a026262
38960141010203040506070855010203045b0801636b6c645c0a016b
5b0c0a016b
8a8080808001016b
fa ffffff3f000a016b
0c
00
02
8080808040
f8ffffff7f00
0a
0a80
0a026b
10ffffffffffffffffff
10ffffffffffffffffffff01
0aff ffffffffffffffff 8001
0a80808080808080808001
2affffffffffffffffff0100
4a80808080808080808001
0affffffffffffffff7f6b
4affffffffffffffff7f6b
0a016b4affffffffffffffff7f
5b1affffffffffffffff7f
0a8080808080808040
11
3e00
3f
5b5c5b7e5c
5b635c
0a016b5c
HEX
sed 's/ //g' "$dir/kv.fixed" >"$dir/kv.fixed.hex"
cp "$dir/kv.fixed.hex" "$dir/lease.fixed.hex"
for kind in kv lease; do
    "$peer" mutate "$kind" "$seed" <"$dir/$kind.strata.enc" >"$dir/$kind.mut"
    cat "$dir/$kind.fixed.hex" "$dir/$kind.mut" >"$dir/$kind.bad"
    "$etcd" decode "$kind" <"$dir/$kind.bad" >"$dir/$kind.bad.etcd"
    "$peer" decode "$kind" <"$dir/$kind.bad" >"$dir/$kind.bad.strata"
    paste -d '|' "$dir/$kind.bad.etcd" "$dir/$kind.bad.strata" "$dir/$kind.bad" >"$dir/$kind.pairs"
    n=$(wc -l <"$dir/$kind.bad")
    [ "$(wc -l <"$dir/$kind.bad.etcd")" -eq "$n" ] && [ "$(wc -l <"$dir/$kind.bad.strata")" -eq "$n" ] || {
        echo "FAIL: $kind: a decoder did not answer every input"
        fail=1
    }
    awk -F'|' -v kind="$kind" '
        { total++ }
        $1 ~ /^ok/ { accepted++ }
        $1 == "error panic" { panics++ }
        $1 == $2 { next }
        $1 == "error panic" && ($2 == "error trunc" || $2 == "error length") { next }
        { bad++; if (bad <= 5) printf "FAIL: %s input %s\n  etcd:   %s\n  strata: %s\n", kind, substr($3, 1, 120), substr($1, 1, 160), substr($2, 1, 160) }
        END {
            printf "figure: etcd codec %s: %d unusual inputs, %d accepted by both, %d refused by both (%d where gogo panics), %d disagreements\n", kind, total, accepted, total - accepted - bad, panics, bad
            exit bad > 0
        }' "$dir/$kind.pairs" || fail=1
done

echo "figure: etcd codec: $records seeded records encoded byte-identically and decoded by the other side"
[ "$fail" -eq 0 ] && echo "ok"
exit "$fail"
