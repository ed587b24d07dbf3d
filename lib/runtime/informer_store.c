/* The informer's indexed object store; see include/dpm/informer.h.
 *
 * Objects are kept as compact JSON text, not as jansson trees: a tree costs
 * 4 to 6 times its text in allocations (bench/client measures it), and the
 * memory goal is 10,000 DataProducts and their children well under
 * 100 MiB.  Getters parse a fresh copy.
 *
 * The text is deflated with the store's first object as a preset
 * dictionary: objects of one kind written by one controller share most of
 * their text (labels, owner references, a CronJob's spark-submit
 * arguments), so each costs little more than what differs from the first
 * (bench/operator: the operator's caches at 10,000 DataProducts fell from
 * ~115 MB of text to a fraction of it).  Each stored string is a 4-byte
 * little-endian length of the text, then its raw deflate stream.
 *
 * Layout: `objects` maps key -> JSON string holding the text; each index maps a value to the
 * one key that has it (a string) or to a set (json object of key -> true).  The index values an object contributes are
 * recomputed from the old and new object on every put/remove, so indexes
 * never hold stale keys.  Empty sets are deleted so an index does not grow
 * with values that no longer occur.
 *
 * Each index entry costs a hashtable pair and a copy of the key (about
 * 100 bytes), per label: a store made with dpm_store_new_indexed() indexes
 * only the label keys it names (`label_keys`, a set), and label lookups of
 * other keys scan the objects instead. */
#include "dpm/informer.h"
#include "dpm/json_load.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define NINDEX 3

struct dpm_store {
    pthread_rwlock_t lock;
    json_t *objects;
    json_t *index[NINDEX];
    json_t *label_keys; /* label key -> true; NULL: every label is indexed */
    json_t *dict;       /* the compression dictionary (a string); NULL until the first put */
    unsigned skip;      /* DPM_INDEX_BIT()s of the indexes not kept */
};

/* An 8 KiB window: the dictionary's last 8 KiB count, and deflate's state
 * stays at ~64 KiB a call (under malloc's mmap threshold). */
#define ZBITS    13
#define DICT_MAX (1u << ZBITS)

