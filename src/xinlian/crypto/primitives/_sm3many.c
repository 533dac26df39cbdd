/* SM3 (GB/T 32905-2016) over many short messages in one call.
 *
 * Why native: a proof verifier hashes one leaf per record and about one interior node per
 * record (storage/mmr.py, the provenance run proofs). Each message is 65-78 bytes, two SM3
 * blocks, so from Python the call costs more than the hashing: about 1.4 us a call through
 * the bindings against about 0.5 us of compression. One call here hashes every item of a
 * buffer, with the GIL released.
 *
 * Interface: hash_items(prefix, packed, size) -> bytes: SM3(prefix || item) of each
 * `size`-byte item of `packed` in order, the 32-byte digests concatenated. `packed` must
 * hold a whole number of items (ValueError otherwise); `size` is 1..65536 and the prefix
 * at most 64 bytes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROTL(x, n) (((x) << ((n) & 31)) | ((x) >> ((32 - ((n) & 31)) & 31)))
#define P0(x) ((x) ^ ROTL((x), 9) ^ ROTL((x), 17))
#define P1(x) ((x) ^ ROTL((x), 15) ^ ROTL((x), 23))
#define MAX_PREFIX 64
#define MAX_ITEM 65536

static const uint32_t IV[8] = {0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600,
                               0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e};
static uint32_t T_ROT[64]; /* T_j rotated left by j mod 32, made once at import */

static uint32_t load32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void compress(uint32_t v[8], const uint8_t *block) {
    uint32_t w[68], a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6],
             h = v[7];
    for (int j = 0; j < 16; j++) w[j] = load32(block + 4 * j);
#pragma GCC unroll 52
    for (int j = 16; j < 68; j++)
        w[j] = P1(w[j - 16] ^ w[j - 9] ^ ROTL(w[j - 3], 15)) ^ ROTL(w[j - 13], 7) ^ w[j - 6];
#define ROUND(j, ff, gg) do { \
        uint32_t a12 = ROTL(a, 12); \
        uint32_t ss1 = ROTL(a12 + e + T_ROT[j], 7); \
        uint32_t tt1 = (ff) + d + (ss1 ^ a12) + (w[j] ^ w[(j) + 4]); \
        uint32_t tt2 = (gg) + h + ss1 + w[j]; \
        d = c; c = ROTL(b, 9); b = a; a = tt1; \
        h = g; g = ROTL(f, 19); f = e; e = P0(tt2); \
    } while (0)
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) ROUND(j, a ^ b ^ c, e ^ f ^ g);
#pragma GCC unroll 48
    for (int j = 16; j < 64; j++) ROUND(j, (a & b) | (a & c) | (b & c), (e & f) | (~e & g));
#undef ROUND
    v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d; v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
}

/* SM3 of the message already in buf[0:len], padded in place (buf holds `padded` bytes). */
static void digest(uint8_t *buf, size_t len, size_t padded, uint8_t out[32]) {
    uint32_t v[8];
    memcpy(v, IV, sizeof v);
    memset(buf + len, 0, padded - len);
    buf[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < padded; off += 64) compress(v, buf + off);
    for (int i = 0; i < 8; i++) store32(out + 4 * i, v[i]);
}

static PyObject *py_hash_items(PyObject *self, PyObject *args) {
    Py_buffer prefix, packed;
    Py_ssize_t size;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*n", &prefix, &packed, &size)) return NULL;
    PyObject *result = NULL;
    if (prefix.len > MAX_PREFIX || size < 1 || size > MAX_ITEM || packed.len % size) {
        PyErr_SetString(PyExc_ValueError, "hash_items: a prefix of at most 64 bytes and a "
                        "whole number of items of 1..65536 bytes");
        goto done;
    }
    Py_ssize_t count = packed.len / size;
    size_t len = (size_t)prefix.len + (size_t)size;
    size_t padded = (len + 9 + 63) / 64 * 64;
    result = PyBytes_FromStringAndSize(NULL, count * 32);
    uint8_t *buf = malloc(padded);
    if (result == NULL || buf == NULL) {
        free(buf);
        Py_CLEAR(result);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *items = packed.buf;
    Py_BEGIN_ALLOW_THREADS
    memcpy(buf, prefix.buf, (size_t)prefix.len);
    for (Py_ssize_t i = 0; i < count; i++) {
        memcpy(buf + prefix.len, items + i * size, (size_t)size);
        digest(buf, len, padded, out + 32 * i);
    }
    Py_END_ALLOW_THREADS
    free(buf);
done:
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&packed);
    return result;
}

static PyMethodDef methods[] = {
    {"hash_items", py_hash_items, METH_VARARGS,
     "hash_items(prefix, packed, size) -> bytes: SM3(prefix || item) of each size-byte "
     "item, digests concatenated."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sm3many", "SM3 (GB/T 32905) over many short messages per call.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sm3many(void) {
    for (int j = 0; j < 64; j++) {
        uint32_t t = j < 16 ? 0x79cc4519u : 0x7a879d8au;
        T_ROT[j] = ROTL(t, j % 32);
    }
    return PyModule_Create(&module);
}
