/* A block's update of the state tree in one native call (storage/jmt.py, `StateTree.apply`).
 *
 * The Python writer in jmt.py is the specification; this file does the same walk, in the
 * same order, over the same stored bytes. Python hands in the block's updates sorted by path
 * as (path, value or None) pairs, the root's (node version, is leaf), the new version, the
 * dicts that hold encoded nodes (the batch's overlay, the node cache and its older half) and
 * a callable that reads a node from the store. The walk loads each touched node once, from
 * the dicts first; rewrites the affected 16-ary nodes bottom-up, hashing each with one
 * merkle16 (_nodehash.c); and encodes the new nodes as msgpack exactly as msgspec encodes
 * jmt.LeafNode ([0, path, value]) and jmt.InternalNode ([2, bitmap, hashes, versions,
 * leaves, paths]: the paths of its leaf children, so that an update of an existing key
 * compares paths and hashes in the parent and never reads the leaf). Internal nodes of the
 * first record version ([1, bitmap, hashes, versions, leaves], jmt.InternalNodeV1) are
 * read too: their leaves are read where a path is needed, and a rewrite stores them in
 * the new version. It returns them in two dicts (internal nodes, leaves) for one put_many each,
 * with the keys of the nodes this version replaced, in the order the Python writer lists
 * them.
 *
 * The read callable returns a record as the store holds it (kv.py's `seal`: the value, then
 * the big-endian CRC-32 of key and value), or None; the checksum is checked here. Internal
 * nodes read from the store or from the cache's older half go into the cache (the caller
 * bounds its size after the call). Stored nodes are parsed strictly: a missing node, a
 * failed checksum or a malformed node raises ValueError, which jmt.py reports as
 * CorruptDataError. Holds the GIL throughout except inside the read callable (the digest
 * context is not used across that call).
 */
#include "_nodehash.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { R_UNCHANGED, R_EMPTY, R_NODE, R_LEAF };

typedef struct {
    const unsigned char *path; /* 32 bytes */
    const unsigned char *value; /* NULL: delete */
    Py_ssize_t vlen;
} Item;

/* What an update made of a subtree: unchanged, empty, an internal node written at the new
 * version, or a leaf not yet placed (it may still move up). */
typedef struct {
    int kind;
    unsigned char hash[HASH];
    Item leaf;
} Res;

typedef struct {
    unsigned bitmap, leaves;
    const unsigned char *slots[16]; /* child hashes, NULL where absent */
    const unsigned char *paths[16]; /* leaf children's paths; NULL where unknown (version 1) */
    unsigned long long versions[16];
} Internal;

typedef struct {
    const EVP_MD *md;
    unsigned long long version, root_version;
    PyObject *overlay, *cache, *old, *fetch; /* borrowed */
    PyObject *internal, *leaves, *stale, *keep; /* owned */
} Walk;

static int nibble(const unsigned char *path, int depth)
{
    return depth & 1 ? path[depth >> 1] & 15 : path[depth >> 1] >> 4;
}

static void be64(unsigned char *out, unsigned long long v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char)v;
}

/* The store key of a node: its version (8 bytes, big-endian) and its nibble path as hex
 * digits, path[:depth] followed by `extra` unless it is negative. */
static PyObject *node_key(unsigned long long version, const unsigned char *path, int depth,
                          int extra)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[8 + 2 * HASH + 1];
    int n = 8;
    be64(buf, version);
    for (int d = 0; d < depth; d++)
        buf[n++] = (unsigned char)hex[nibble(path, d)];
    if (extra >= 0)
        buf[n++] = (unsigned char)hex[extra];
    return PyBytes_FromStringAndSize((const char *)buf, n);
}

/* -- msgpack, as msgspec writes it (smallest forms) and reads it (any width) ---------- */

typedef struct {
    const unsigned char *p, *end;
} Reader;

static int read_uint(Reader *r, unsigned long long *out)
{
    if (r->p >= r->end)
        return -1;
    unsigned char t = *r->p++;
    int n;
    if (t < 0x80) {
        *out = t;
        return 0;
    }
    switch (t) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: return -1;
    }
    if (r->end - r->p < n)
        return -1;
    *out = 0;
    while (n--)
        *out = *out << 8 | *r->p++;
    return 0;
}