struct dpm_store *dpm_store_new_indexed(const char *const *label_keys, unsigned skip_indexes,
                                        struct dpm_error *err)
{
    struct dpm_store *s = calloc(1, sizeof(*s));
    if (!s) {
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    s->objects = json_object();
    bool ok = s->objects != NULL;
    for (int i = 0; i < NINDEX; i++) {
        s->index[i] = json_object();
        ok = ok && s->index[i];
    }
    if (ok && label_keys) {
        ok = (s->label_keys = json_object()) != NULL;
        for (size_t i = 0; ok && label_keys[i]; i++)
            ok = json_object_set_new(s->label_keys, label_keys[i], json_true()) == 0;
    }
    if (!ok) {
        json_decref(s->objects);
        for (int i = 0; i < NINDEX; i++)
            json_decref(s->index[i]);
        json_decref(s->label_keys);
        free(s);
        dpm_error_set(err, DPM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    s->skip = skip_indexes;
    pthread_rwlock_init(&s->lock, NULL);
    return s;
}

struct dpm_store *dpm_store_new(struct dpm_error *err)
{
    return dpm_store_new_indexed(NULL, 0, err);
}

void dpm_store_free(struct dpm_store *s)
{
    if (!s)
        return;
    json_decref(s->objects);
    for (int i = 0; i < NINDEX; i++)
        json_decref(s->index[i]);
    json_decref(s->label_keys);
    json_decref(s->dict);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

void dpm_store_swap(struct dpm_store *a, struct dpm_store *b)
{
    if (a == b)
        return;
    /* a fixed lock order: two swaps of the same pair never deadlock */
    struct dpm_store *first = (uintptr_t)a < (uintptr_t)b ? a : b;
    struct dpm_store *second = first == a ? b : a;
    pthread_rwlock_wrlock(&first->lock);
    pthread_rwlock_wrlock(&second->lock);
    json_t *t = a->objects;
    a->objects = b->objects;
    b->objects = t;
    for (int i = 0; i < NINDEX; i++) {
        t = a->index[i];
        a->index[i] = b->index[i];
        b->index[i] = t;
    }
    t = a->label_keys;
    a->label_keys = b->label_keys;
    b->label_keys = t;
    t = a->dict; /* the objects travel with the dictionary they need */
    a->dict = b->dict;
    b->dict = t;
    unsigned sk = a->skip; /* and the indexes with what they cover */
    a->skip = b->skip;
    b->skip = sk;
    pthread_rwlock_unlock(&second->lock);
    pthread_rwlock_unlock(&first->lock);
}

/* The stored string of text (len bytes) deflated against the store's
 * dictionary, which the first call sets.  Caller holds the write lock.
 * NULL on ENOMEM. */
static json_t *freeze(struct dpm_store *s, const char *text, size_t len)
{
    if (!s->dict && !(s->dict = json_stringn_nocheck(text, len < DICT_MAX ? len : DICT_MAX)))
        return NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (len > UINT32_MAX || deflateInit2(&z, 1, Z_DEFLATED, -ZBITS, 6, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    json_t *out = NULL;
    uLong cap = deflateBound(&z, (uLong)len) + 4;
    unsigned char *buf = malloc(cap);
    if (buf && deflateSetDictionary(&z, (const Bytef *)json_string_value(s->dict),
                                    (uInt)json_string_length(s->dict)) == Z_OK) {
        for (int i = 0; i < 4; i++)
            buf[i] = (unsigned char)(len >> (8 * i));
        z.next_in = (Bytef *)text;
        z.avail_in = (uInt)len;
        z.next_out = buf + 4;
        z.avail_out = (uInt)(cap - 4);
        if (deflate(&z, Z_FINISH) == Z_STREAM_END)
            out = json_stringn_nocheck((const char *)buf, 4 + z.total_out);
    }
    deflateEnd(&z);
    free(buf);
    return out;
}

/* The stored string as a new tree; NULL when absent or on ENOMEM.  Caller
 * holds a lock. */
static json_t *thaw(const struct dpm_store *s, const json_t *stored)
{
    if (!stored || !s->dict)
        return NULL;
    const unsigned char *p = (const unsigned char *)json_string_value(stored);
    size_t n = json_string_length(stored), len = 0;
    if (n < 4)
        return NULL;
    for (int i = 0; i < 4; i++)
        len |= (size_t)p[i] << (8 * i);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -ZBITS) != Z_OK)
        return NULL;
    json_t *o = NULL;
    char *text = malloc(len ? len : 1);
    if (text && inflateSetDictionary(&z, (const Bytef *)json_string_value(s->dict),
                                     (uInt)json_string_length(s->dict)) == Z_OK) {
        z.next_in = (Bytef *)(p + 4);
        z.avail_in = (uInt)(n - 4);
        z.next_out = (Bytef *)text;
        z.avail_out = (uInt)len;
        if (inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len)
            o = dpm_json_loadb(text, len, NULL); /* our text: cannot fail but on ENOMEM */
    }
    inflateEnd(&z);
    free(text);
    return o;
}

dpm_rc dpm_store_key(const json_t *obj, char *buf, size_t n, struct dpm_error *err)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    if (!name || !name[0])
        return dpm_error_set(err, DPM_EINVAL, "metadata.name", "object has no metadata.name");
    int w = ns && ns[0] ? snprintf(buf, n, "%s/%s", ns, name) : snprintf(buf, n, "%s", name);
    if (w < 0 || (size_t)w >= n)
        return dpm_error_set(err, DPM_EINVAL, "metadata.name",
                             "object key is longer than %zu bytes", n - 1);
    return DPM_OK;
}

/* Calls fn(ctx, idx, value) for every value obj has in the indexes not in
 * skip (labels: only the keys listed in only_keys, when not NULL).  The one
 * definition of an object's index values: filing (index_each) and scanning
 * (has_value) both use it. */
typedef int (*value_fn)(void *ctx, int idx, const char *value);

static int values_of(const json_t *obj, unsigned skip, const json_t *only_keys, value_fn fn,
                     void *ctx)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    int rc = 0;
    if (!(skip & DPM_INDEX_BIT(DPM_INDEX_NAMESPACE)))
        rc |= fn(ctx, DPM_INDEX_NAMESPACE, ns ? ns : "");
    size_t i;
    json_t *ref;
    json_array_foreach (
        skip &DPM_INDEX_BIT(DPM_INDEX_OWNER) ? NULL : json_object_get(md, "ownerReferences"), i,
        ref) {
        const char *uid = json_string_value(json_object_get(ref, "uid"));
        if (uid && uid[0])
            rc |= fn(ctx, DPM_INDEX_OWNER, uid);
    }
    const char *lk;
    json_t *lv;
    char buf[1024];
    json_object_foreach (
        skip &DPM_INDEX_BIT(DPM_INDEX_LABEL) ? NULL : json_object_get(md, "labels"), lk, lv) {
        if (only_keys && !json_object_get(only_keys, lk))
            continue;
        const char *v = json_string_value(lv);
        int w = snprintf(buf, sizeof buf, "%s=%s", lk, v ? v : "");
        /* label keys are <= 317 bytes and values <= 63 in Kubernetes; a
         * longer pair cannot be valid and is simply not indexed */
        if (w > 0 && (size_t)w < sizeof buf)
            rc |= fn(ctx, DPM_INDEX_LABEL, buf);
    }
    return rc;
}

/* What index_add/index_del file: the key of the object, in s. */
struct filing {
    struct dpm_store *s;
    const char *key;
};

/* An index value held by one object (a child's owner uid, its product's
 * label) maps straight to that key, as a string: a set costs a jansson
 * object with its own hashtable, ~400 bytes, per such value (the operator
 * caches 60,000 children at 10,000 products, bench/operator).  A second key
 * turns it into a set (key -> true); a set back to one key turns back. */
static int index_add(void *ctx, int idx, const char *value)
{
    struct dpm_store *s = ((struct filing *)ctx)->s;
    const char *key = ((struct filing *)ctx)->key;
    json_t *e = json_object_get(s->index[idx], value);
    if (!e)
        return json_object_set_new(s->index[idx], value, json_string(key));
    if (json_is_string(e)) {
        if (strcmp(json_string_value(e), key) == 0)
            return 0;
        json_t *set = json_object();
        if (!set || json_object_set_new(set, json_string_value(e), json_true()) != 0 ||
            json_object_set_new(set, key, json_true()) != 0) {
            json_decref(set);
            return -1;
        }
        return json_object_set_new(s->index[idx], value, set);
    }
    return json_object_set_new(e, key, json_true());
}

static int index_del(void *ctx, int idx, const char *value)
{
    struct dpm_store *s = ((struct filing *)ctx)->s;
    const char *key = ((struct filing *)ctx)->key;
    json_t *e = json_object_get(s->index[idx], value);
    if (json_is_string(e)) {
        if (strcmp(json_string_value(e), key) == 0)
            json_object_del(s->index[idx], value);
    } else if (e) {
        json_object_del(e, key);
        if (json_object_size(e) == 0) {
            json_object_del(s->index[idx], value);
        } else if (json_object_size(e) == 1) {
            void *it = json_object_iter(e);
            json_t *one = json_string(json_object_iter_key(it));
            /* out of memory: it stays a set, which is as correct */
            if (one)
                json_object_set_new(s->index[idx], value, one);
        }
    }
    return 0;
}

/* Calls fn for every index value obj contributes to s's indexes. */
static int index_each(struct dpm_store *s, const json_t *obj, const char *key, value_fn fn)
{
    struct filing f = {s, key};
    return values_of(obj, s->skip, s->label_keys, fn, &f);
}

dpm_rc dpm_store_put(struct dpm_store *s, json_t *obj, json_t **old, struct dpm_error *err)
{
    char key[512];
    dpm_rc rc;
    json_t *text = NULL, *prev_text = NULL, *prev = NULL;
    if (old)
        *old = NULL;
    if ((rc = dpm_store_key(obj, key, sizeof key, err)) != DPM_OK)
        goto done;
    char *dump = json_dumps(obj, JSON_COMPACT);
    if (!dump) {
        rc = dpm_error_set(err, DPM_ENOMEM, key, "out of memory storing %s", key);
        goto done;
    }
    pthread_rwlock_wrlock(&s->lock);
    text = freeze(s, dump, strlen(dump));
    free(dump);
    if (!text) {
        pthread_rwlock_unlock(&s->lock);
        rc = dpm_error_set(err, DPM_ENOMEM, key, "out of memory storing %s", key);
        goto done;
    }
    prev_text = json_incref(json_object_get(s->objects, key));
    /* the old object's index values come from its text */
    prev = thaw(s, prev_text);
    if (prev_text && !prev) {
        pthread_rwlock_unlock(&s->lock);
        rc = dpm_error_set(err, DPM_ENOMEM, key, "out of memory storing %s", key);
        goto done;
    }
    if (json_object_set(s->objects, key, text) != 0) {
        rc = dpm_error_set(err, DPM_ENOMEM, key, "out of memory storing %s", key);
        goto out;
    }
    if (prev)
        index_each(s, prev, key, index_del);
    if (index_each(s, obj, key, index_add) != 0) {
        /* keep the store consistent: an object is either fully indexed or
         * absent */
        index_each(s, obj, key, index_del);
        json_object_del(s->objects, key);
        rc = dpm_error_set(err, DPM_ENOMEM, key, "out of memory indexing %s", key);
    }
out:
    pthread_rwlock_unlock(&s->lock);
done:
    json_decref(obj);
    json_decref(text);
    json_decref(prev_text);
    if (old && rc == DPM_OK)
        *old = prev;
    else
        json_decref(prev);
    return rc;
}

dpm_rc dpm_store_remove(struct dpm_store *s, const char *key, json_t **old)
{
    pthread_rwlock_wrlock(&s->lock);
    json_t *prev = thaw(s, json_object_get(s->objects, key));
    if (prev) {
        index_each(s, prev, key, index_del);
        json_object_del(s->objects, key);
    } else if (json_object_get(s->objects, key)) {
        /* out of memory parsing it: still remove it; index entries for it
         * are dropped lazily (lookups skip keys that are gone) */
        json_object_del(s->objects, key);
    }
    pthread_rwlock_unlock(&s->lock);
    if (old)
        *old = prev;
    else
        json_decref(prev);
    return DPM_OK;
}

json_t *dpm_store_get_key(struct dpm_store *s, const char *key)
{
    pthread_rwlock_rdlock(&s->lock);
    json_t *o = thaw(s, json_object_get(s->objects, key));
    pthread_rwlock_unlock(&s->lock);
    return o;
}

json_t *dpm_store_get(struct dpm_store *s, const char *ns, const char *name)
{
    char key[512];
    int w = ns && ns[0] ? snprintf(key, sizeof key, "%s/%s", ns, name)
                        : snprintf(key, sizeof key, "%s", name);
    if (w < 0 || (size_t)w >= sizeof key)
        return NULL;
    return dpm_store_get_key(s, key);
}

json_t *dpm_store_list(struct dpm_store *s)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&s->lock);
    const char *k;
    json_t *v;
    json_object_foreach (s->objects, k, v) {
        if (json_array_append_new(arr, thaw(s, v)) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return arr;
}

json_t *dpm_store_keys(struct dpm_store *s)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&s->lock);
    const char *k;
    json_t *v;
    json_object_foreach (s->objects, k, v) {
        if (json_array_append_new(arr, json_string(k)) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return arr;
}

/* True when a lookup of value in index idx has no index to use: the index
 * is not kept, or value ("key=value") names a label key it does not
 * cover. */
static bool unindexed(const struct dpm_store *s, enum dpm_index idx, const char *value)
{
    if (s->skip & DPM_INDEX_BIT(idx))
        return true;
    if (idx != DPM_INDEX_LABEL || !s->label_keys)
        return false;
    const char *eq = strchr(value, '=');
    return !json_object_getn(s->label_keys, value, eq ? (size_t)(eq - value) : strlen(value));
}

struct wanted {
    int idx;
    const char *value;
    bool found;
};

static int match(void *ctx, int idx, const char *value)
{
    struct wanted *w = ctx;
    if (idx == w->idx && strcmp(value, w->value) == 0)
        w->found = true;
    return 0;
}

/* Whether obj has value in index idx, as a store keeping every index would
 * file it.  A label query without '=' asks for the key with an empty
 * value, as it always has. */
static bool has_value(const json_t *obj, enum dpm_index idx, const char *value)
{
    char buf[1024];
    if (idx == DPM_INDEX_LABEL && !strchr(value, '=')) {
        int w = snprintf(buf, sizeof buf, "%s=", value);
        if (w < 0 || (size_t)w >= sizeof buf)
            return false;
        value = buf;
    }
    struct wanted w = {(int)idx, value, false};
    values_of(obj, 0, NULL, match, &w);
    return w.found;
}

/* A lookup without an index: every object is parsed and compared.
 * Called with the read lock held. */
static json_t *scan(struct dpm_store *s, enum dpm_index idx, const char *value)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach (s->objects, k, v) {
        json_t *o = thaw(s, v);
        if (!o || !arr) {
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
        if (has_value(o, idx, value)) {
            if (json_array_append_new(arr, o) != 0) {
                json_decref(arr);
                return NULL;
            }
        } else {
            json_decref(o);
        }
    }
    return arr;
}

json_t *dpm_store_by_index(struct dpm_store *s, enum dpm_index idx, const char *value)
{
    if ((int)idx < 0 || idx >= NINDEX || !value)
        return json_array();
    pthread_rwlock_rdlock(&s->lock);
    if (unindexed(s, idx, value)) {
        json_t *found = scan(s, idx, value);
        pthread_rwlock_unlock(&s->lock);
        return found;
    }
    json_t *arr = json_array();
    if (!arr) {
        pthread_rwlock_unlock(&s->lock);
        return NULL;
    }
    const char *k;
    json_t *v, *e = json_object_get(s->index[idx], value);
    if (json_is_string(e)) {
        json_t *o = json_object_get(s->objects, json_string_value(e));
        if (o && json_array_append_new(arr, thaw(s, o)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    json_object_foreach (json_is_object(e) ? e : NULL, k, v) {
        json_t *o = json_object_get(s->objects, k);
        if (o && json_array_append_new(arr, thaw(s, o)) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return arr;
}

size_t dpm_store_len(struct dpm_store *s)
{
    pthread_rwlock_rdlock(&s->lock);
    size_t n = json_object_size(s->objects);
    pthread_rwlock_unlock(&s->lock);
    return n;
}

json_t *dpm_transform_default(json_t *obj, void *ctx)
{
    (void)ctx;
    json_t *md = json_object_get(obj, "metadata");
    json_object_del(md, "managedFields");
    json_t *ann = json_object_get(md, "annotations");
    if (ann) {
        json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
        if (json_object_size(ann) == 0)
            json_object_del(md, "annotations");
    }
    return json_incref(obj);
}
