/* Native hashing of the state tree's 16-ary nodes (storage/jmt.py, storage/nodehash.py).
 *
 * An internal node holds up to 16 child hashes; its own hash is the 4-level binary Merkle
 * tree over them (proof.py: node(l, r) = Z if l == r == Z else H(0x01 || l || r), Z = 32
 * zero bytes). In Python that is 15 calls through the interpreter per node rewrite, the
 * largest cost of a block's tree update; here it is one call. The digests come from the
 * same OpenSSL libcrypto that hashlib uses (SHA-256 with the CPU's SHA extensions where
 * present; SM3 and SHA3-256 from its default provider), so results match the Python
 * hashers bit for bit (tests/storage/test_nodehash.py cross-checks them, SM3 against GmSSL).
 *
 * Nodes are given in their stored, compact form: a 16-bit bitmap of present children and
 * their hashes concatenated in nibble order. Every function holds the GIL throughout (the
 * digest context is shared), and none handles secrets.
 */
#include "_nodehash.h"
#include <string.h>

#define ALGS 3

static const char *alg_names[ALGS] = {"SHA256", "SM3", "SHA3-256"};
static EVP_MD *mds[ALGS];
static EVP_MD_CTX *ctx;
const unsigned char nodehash_zero[HASH];

/* H(a || b || c) into out; lengths may be 0. Returns 0, or -1 with an exception set. */
int nodehash_digest3(const EVP_MD *md, const unsigned char *a, size_t na,
                     const unsigned char *b, size_t nb, const unsigned char *c,
                     size_t nc, unsigned char *out)
{
    unsigned int len = 0;
    if (!EVP_DigestInit_ex2(ctx, md, NULL) || (na && !EVP_DigestUpdate(ctx, a, na))
        || (nb && !EVP_DigestUpdate(ctx, b, nb)) || (nc && !EVP_DigestUpdate(ctx, c, nc))
        || !EVP_DigestFinal_ex(ctx, out, &len) || len != HASH) {
        PyErr_SetString(PyExc_RuntimeError, "libcrypto digest failed");
        return -1;
    }
    return 0;
}

const EVP_MD *nodehash_md(int alg)
{
    if (alg < 0 || alg >= ALGS || mds[alg] == NULL) {
        PyErr_Format(PyExc_ValueError, "unknown hash algorithm %d", alg);
        return NULL;
    }
    return mds[alg];
}

/* The binary layers over 16 slots (NULL = empty): layers[0..7] the 8 pair hashes,
 * [8..11] the 4 above, [12..13] the 2 above, [14] the root; NULL where empty. */
int nodehash_merkle16(const EVP_MD *md, const unsigned char *slots[16],
                      unsigned char store[15][HASH], const unsigned char *layers[15])
{
    static const unsigned char node_prefix = 0x01;
    const unsigned char *const *below = slots;
    int out = 0, width = 16;
    while (width > 1) {
        for (int i = 0; i < width; i += 2) {
            const unsigned char *l = below[i], *r = below[i + 1];
            if (l == NULL && r == NULL) {
                layers[out + i / 2] = NULL;
                continue;
            }
            if (nodehash_digest3(md, &node_prefix, 1, l ? l : nodehash_zero, HASH,
                                 r ? r : nodehash_zero, HASH, store[out + i / 2]) < 0)
                return -1;
            layers[out + i / 2] = store[out + i / 2];
        }
        below = &layers[out];
        out += width / 2;
        width /= 2;
    }
    return 0;
}

/* Unpack a compact node into 16 slot pointers; -1 with ValueError if the sizes disagree. */
static int unpack(unsigned long bitmap, const Py_buffer *hashes, const unsigned char *slots[16])
{
    const unsigned char *p = hashes->buf;
    Py_ssize_t n = 0;
    if (bitmap > 0xffff) {
        PyErr_SetString(PyExc_ValueError, "bitmap wider than 16 bits");
        return -1;
    }
    for (int nib = 0; nib < 16; nib++) {
        if (bitmap >> nib & 1) {
            slots[nib] = p + n * HASH;
            n++;
        } else {
            slots[nib] = NULL;
        }
    }
    if (hashes->len != n * HASH) {
        PyErr_SetString(PyExc_ValueError, "hashes do not match the bitmap");
        return -1;
    }
    return 0;
}

static PyObject *hash_out(const unsigned char *h)
{
    return PyBytes_FromStringAndSize((const char *)(h ? h : nodehash_zero), HASH);
}