static int read_len(Reader *r, int width, Py_ssize_t *out)
{
    if (r->end - r->p < width)
        return -1;
    unsigned long long v = 0;
    while (width--)
        v = v << 8 | *r->p++;
    *out = (Py_ssize_t)v;
    return 0;
}

static int read_bin(Reader *r, const unsigned char **data, Py_ssize_t *len)
{
    if (r->p >= r->end)
        return -1;
    unsigned char t = *r->p++;
    if (t < 0xc4 || t > 0xc6 || read_len(r, 1 << (t - 0xc4), len) < 0
        || r->end - r->p < *len)
        return -1;
    *data = r->p;
    r->p += *len;
    return 0;
}

static int read_array(Reader *r, Py_ssize_t *len)
{
    if (r->p >= r->end)
        return -1;
    unsigned char t = *r->p++;
    if (t >= 0x90 && t <= 0x9f) {
        *len = t & 15;
        return 0;
    }
    if (t == 0xdc)
        return read_len(r, 2, len);
    if (t == 0xdd)
        return read_len(r, 4, len);
    return -1;
}

static int malformed(PyObject *key, const char *what)
{
    PyErr_Format(PyExc_ValueError, "bad tree node %R: %s", key, what);
    return -1;
}

static int decode_leaf(PyObject *key, PyObject *raw, Item *leaf)
{
    Reader r = {(const unsigned char *)PyBytes_AS_STRING(raw),
                (const unsigned char *)PyBytes_AS_STRING(raw) + PyBytes_GET_SIZE(raw)};
    Py_ssize_t n, plen;
    unsigned long long tag;
    if (read_array(&r, &n) < 0 || n != 3 || read_uint(&r, &tag) < 0)
        return malformed(key, "not a node");
    if (tag != 0)
        return malformed(key, "expected a leaf node");
    if (read_bin(&r, &leaf->path, &plen) < 0 || plen != HASH
        || read_bin(&r, &leaf->value, &leaf->vlen) < 0 || r.p != r.end)
        return malformed(key, "malformed leaf");
    return 0;
}

static int decode_internal(PyObject *key, PyObject *raw, Internal *node)
{
    Reader r = {(const unsigned char *)PyBytes_AS_STRING(raw),
                (const unsigned char *)PyBytes_AS_STRING(raw) + PyBytes_GET_SIZE(raw)};
    Py_ssize_t n, hlen, count, plen = 0;
    unsigned long long tag, bitmap, leaves;
    const unsigned char *hashes, *paths = NULL;
    if (read_array(&r, &n) < 0 || n < 3 || read_uint(&r, &tag) < 0)
        return malformed(key, "not a node");
    if (!(tag == 1 && n == 5) && !(tag == 2 && n == 6))
        return malformed(key, tag == 0 && n == 3 ? "expected an internal node" : "not a node");
    if (read_uint(&r, &bitmap) < 0 || bitmap > 0xffff || read_bin(&r, &hashes, &hlen) < 0
        || hlen != __builtin_popcount((unsigned)bitmap) * HASH || read_array(&r, &count) < 0
        || count != __builtin_popcount((unsigned)bitmap))
        return malformed(key, "malformed internal node");
    for (int nib = 0, i = 0; nib < 16; nib++) {
        node->slots[nib] = NULL;
        node->paths[nib] = NULL;
        node->versions[nib] = 0;
        if (bitmap >> nib & 1) {
            node->slots[nib] = hashes + i * HASH;
            if (read_uint(&r, &node->versions[nib]) < 0)
                return malformed(key, "malformed internal node");
            i++;
        }
    }
    if (read_uint(&r, &leaves) < 0 || leaves & ~bitmap
        || (tag == 2 && (read_bin(&r, &paths, &plen) < 0
                         || plen != __builtin_popcount((unsigned)leaves) * HASH))
        || r.p != r.end)
        return malformed(key, "malformed internal node");
    for (int nib = 0, i = 0; paths && nib < 16; nib++)
        if (leaves >> nib & 1)
            node->paths[nib] = paths + i++ * HASH;
    node->bitmap = (unsigned)bitmap;
    node->leaves = (unsigned)leaves;
    return 0;
}

