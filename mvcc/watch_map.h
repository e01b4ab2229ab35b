/*
 * watch_map.h: a hash map from byte strings to pointers, owning copies of
 * its keys: the single-key watchers of a watcher group (key -> the set of
 * watchers of that key, etcd's watcherSetByKey) and a stream's watch ids
 * (the 8 bytes of the id -> its watcher).
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), FNV-1a hashes kept in the slots; the table doubles when it
 * is 3/4 full. Lookups are O(1) expected. Not thread-safe: the caller
 * serializes (the watchable store's mutex).
 */
#ifndef STRATA_MVCC_WATCH_MAP_H
#define STRATA_MVCC_WATCH_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mvcc__wmap_slot {
    uint64_t hash;
    uint8_t *key; /* owned; NULL marks an empty slot */
    size_t key_len;
    void *val;
} mvcc__wmap_slot;

typedef struct mvcc__wmap {
    mvcc__wmap_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
} mvcc__wmap;

void mvcc__wmap_init(mvcc__wmap *m);

/* Frees the table and its keys (not the values). */
void mvcc__wmap_destroy(mvcc__wmap *m);

/* The value stored under key, or NULL. */
void *mvcc__wmap_get(const mvcc__wmap *m, const void *key, size_t key_len);

/*
 * Stores val (non-NULL) under key, which must not be present. Returns 0,
 * STRATA_EXISTS (present; nothing changed), or -ENOMEM.
 */
int mvcc__wmap_put(mvcc__wmap *m, const void *key, size_t key_len, void *val);

/* Removes key and returns its value, or NULL when absent. */
void *mvcc__wmap_remove(mvcc__wmap *m, const void *key, size_t key_len);

/*
 * Calls fn on every (key, value) in table order until it returns non-zero.
 * fn must not change the map.
 */
int mvcc__wmap_each(const mvcc__wmap *m,
                    int (*fn)(void *arg, const uint8_t *key, size_t key_len, void *val), void *arg);

#endif