/* A node's 16 slots and the binary layers over them (merkle16). */
struct node {
    const unsigned char *slots[16], *layers[15];
    unsigned char store[15][HASH];
};

/* The layers of a compact node under algorithm alg; -1 with an exception set. */
static int hash_compact(int alg, unsigned long bitmap, const Py_buffer *hashes, struct node *n)
{
    const EVP_MD *md = nodehash_md(alg);
    if (md == NULL || unpack(bitmap, hashes, n->slots) < 0)
        return -1;
    return nodehash_merkle16(md, n->slots, n->store, n->layers);
}

PyDoc_STRVAR(node_hash_doc, "node_hash(alg, bitmap, hashes) -> the node's 32-byte hash");

static PyObject *node_hash(PyObject *self, PyObject *args)
{
    int alg;
    unsigned long bitmap;
    Py_buffer hashes;
    struct node n;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "iky*:node_hash", &alg, &bitmap, &hashes))
        return NULL;
    if (hash_compact(alg, bitmap, &hashes, &n) == 0)
        result = hash_out(n.layers[14]);
    PyBuffer_Release(&hashes);
    return result;
}

PyDoc_STRVAR(siblings_doc,
"siblings(alg, bitmap, hashes, nib) -> the 4 binary siblings on the way to child nib,\n"
"top first, b'' where empty (the proof's entries for this node)");

static PyObject *siblings(PyObject *self, PyObject *args)
{
    int alg, nib;
    unsigned long bitmap;
    Py_buffer hashes;
    struct node n;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "iky*i:siblings", &alg, &bitmap, &hashes, &nib))
        return NULL;
    if (nib < 0 || nib > 15)
        PyErr_SetString(PyExc_ValueError, "nibble outside 0..15");
    else if (hash_compact(alg, bitmap, &hashes, &n) == 0
             && (result = PyList_New(4)) != NULL) {
        /* level 1 (two nodes under the root) .. level 4 (the slots themselves) */
        const unsigned char *const *level[4] = {&n.layers[12], &n.layers[8], &n.layers[0],
                                                n.slots};
        for (int l = 0; l < 4; l++) {
            const unsigned char *h = level[l][(nib >> (3 - l)) ^ 1];
            PyObject *item = h ? PyBytes_FromStringAndSize((const char *)h, HASH)
                               : PyBytes_FromStringAndSize(NULL, 0);
            if (item == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, l, item);
        }
    }
    PyBuffer_Release(&hashes);
    return result;
}

PyDoc_STRVAR(rewrite_doc,
"rewrite(alg, bitmap, hashes, versions, changes, version)\n"
"    -> (bitmap, hashes, versions, node hash)\n\n"
"A node with its children changed: `changes` maps a nibble to the child's new hash\n"
"(written at `version`) or None (removed); `versions` lists the present children's node\n"
"versions in nibble order, as the node stores them.");

static PyObject *rewrite(PyObject *self, PyObject *args)
{
    int alg;
    unsigned long bitmap;
    Py_buffer hashes;
    PyObject *versions, *changes, *version, *key, *value;
    struct node n;
    PyObject *slot_versions[16];
    unsigned char packed[16 * HASH];
    PyObject *result = NULL, *new_versions = NULL, *packed_bytes = NULL;
    Py_ssize_t pos = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "iky*O!O!O:rewrite", &alg, &bitmap, &hashes, &PyList_Type,
                          &versions, &PyDict_Type, &changes, &version))
        return NULL;
    const EVP_MD *md = nodehash_md(alg);
    if (md == NULL || unpack(bitmap, &hashes, n.slots) < 0)
        goto done;
    if (PyList_GET_SIZE(versions) != (Py_ssize_t)__builtin_popcountl(bitmap)) {
        PyErr_SetString(PyExc_ValueError, "versions do not match the bitmap");
        goto done;
    }
    for (int nib = 0, i = 0; nib < 16; nib++)
        slot_versions[nib] = n.slots[nib] ? PyList_GET_ITEM(versions, i++) : NULL;
    while (PyDict_Next(changes, &pos, &key, &value)) {
        long nib = PyLong_AsLong(key);
        if (nib == -1 && PyErr_Occurred())
            goto done;
        if (nib < 0 || nib > 15) {
            PyErr_SetString(PyExc_ValueError, "nibble outside 0..15");
            goto done;
        }
        if (value == Py_None) {
            n.slots[nib] = NULL;
            slot_versions[nib] = NULL;
        } else if (PyBytes_Check(value) && PyBytes_GET_SIZE(value) == HASH) {
            n.slots[nib] = (const unsigned char *)PyBytes_AS_STRING(value);
            slot_versions[nib] = version;
        } else {
            PyErr_SetString(PyExc_ValueError, "a child hash is 32 bytes (None removes)");
            goto done;
        }
    }
    if (nodehash_merkle16(md, n.slots, n.store, n.layers) < 0)
        goto done;
    unsigned long out_bitmap = 0;
    int count = 0;
    for (int nib = 0; nib < 16; nib++)
        if (n.slots[nib]) {
            out_bitmap |= 1ul << nib;
            memcpy(packed + count * HASH, n.slots[nib], HASH);
            count++;
        }
    if ((new_versions = PyList_New(count)) == NULL
        || (packed_bytes = PyBytes_FromStringAndSize((const char *)packed, count * HASH)) == NULL)
        goto done;
    for (int nib = 0, i = 0; nib < 16; nib++)
        if (n.slots[nib]) {
            Py_INCREF(slot_versions[nib]);
            PyList_SET_ITEM(new_versions, i++, slot_versions[nib]);
        }
    result = Py_BuildValue("(kOON)", out_bitmap, packed_bytes, new_versions,
                           hash_out(n.layers[14]));