static unsigned char *put_uint(unsigned char *p, unsigned long long v)
{
    int n;
    if (v < 0x80) {
        *p++ = (unsigned char)v;
        return p;
    }
    if (v <= 0xff) {
        *p++ = 0xcc;
        n = 1;
    } else if (v <= 0xffff) {
        *p++ = 0xcd;
        n = 2;
    } else if (v <= 0xffffffffull) {
        *p++ = 0xce;
        n = 4;
    } else {
        *p++ = 0xcf;
        n = 8;
    }
    for (int i = n - 1; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *put_bin(unsigned char *p, const unsigned char *data, Py_ssize_t len)
{
    int n = len < 0x100 ? 1 : len < 0x10000 ? 2 : 4;
    *p++ = (unsigned char)(n == 1 ? 0xc4 : n == 2 ? 0xc5 : 0xc6);
    for (int i = n - 1; i >= 0; i--)
        *p++ = (unsigned char)(len >> (8 * i));
    memcpy(p, data, (size_t)len);
    return p + len;
}

/* -- loading nodes ---------------------------------------------------------------------- */

/* The value in a stored record (kv.py's `unseal`), new reference; NULL with ValueError if
 * it is absent or fails its checksum. */
static PyObject *unseal(PyObject *key, PyObject *stored)
{
    if (stored == Py_None) {
        PyErr_Format(PyExc_ValueError, "missing tree node %R (pruned or corrupt)", key);
        return NULL;
    }
    if (!PyBytes_Check(stored) || PyBytes_GET_SIZE(stored) < 5) {
        PyErr_Format(PyExc_ValueError, "bad tree node %R: no stored record", key);
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(stored);
    Py_ssize_t len = PyBytes_GET_SIZE(stored) - 4;
    uLong crc = crc32(crc32(0L, (const Bytef *)PyBytes_AS_STRING(key),
                            (uInt)PyBytes_GET_SIZE(key)), s, (uInt)len);
    if (crc != ((uLong)s[len] << 24 | (uLong)s[len + 1] << 16 | (uLong)s[len + 2] << 8
                | s[len + 3])) {
        PyErr_Format(PyExc_ValueError, "bad tree node %R: fails its checksum", key);
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)s, len);
}

/* The encoded node at `key` (kept alive in w->keep until the walk ends); NULL on error. */
static PyObject *load(Walk *w, PyObject *key)
{
    PyObject *raw = PyDict_GetItemWithError(w->overlay, key);
    if (raw == NULL && !PyErr_Occurred())
        raw = PyDict_GetItemWithError(w->cache, key);
    if (raw == NULL && !PyErr_Occurred()) {
        raw = PyDict_GetItemWithError(w->old, key);
        if (raw != NULL && PyDict_SetItem(w->cache, key, raw) < 0)
            return NULL;
    }
    if (raw == NULL) {
        if (PyErr_Occurred())
            return NULL;
        PyObject *stored = PyObject_CallOneArg(w->fetch, key);
        if (stored == NULL)
            return NULL;
        PyObject *fetched = unseal(key, stored);
        Py_DECREF(stored);
        if (fetched == NULL)
            return NULL;
        /* internal nodes are cached; a leaf is read about once per update */
        char first = PyBytes_AS_STRING(fetched)[0];
        int failed = ((first == (char)0x95 || first == (char)0x96)
                      && PyDict_SetItem(w->cache, key, fetched) < 0)
                     || PyList_Append(w->keep, fetched) < 0;
        Py_DECREF(fetched);
        return failed ? NULL : fetched;
    }
    if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) == 0) {
        PyErr_SetString(PyExc_ValueError, "a cached node is not bytes");
        return NULL;
    }
    return PyList_Append(w->keep, raw) < 0 ? NULL : raw;
}

static int stale(Walk *w, PyObject *key)
{
    return PyList_Append(w->stale, key);
}

/* -- writing nodes ---------------------------------------------------------------------- */

static int leaf_hash(Walk *w, const Item *leaf, unsigned char *out)
{
    static const unsigned char leaf_prefix = 0x00;
    unsigned char inner[HASH];
    if (nodehash_digest3(w->md, leaf->value, (size_t)leaf->vlen, NULL, 0, NULL, 0, inner) < 0)
        return -1;
    return nodehash_digest3(w->md, &leaf_prefix, 1, leaf->path, HASH, inner, HASH, out);
}

