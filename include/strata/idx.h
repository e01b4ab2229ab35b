/*
 * strata/idx.h: the in-memory key index of the MVCC store: revisions, and
 * for every key the revisions at which it changed, grouped in generations
 * (etcd's treeIndex of keyIndex).
 *
 * Thread rules: see each type below.
 *
 * Status codes: 0, the shared outcomes (IDX_NOTFOUND is STRATA_NOTFOUND),
 * -errno, and the range -5300..-5399 below. Each names a case where etcd
 * 3.4.23 panics and strata returns an error instead.
 */
#ifndef STRATA_IDX_H
#define STRATA_IDX_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_INDEX)
#error "this layer may not include <strata/idx.h>"
#endif

#include <strata/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IDX_ERRORS(X)                                                                          \
    X(IDX_EREVISIONORDER, -5300, "idx: put with a revision not above the key's last revision") \
    X(IDX_EEMPTYKEYINDEX, -5301, "idx: operation on an empty keyIndex")

enum idx_status {
    IDX_NOTFOUND = STRATA_NOTFOUND,
#define IDX__ENUM(name, code, msg) name = (code),
    IDX_ERRORS(IDX__ENUM)
#undef IDX__ENUM
};

/* Describe any code idx or common can return; never NULL. */
const char *idx_strerror(int rc);

/* "IDX_EEMPTYKEYINDEX" for a code of idx's table, else strata_status_name(rc). */
const char *idx_status_name(int rc);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_IDX_H */