done:
    Py_XDECREF(new_versions);
    Py_XDECREF(packed_bytes);
    PyBuffer_Release(&hashes);
    return result;
}

PyDoc_STRVAR(leaf_hash_doc, "leaf_hash(alg, path, value) -> H(0x00 || path || H(value))");

static PyObject *leaf_hash(PyObject *self, PyObject *args)
{
    static const unsigned char leaf_prefix = 0x00;
    int alg;
    Py_buffer path, value;
    unsigned char inner[HASH], out[HASH];
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "iy*y*:leaf_hash", &alg, &path, &value))
        return NULL;
    const EVP_MD *md = nodehash_md(alg);
    if (md && nodehash_digest3(md, value.buf, value.len, NULL, 0, NULL, 0, inner) == 0
        && nodehash_digest3(md, &leaf_prefix, 1, path.buf, path.len, inner, HASH, out) == 0)
        result = PyBytes_FromStringAndSize((const char *)out, HASH);
    PyBuffer_Release(&path);
    PyBuffer_Release(&value);
    return result;
}

PyDoc_STRVAR(digest_doc, "digest(alg, data) -> H(data), 32 bytes");

static PyObject *digest(PyObject *self, PyObject *args)
{
    int alg;
    Py_buffer data;
    unsigned char out[HASH];
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "iy*:digest", &alg, &data))
        return NULL;
    const EVP_MD *md = nodehash_md(alg);
    if (md && nodehash_digest3(md, data.buf, data.len, NULL, 0, NULL, 0, out) == 0)
        result = PyBytes_FromStringAndSize((const char *)out, HASH);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(available_doc, "available(alg) -> whether libcrypto provides this algorithm");

static PyObject *available(PyObject *self, PyObject *arg)
{
    (void)self;
    long alg = PyLong_AsLong(arg);
    if (alg == -1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(alg >= 0 && alg < ALGS && mds[alg] != NULL);
}

static PyMethodDef methods[] = {
    {"node_hash", node_hash, METH_VARARGS, node_hash_doc},
    {"siblings", siblings, METH_VARARGS, siblings_doc},
    {"rewrite", rewrite, METH_VARARGS, rewrite_doc},
    {"leaf_hash", leaf_hash, METH_VARARGS, leaf_hash_doc},
    {"digest", digest, METH_VARARGS, digest_doc},
    {"available", available, METH_O, available_doc},
    {"apply_batch", nodebatch_apply, METH_VARARGS, nodebatch_apply_doc},
    {"seal_puts", nodebatch_seal_puts, METH_O, nodebatch_seal_puts_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_nodehash",
    "Native hashing of the state tree's 16-ary nodes (see _nodehash.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__nodehash(void)
{
    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        if (ctx == NULL)
            return PyErr_NoMemory();
        for (int i = 0; i < ALGS; i++)
            mds[i] = EVP_MD_fetch(NULL, alg_names[i], NULL);  /* NULL if not provided */
    }
    return PyModule_Create(&module);
}