static int set_item(PyObject *dict, PyObject *key, PyObject *value)
{
    int failed = key == NULL || value == NULL || PyDict_SetItem(dict, key, value) < 0;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

/* Write a pending leaf at its position, depth nibbles deep. */
static int place(Walk *w, const Res *res, int depth)
{
    if (res->kind != R_LEAF)
        return 0;
    const Item *leaf = &res->leaf;
    Py_ssize_t size = 1 + 1 + 2 + HASH + 5 + leaf->vlen;
    PyObject *raw = PyBytes_FromStringAndSize(NULL, size);
    if (raw == NULL)
        return -1;
    unsigned char *start = (unsigned char *)PyBytes_AS_STRING(raw), *p = start;
    *p++ = 0x93;
    *p++ = 0x00;
    p = put_bin(p, leaf->path, HASH);
    p = put_bin(p, leaf->value, leaf->vlen);
    if (_PyBytes_Resize(&raw, p - start) < 0)
        return -1;
    return set_item(w->leaves, node_key(w->version, leaf->path, depth, -1), raw);
}

/* Write the internal node at path[:depth] with these children (versions per nibble). */
static int write_internal(Walk *w, const unsigned char *path, int depth,
                          const unsigned char *slots[16], const unsigned long long versions[16],
                          unsigned leaves, const unsigned char *paths[16], unsigned char *hash)
{
    unsigned char store[15][HASH], buf[8 + 16 * HASH + 8 + 16 * 9 + 8 + 3 + 16 * HASH];
    unsigned char *p = buf;
    const unsigned char *layers[15];
    unsigned char packed[16 * HASH], leaf_paths[16 * HASH];
    unsigned bitmap = 0;
    int count = 0, nleaves = 0;
    if (nodehash_merkle16(w->md, slots, store, layers) < 0)
        return -1;
    memcpy(hash, layers[14] ? layers[14] : nodehash_zero, HASH);
    for (int nib = 0; nib < 16; nib++)
        if (slots[nib]) {
            bitmap |= 1u << nib;
            memcpy(packed + count++ * HASH, slots[nib], HASH);
        }
    *p++ = 0x96;
    *p++ = 0x02;
    p = put_uint(p, bitmap);
    p = put_bin(p, packed, count * HASH);
    if (count < 16) {
        *p++ = (unsigned char)(0x90 | count);
    } else {
        *p++ = 0xdc;
        *p++ = 0;
        *p++ = (unsigned char)count;
    }
    for (int nib = 0; nib < 16; nib++)
        if (slots[nib])
            p = put_uint(p, versions[nib]);
    p = put_uint(p, leaves);
    for (int nib = 0; nib < 16; nib++)
        if (leaves >> nib & 1)
            memcpy(leaf_paths + nleaves++ * HASH, paths[nib], HASH);
    p = put_bin(p, leaf_paths, nleaves * HASH);
    return set_item(w->internal, node_key(w->version, path, depth, -1),
                    PyBytes_FromStringAndSize((const char *)buf, p - buf));
}

/* -- the walk (jmt._Writer, function by function) --------------------------------------- */

static int update(Walk *w, const Internal *parent, int nib, int depth, const Item *it,
                  Py_ssize_t lo, Py_ssize_t hi, Res *out);

/* A subtree at `depth` holding exactly it[lo:hi] (all live, at least one). */
static int build(Walk *w, int depth, const Item *it, Py_ssize_t lo, Py_ssize_t hi, Res *out)
{
    if (hi - lo == 1) {
        out->kind = R_LEAF;
        out->leaf = it[lo];
        return leaf_hash(w, &it[lo], out->hash);
    }
    if (depth >= 2 * HASH) {
        PyErr_SetString(PyExc_ValueError, "two updates with one path");
        return -1;
    }
    unsigned char hashes[16][HASH];
    const unsigned char *slots[16] = {NULL}, *paths[16] = {NULL};
    unsigned long long versions[16];
    unsigned leaves = 0;
    for (Py_ssize_t i = lo, j; i < hi; i = j) {
        int nib = nibble(it[i].path, depth);
        for (j = i + 1; j < hi && nibble(it[j].path, depth) == nib; j++)
            ;
        Res child;
        if (build(w, depth + 1, it, i, j, &child) < 0 || place(w, &child, depth + 1) < 0)
            return -1;
        memcpy(hashes[nib], child.hash, HASH);
        slots[nib] = hashes[nib];
        versions[nib] = w->version;
        if (child.kind == R_LEAF) {
            leaves |= 1u << nib;
            paths[nib] = child.leaf.path;
        }
    }
    out->kind = R_NODE;
    return write_internal(w, it[lo].path, depth, slots, versions, leaves, paths, out->hash);
}

static int same_value(const Item *a, const Item *b)
{
    return a->value && b->value && a->vlen == b->vlen
           && memcmp(a->value, b->value, (size_t)a->vlen) == 0;
}

/* The leaf at path[:depth]: `known` is its path and `hash` its hash as its parent holds
 * them (known NULL: a version-1 parent, or the root). One key's update of that leaf is
 * decided from them without reading it: the same leaf hash means the same value. */
static int update_leaf(Walk *w, unsigned long long version, int depth, const Item *it,
                       Py_ssize_t lo, Py_ssize_t hi, const unsigned char *known,
                       const unsigned char *hash, Res *out)
{
    Item leaf;
    PyObject *key = node_key(version, it[lo].path, depth, -1), *raw;
    if (key == NULL)
        return -1;
    if (known && hi - lo == 1 && memcmp(it[lo].path, known, HASH) == 0) {
        int rc = 0;
        out->leaf = it[lo];
        if (it[lo].value && (rc = leaf_hash(w, &it[lo], out->hash)) == 0
            && memcmp(out->hash, hash, HASH) == 0)
            out->kind = R_UNCHANGED;
        else if (rc == 0 && (rc = stale(w, key)) == 0)
            out->kind = it[lo].value ? R_LEAF : R_EMPTY;
        Py_DECREF(key);
        return rc;
    }
    if ((raw = load(w, key)) == NULL || decode_leaf(key, raw, &leaf) < 0)
        goto fail;
    if (hi - lo == 1 && memcmp(it[lo].path, leaf.path, HASH) == 0) {
        if (same_value(&it[lo], &leaf)) {
            out->kind = R_UNCHANGED;
        } else {
            if (stale(w, key) < 0)
                goto fail;
            out->kind = it[lo].value ? R_LEAF : R_EMPTY;
            out->leaf = it[lo];
            if (it[lo].value && leaf_hash(w, &it[lo], out->hash) < 0)
                goto fail;
        }
        Py_DECREF(key);
        return 0;
    }
    Item *live = PyMem_Malloc(sizeof(Item) * (size_t)(hi - lo + 1));
    if (live == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t n = 0;
    int seen = 0, rc = 0;
    for (Py_ssize_t i = lo; i < hi; i++) {
        if (!seen && memcmp(it[i].path, leaf.path, HASH) >= 0) {
            seen = 1;
            if (memcmp(it[i].path, leaf.path, HASH) != 0)
                live[n++] = leaf;
        }
        if (it[i].value)
            live[n++] = it[i];
    }
    if (!seen)
        live[n++] = leaf;
    if (n == 1 && memcmp(live[0].path, leaf.path, HASH) == 0 && same_value(&live[0], &leaf))
        out->kind = R_UNCHANGED;
    else if ((rc = stale(w, key)) == 0) {
        if (n == 0)
            out->kind = R_EMPTY;
        else
            rc = build(w, depth, live, 0, n, out);
    }
    PyMem_Free(live);
    Py_DECREF(key);
    return rc;
fail:
    Py_DECREF(key);
    return -1;
}

static int update_internal(Walk *w, unsigned long long version, int depth, const Item *it,
                           Py_ssize_t lo, Py_ssize_t hi, Res *out)
{
    Internal node;
    Res results[16];
    unsigned changed = 0;
    const unsigned char *path = it[lo].path;
    PyObject *key = node_key(version, path, depth, -1), *raw;
    if (key == NULL)
        return -1;
    if ((raw = load(w, key)) == NULL || decode_internal(key, raw, &node) < 0)
        goto fail;
    if (depth >= 2 * HASH) {
        malformed(key, "an internal node below the last nibble");
        goto fail;
    }
    for (Py_ssize_t i = lo, j; i < hi; i = j) {
        int nib = nibble(it[i].path, depth);
        for (j = i + 1; j < hi && nibble(it[j].path, depth) == nib; j++)
            ;
        unsigned bit = 1u << nib;
        if (update(w, &node, nib, depth + 1, it, i, j, &results[nib]) < 0)
            goto fail;
        if (results[nib].kind != R_UNCHANGED)
            changed |= bit;
    }
    if (!changed) {
        out->kind = R_UNCHANGED;
        Py_DECREF(key);
        return 0;
    }
    if (stale(w, key) < 0)
        goto fail;
    unsigned remaining = node.bitmap, leaves = node.leaves;
    for (int nib = 0; nib < 16; nib++) {
        unsigned bit = 1u << nib;
        if (!(changed & bit))
            continue;
        if (results[nib].kind == R_EMPTY) {
            remaining &= ~bit;
            leaves &= ~bit;
            node.slots[nib] = NULL;
        } else {
            remaining |= bit;
            leaves = results[nib].kind == R_LEAF ? leaves | bit : leaves & ~bit;
            node.slots[nib] = results[nib].hash;
            node.paths[nib] = results[nib].kind == R_LEAF ? results[nib].leaf.path : NULL;
            node.versions[nib] = w->version;
        }
    }
    Py_DECREF(key);
    if (!remaining) {
        out->kind = R_EMPTY;
        return 0;
    }
    if (__builtin_popcount(remaining) == 1 && leaves) { /* a lone leaf moves up here */
        int only = __builtin_ctz(remaining);
        if (changed >> only & 1) {
            *out = results[only];
            return 0;
        }
        PyObject *leaf_key = node_key(node.versions[only], path, depth, only);
        if (leaf_key == NULL)
            return -1;
        int rc = (raw = load(w, leaf_key)) == NULL || decode_leaf(leaf_key, raw, &out->leaf) < 0
                 || stale(w, leaf_key) < 0 ? -1 : 0;
        Py_DECREF(leaf_key);
        out->kind = R_LEAF;
        return rc < 0 ? -1 : leaf_hash(w, &out->leaf, out->hash);
    }
    for (int nib = 0; nib < 16; nib++)
        if (changed >> nib & 1 && place(w, &results[nib], depth + 1) < 0)
            return -1;
    for (int nib = 0; nib < 16; nib++) /* a version-1 node's leaves: read their paths once */
        if (leaves >> nib & 1 && node.paths[nib] == NULL) {
            Item leaf;
            PyObject *leaf_key = node_key(node.versions[nib], path, depth, nib);
            if (leaf_key == NULL)
                return -1;
            int rc = (raw = load(w, leaf_key)) == NULL || decode_leaf(leaf_key, raw, &leaf) < 0;
            Py_DECREF(leaf_key);
            if (rc)
                return -1;
            node.paths[nib] = leaf.path;
        }
    out->kind = R_NODE;
    return write_internal(w, path, depth, node.slots, node.versions, leaves, node.paths,
                          out->hash);
fail:
    Py_DECREF(key);
    return -1;
}

/* The subtree at depth (child `nib` of `parent`, or the root: parent NULL, nib 0 a leaf, 1 an
 * internal node, -1 the empty tree, version in w->root_version) with it[lo:hi] applied. */
static int update(Walk *w, const Internal *parent, int nib, int depth, const Item *it,
                  Py_ssize_t lo, Py_ssize_t hi, Res *out)
{
    if (parent == NULL ? nib >= 0 : (parent->bitmap >> nib & 1) != 0) {
        unsigned long long version = parent ? parent->versions[nib] : w->root_version;
        int is_leaf = parent ? (parent->leaves >> nib & 1) != 0 : nib == 0;
        return is_leaf ? update_leaf(w, version, depth, it, lo, hi,
                                     parent ? parent->paths[nib] : NULL,
                                     parent ? parent->slots[nib] : NULL, out)
                       : update_internal(w, version, depth, it, lo, hi, out);
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t i = lo; i < hi; i++)
        n += it[i].value != NULL;
    if (n == hi - lo)
        return build(w, depth, it, lo, hi, out);
    if (n == 0) {
        out->kind = R_UNCHANGED;
        return 0;
    }
    Item *live = PyMem_Malloc(sizeof(Item) * (size_t)n);
    if (live == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = lo, k = 0; i < hi; i++)
        if (it[i].value)
            live[k++] = it[i];
    int rc = build(w, depth, live, 0, n, out);
    PyMem_Free(live);
    return rc;
}

/* -- the entry point -------------------------------------------------------------------- */

/* The updates as Items: a list of (32-byte path, bytes or None), strictly ascending. */
static Item *parse_items(PyObject *items, Py_ssize_t *count)
{
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    Item *it = PyMem_Malloc(sizeof(Item) * (size_t)(n ? n : 1));
    if (it == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(items, i), *path, *value;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2
            || !PyBytes_Check(path = PyTuple_GET_ITEM(pair, 0))
            || PyBytes_GET_SIZE(path) != HASH
            || ((value = PyTuple_GET_ITEM(pair, 1)) != Py_None && !PyBytes_Check(value))) {
            PyErr_SetString(PyExc_ValueError,
                            "an update is a (32-byte path, bytes or None) tuple");
            goto fail;
        }
        it[i].path = (const unsigned char *)PyBytes_AS_STRING(path);
        it[i].value = value == Py_None ? NULL : (const unsigned char *)PyBytes_AS_STRING(value);
        it[i].vlen = value == Py_None ? 0 : PyBytes_GET_SIZE(value);
        if (i && memcmp(it[i - 1].path, it[i].path, HASH) >= 0) {
            PyErr_SetString(PyExc_ValueError, "update paths must be strictly ascending");
            goto fail;
        }
    }
    *count = n;
    return it;
fail:
    PyMem_Free(it);
    return NULL;
}

const char nodebatch_apply_doc[] =
"apply_batch(alg, updates, root, version, nodes, fetch)\n"
"    -> (root or None if unchanged, internal nodes, leaves, stale keys)\n\n"
"One block's tree update (see _nodebatch.c). `updates`: list of (path, value or None),\n"
"strictly ascending; `root`: None (empty tree) or (node version, is leaf); `nodes`: three\n"
"dicts of encoded nodes by key (overlay, cache, older cache); `fetch(key)`: the stored\n"
"record (value and CRC-32) or None. The root comes back as (kind, hash), kind 0 empty,\n"
"1 leaf, 2 internal.";

PyObject *nodebatch_apply(PyObject *self, PyObject *args)
{
    int alg, root_leaf = 0;
    unsigned long long version, root_version = 0;
    PyObject *items_arg, *root, *nodes, *items = NULL, *result = NULL;
    Walk w = {0};
    Item *it = NULL;
    Py_ssize_t n = 0;
    Res res;
    (void)self;
    if (!PyArg_ParseTuple(args, "iO!OKO!O:apply_batch", &alg, &PyList_Type, &items_arg, &root,
                          &version, &PyTuple_Type, &nodes, &w.fetch))
        return NULL;
    if ((w.md = nodehash_md(alg)) == NULL)
        return NULL;
    if (PyTuple_GET_SIZE(nodes) != 3 || !PyDict_Check(w.overlay = PyTuple_GET_ITEM(nodes, 0))
        || !PyDict_Check(w.cache = PyTuple_GET_ITEM(nodes, 1))
        || !PyDict_Check(w.old = PyTuple_GET_ITEM(nodes, 2))) {
        PyErr_SetString(PyExc_ValueError, "nodes are three dicts");
        return NULL;
    }
    if (root != Py_None && !PyArg_ParseTuple(root, "Kp:root", &root_version, &root_leaf))
        return NULL;
    if (!PyCallable_Check(w.fetch)) {
        PyErr_SetString(PyExc_ValueError, "fetch must be callable");
        return NULL;
    }
    w.version = version;
    if ((items = PySequence_Tuple(items_arg)) == NULL || (it = parse_items(items, &n)) == NULL
        || (w.internal = PyDict_New()) == NULL || (w.leaves = PyDict_New()) == NULL
        || (w.stale = PyList_New(0)) == NULL || (w.keep = PyList_New(0)) == NULL)
        goto done;
    res.kind = R_UNCHANGED;
    w.root_version = root_version;
    if (n && update(&w, NULL, root == Py_None ? -1 : !root_leaf, 0, it, 0, n, &res) < 0)
        goto done;
    PyObject *out_root;
    if (res.kind == R_UNCHANGED) {
        out_root = Py_NewRef(Py_None);
    } else {
        if (place(&w, &res, 0) < 0)
            goto done;
        int kind = res.kind == R_EMPTY ? 0 : res.kind == R_LEAF ? 1 : 2;
        out_root = Py_BuildValue("(iy#)", kind,
                                 res.kind == R_EMPTY ? nodehash_zero : res.hash,
                                 (Py_ssize_t)HASH);
        if (out_root == NULL)
            goto done;
    }
    result = Py_BuildValue("(NOOO)", out_root, w.internal, w.leaves, w.stale);
done:
    PyMem_Free(it);
    Py_XDECREF(items);
    Py_XDECREF(w.internal);
    Py_XDECREF(w.leaves);
    Py_XDECREF(w.stale);
    Py_XDECREF(w.keep);
    return result;
}

/* -- sealing a batch's puts (kv.py's Store.commit) -------------------------------------- */

typedef struct {
    PyObject *key, *sealed;
} Put;

static int put_order(const void *a, const void *b)
{
    PyObject *x = ((const Put *)a)->key, *y = ((const Put *)b)->key;
    Py_ssize_t nx = PyBytes_GET_SIZE(x), ny = PyBytes_GET_SIZE(y);
    int c = memcmp(PyBytes_AS_STRING(x), PyBytes_AS_STRING(y), (size_t)(nx < ny ? nx : ny));
    return c ? c : (nx > ny) - (nx < ny);
}

const char nodebatch_seal_puts_doc[] =
"seal_puts(ops) -> [(key, sealed value)] in key order\n\n"
"The puts of one sub-database's operations (`ops`: bytes key -> bytes value, or None for a\n"
"delete, which is skipped), each value sealed as kv.py's `seal` does (the value, then the\n"
"big-endian CRC-32 of key and value): Store.commit's plan for a block's ~37,000 tree\n"
"records without a Python call per record.";

PyObject *nodebatch_seal_puts(PyObject *self, PyObject *ops)
{
    (void)self;
    if (!PyDict_Check(ops)) {
        PyErr_SetString(PyExc_TypeError, "seal_puts takes a dict");
        return NULL;
    }
    Py_ssize_t size = PyDict_GET_SIZE(ops), n = 0, pos = 0;
    Put *puts = PyMem_Malloc(sizeof(Put) * (size_t)(size ? size : 1));
    PyObject *key, *value, *out = NULL;
    if (puts == NULL)
        return PyErr_NoMemory();
    while (PyDict_Next(ops, &pos, &key, &value)) {
        if (value == Py_None)
            continue;
        if (!PyBytes_Check(key) || !PyBytes_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "keys and values must be bytes");
            goto done;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(value);
        PyObject *sealed = PyBytes_FromStringAndSize(NULL, len + 4);
        if (sealed == NULL)
            goto done;
        unsigned char *s = (unsigned char *)PyBytes_AS_STRING(sealed);
        memcpy(s, PyBytes_AS_STRING(value), (size_t)len);
        uLong crc = crc32(crc32(0L, (const Bytef *)PyBytes_AS_STRING(key),
                                (uInt)PyBytes_GET_SIZE(key)), s, (uInt)len);
        s[len] = (unsigned char)(crc >> 24);
        s[len + 1] = (unsigned char)(crc >> 16);
        s[len + 2] = (unsigned char)(crc >> 8);
        s[len + 3] = (unsigned char)crc;
        puts[n].key = Py_NewRef(key);
        puts[n++].sealed = sealed;
    }
    qsort(puts, (size_t)n, sizeof(Put), put_order);
    if ((out = PyList_New(n)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_Pack(2, puts[i].key, puts[i].sealed);
        if (pair == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, pair);
    }
done:
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(puts[i].key);
        Py_DECREF(puts[i].sealed);
    }
    PyMem_Free(puts);
    return out;
}
