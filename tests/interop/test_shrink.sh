#!/usr/bin/env bash
# test_shrink.sh BOLTCHECK SHRINK_WRITER: files that strata shrinks stay
# bbolt files. For each freelist mode strata fills a file, deletes the upper
# half and cuts the free tail (the file must get shorter); then the real
# bbolt checks it (Tx.Check and the strict walk), writes to it (mutate), and
# checks it again; strata verifies every key first, and checks the file last.
. "$(dirname "$0")/lib.sh"
SW=$1
for mode in array hashmap nofreelistsync; do
    case $mode in
    array) opt= ;;
    hashmap) opt=-hashmap ;;
    nofreelistsync) opt=-nofreelistsync ;;
    esac
    db="$T/$mode.db"
    expect_rc 0 "$mode: fill" "$SW" fill $opt "$db"
    expect_rc 0 "$mode: shrink" "$SW" shrink $opt "$db"
    expect_rc 0 "$mode: bbolt check of the shrunk file" "$BC" inspect -sections check,strict,info "$db"
    expect_rc 0 "$mode: strata verify" "$SW" verify $opt "$db"
    expect_rc 0 "$mode: bbolt writes to it" "$BC" mutate -seed 7 -freelist keep "$db"
    expect_rc 0 "$mode: bbolt check after its write" "$BC" inspect -sections check,strict "$db"
    expect_rc 0 "$mode: strata check after bbolt's write" "$SW" check $opt "$db"
done
finish
