/*
 * watch_group.c: a watcher group (etcd's watcherGroup): single-key
 * watchers in a hash map, range watchers in the interval tree, one set of
 * watchers per distinct key or interval, and a list of all members.
 *
 * Rules (mvcc__wgroup_check verifies them):
 *   1. Each member is on the member list once, in exactly one set, and
 *      w->group == g.
 *   2. A set is never empty: the last watcher leaving removes it from the
 *      map or the tree and frees it.
 *   3. The map holds exactly the keys of the single-key members; the tree
 *      exactly the intervals of the range members.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "watch_int.h"

void mvcc__wgroup_init(mvcc__wgroup *g)
{
    mvcc__wmap_init(&g->keys);
    mvcc__itree_init(&g->ranges);
    g->head = NULL;
    g->count = 0;
}

static int free_set(void *arg, const uint8_t *key, size_t key_len, void *val)
{
    (void)arg;
    (void)key;
    (void)key_len;
    strata_free(val);
    return 0;
}

void mvcc__wgroup_destroy(mvcc__wgroup *g)
{
    mvcc__wmap_each(&g->keys, free_set, NULL);
    mvcc__wmap_destroy(&g->keys);
    mvcc__itree_destroy(&g->ranges, strata_free);
    g->head = NULL;
    g->count = 0;
}

int mvcc__wgroup_add(mvcc__wgroup *g, mvcc__watcher *w)
{
    mvcc__wset *set;
    if (!w->is_range) {
        set = mvcc__wmap_get(&g->keys, w->key, w->key_len);
        if (set == NULL) {
            set = strata_calloc(1, sizeof *set);
            if (set == NULL)
                return -ENOMEM;
            int rc = mvcc__wmap_put(&g->keys, w->key, w->key_len, set);
            if (rc != 0) {
                strata_free(set);
                return rc;
            }
        }
    } else {
        mvcc__inode *n =
                mvcc__itree_find(&g->ranges, w->key, w->key_len, w->end, w->end_len, w->end_inf);
        if (n != NULL) {
            set = n->val;
        } else {
            set = strata_calloc(1, sizeof *set);
            if (set == NULL)
                return -ENOMEM;
            int rc = mvcc__itree_insert(&g->ranges, w->key, w->key_len, w->end, w->end_len,
                                        w->end_inf, set, NULL);
            if (rc != 0) {
                strata_free(set);
                return rc < 0 ? rc : -ENOMEM;
            }
        }
    }
    w->set = set;
    w->sprev = NULL;
    w->snext = set->head;
    if (set->head != NULL)
        set->head->sprev = w;
    set->head = w;
    w->group = g;
    w->gprev = NULL;
    w->gnext = g->head;
    if (g->head != NULL)
        g->head->gprev = w;
    g->head = w;
    g->count++;
    return 0;
}

void mvcc__wgroup_remove(mvcc__wgroup *g, mvcc__watcher *w)
{
    mvcc__wset *set = w->set;
    if (w->sprev != NULL)
        w->sprev->snext = w->snext;
    else
        set->head = w->snext;
    if (w->snext != NULL)
        w->snext->sprev = w->sprev;
    if (set->head == NULL) {
        if (!w->is_range)
            mvcc__wmap_remove(&g->keys, w->key, w->key_len);
        else
            mvcc__itree_remove(&g->ranges, w->key, w->key_len, w->end, w->end_len, w->end_inf);
        strata_free(set);
    }
    if (w->gprev != NULL)
        w->gprev->gnext = w->gnext;
    else
        g->head = w->gnext;
    if (w->gnext != NULL)
        w->gnext->gprev = w->gprev;
    g->count--;
    w->set = NULL;
    w->sprev = w->snext = w->gprev = w->gnext = NULL;
    w->group = NULL;
}

typedef struct match_ctx {
    void (*fn)(void *arg, mvcc__watcher *w);
    void *arg;
} match_ctx;

static int match_interval(void *arg, mvcc__inode *n)
{
    match_ctx *c = arg;
    mvcc__wset *set = n->val;
    for (mvcc__watcher *w = set->head, *next; w != NULL; w = next) {
        next = w->snext;
        c->fn(c->arg, w);
    }
    return 0;
}

void mvcc__wgroup_match(mvcc__wgroup *g, const uint8_t *key, size_t key_len,
                        void (*fn)(void *arg, mvcc__watcher *w), void *arg)
{
    mvcc__wset *set = mvcc__wmap_get(&g->keys, key, key_len);
    if (set != NULL) {
        for (mvcc__watcher *w = set->head, *next; w != NULL; w = next) {
            next = w->snext;
            fn(arg, w);
        }
    }
    if (g->ranges.count != 0) {
        match_ctx c = { fn, arg };
        mvcc__itree_stab(&g->ranges, key, key_len, match_interval, &c);
    }
}

bool mvcc__wgroup_contains(const mvcc__wgroup *g, const uint8_t *key, size_t key_len)
{
    return mvcc__wmap_get(&g->keys, key, key_len) != NULL ||
           mvcc__itree_contains(&g->ranges, key, key_len);
}

static int fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why != NULL && why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

typedef struct count_ctx {
    size_t watchers, sets;
} count_ctx;

static int count_key_set(void *arg, const uint8_t *key, size_t key_len, void *val)
{
    count_ctx *c = arg;
    mvcc__wset *set = val;
    c->sets++;
    for (mvcc__watcher *w = set->head; w != NULL; w = w->snext) {
        if (w->is_range || mvcc__bytes_cmp(w->key, w->key_len, key, key_len) != 0)
            return 1;
        c->watchers++;
    }
    return set->head == NULL ? 1 : 0;
}

static int count_tree(const mvcc__inode *n, count_ctx *c)
{
    if (n == NULL)
        return 0;
    if (count_tree(n->left, c) != 0)
        return 1;
    const mvcc__wset *set = n->val;
    if (set == NULL || set->head == NULL)
        return 1;
    for (const mvcc__watcher *w = set->head; w != NULL; w = w->snext) {
        if (!w->is_range || w->end_inf != n->high_inf ||
            mvcc__bytes_cmp(w->key, w->key_len, n->low, n->low_len) != 0 ||
            (!w->end_inf && mvcc__bytes_cmp(w->end, w->end_len, n->high, n->high_len) != 0))
            return 1;
        c->watchers++;
    }
    return count_tree(n->right, c);
}

int mvcc__wgroup_check(const mvcc__wgroup *g, char *why, size_t why_size)
{
    size_t n = 0;
    for (const mvcc__watcher *w = g->head; w != NULL; w = w->gnext) {
        n++;
        if (w->group != g || w->set == NULL)
            return fail(why, why_size, "member %zu (id %lld) not linked to the group", n,
                        (long long)w->id);
        if (w->gnext != NULL && w->gnext->gprev != w)
            return fail(why, why_size, "member list broken after id %lld", (long long)w->id);
    }
    if (n != g->count)
        return fail(why, why_size, "count %zu but %zu members", g->count, n);
    count_ctx c = { 0, 0 };
    if (mvcc__wmap_each(&g->keys, count_key_set, &c) != 0)
        return fail(why, why_size, "a key set is empty or holds a watcher of another key");
    if (count_tree(g->ranges.root, &c) != 0)
        return fail(why, why_size, "an interval set is empty or holds a foreign watcher");
    if (c.watchers != n)
        return fail(why, why_size, "sets hold %zu watchers, the group %zu", c.watchers, n);
    char twhy[128];
    if (mvcc__itree_check(&g->ranges, twhy, sizeof twhy) != 0)
        return fail(why, why_size, "interval tree: %s", twhy);
    return 0;
}
