/* Half-gates garbling and evaluation (Zahur, Rosulek, Evans, EUROCRYPT 2015) with free-XOR and
 * point-and-permute, over AES-NI; plus the two bulk helpers of IKNP OT extension (the bit-matrix
 * transpose and the batched hash).
 *
 * Labels are 128 bits. The hash is the fixed-key one of the half-gates paper:
 *     H(L, j) = pi(K) ^ K,  K = 2L ^ j,
 * where pi is AES-128 under a public key chosen per session, 2L is doubling in GF(2^128)
 * (x^128 + x^7 + x^2 + x + 1), and j a 128-bit tweak (the gate's index, two per AND gate).
 *
 * Gates arrive as an array of little-endian uint32 quadruples (a, b, out, op) with op
 * 0 = XOR, 1 = AND, 2 = INV, 3 = EQW (copy), in topological order; the Python side checks
 * wire bounds before calling in. The garbler holds every wire's zero label; a wire's one label
 * is its zero label ^ delta, and delta's lowest bit is 1 (the point-and-permute bit).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

enum { OP_XOR = 0, OP_AND = 1, OP_INV = 2, OP_EQW = 3 };

typedef struct { __m128i rk[11]; } aes_key;

static __m128i expand_step(__m128i key, __m128i gen) {
    gen = _mm_shuffle_epi32(gen, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, gen);
}

static void aes_expand(aes_key *k, const uint8_t *key) {
    __m128i t = _mm_loadu_si128((const __m128i *)key);
    k->rk[0] = t;
#define STEP(i, rcon) t = expand_step(t, _mm_aeskeygenassist_si128(t, rcon)); k->rk[i] = t;
    STEP(1, 0x01) STEP(2, 0x02) STEP(3, 0x04) STEP(4, 0x08) STEP(5, 0x10)
    STEP(6, 0x20) STEP(7, 0x40) STEP(8, 0x80) STEP(9, 0x1b) STEP(10, 0x36)
#undef STEP
}

/* Doubling in GF(2^128): shift the 128-bit value left by one, reduce by 0x87. */
static inline __m128i gf_double(__m128i x) {
    __m128i carries = _mm_srli_epi64(x, 63);                 /* top bit of each half */
    __m128i shifted = _mm_slli_epi64(x, 1);
    __m128i low_to_high = _mm_slli_si128(carries, 8);         /* low half's carry -> high */
    __m128i top = _mm_srli_si128(carries, 8);                 /* high half's carry -> bit 0 */
    __m128i reduce = _mm_and_si128(_mm_sub_epi64(_mm_setzero_si128(), top),
                                   _mm_set_epi64x(0, 0x87));
    return _mm_xor_si128(_mm_xor_si128(shifted, low_to_high), reduce);
}

/* N independent hashes H(x[i], t[i]) with their AES rounds interleaved (AES-NI pipelines). */
#define DEFINE_HASHN(N)                                                                        \
    static inline void hash##N(const aes_key *k, __m128i *x, const __m128i *t) {              \
        __m128i s[N], kk[N];                                                                   \
        for (int i = 0; i < N; i++) {                                                          \
            kk[i] = _mm_xor_si128(gf_double(x[i]), t[i]);                                      \
            s[i] = _mm_xor_si128(kk[i], k->rk[0]);                                             \
        }                                                                                      \
        for (int r = 1; r < 10; r++)                                                           \
            for (int i = 0; i < N; i++) s[i] = _mm_aesenc_si128(s[i], k->rk[r]);               \
        for (int i = 0; i < N; i++)                                                            \
            x[i] = _mm_xor_si128(_mm_aesenclast_si128(s[i], k->rk[10]), kk[i]);                \
    }
DEFINE_HASHN(1)
DEFINE_HASHN(2)
DEFINE_HASHN(4)
DEFINE_HASHN(8)

static inline __m128i select_mask(__m128i label) {
    /* All ones if the label's point-and-permute bit (bit 0) is set, else zero. */
    return _mm_sub_epi64(_mm_setzero_si128(), _mm_set1_epi64x(_mm_cvtsi128_si64(label) & 1));
}

typedef struct { uint32_t a, b, out, op; } gate;

/* The number of AND gates, after checking that every wire a gate names lies inside the wire
 * array and every op is known (-1 with an exception set if not): the loops below index
 * without checks, so a gate list that bypassed the Python-side validation must not reach
 * them, and the AND count sizes the tables they write or read. */
static Py_ssize_t check_gates(const gate *g, Py_ssize_t n_gates, Py_ssize_t n_wires) {
    Py_ssize_t n_and = 0;
    for (Py_ssize_t i = 0; i < n_gates; i++) {
        if ((Py_ssize_t)g[i].a >= n_wires || (Py_ssize_t)g[i].b >= n_wires ||
            (Py_ssize_t)g[i].out >= n_wires || g[i].op > OP_EQW) {
            PyErr_Format(PyExc_ValueError, "gate %zd: wire out of range or unknown op", i);
            return -1;
        }
        n_and += g[i].op == OP_AND;
    }
    return n_and;
}

static int check_outputs(const uint32_t *o, Py_ssize_t n, Py_ssize_t n_wires) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((Py_ssize_t)o[i] >= n_wires) {
            PyErr_SetString(PyExc_ValueError, "output wire out of range");
            return -1;
        }
    return 0;
}

/* The wire array of a garbling or evaluation, the input labels copied in, after checking
 * the buffers' sizes, the gates (that they hold n_and AND gates) and the output wires; NULL
 * with an exception set if any is wrong. */
static __m128i *load_wires(const Py_buffer *key, const Py_buffer *gates, Py_ssize_t n_wires,
                           Py_ssize_t n_and, const Py_buffer *inputs, const Py_buffer *outputs) {
    if (key->len != 16 || gates->len % 16 || inputs->len % 16 || outputs->len % 4 ||
        n_wires < 0 || inputs->len / 16 > n_wires) {
        PyErr_SetString(PyExc_ValueError, "bad buffer sizes");
        return NULL;
    }
    const Py_ssize_t counted = check_gates(gates->buf, gates->len / 16, n_wires);
    if (counted < 0 || check_outputs(outputs->buf, outputs->len / 4, n_wires)) return NULL;
    if (counted != n_and) {
        PyErr_Format(PyExc_ValueError, "%zd AND gates, tables for %zd", counted, n_and);
        return NULL;
    }
    __m128i *w = PyMem_Malloc((size_t)(n_wires ? n_wires : 1) * sizeof(__m128i));
    if (!w) return (__m128i *)PyErr_NoMemory();
    memcpy(w, inputs->buf, (size_t)inputs->len);
    return w;
}

/* Store the labels of the output wires. */
static void store_outputs(PyObject *out, const __m128i *w, const Py_buffer *outputs) {
    const uint32_t *o = outputs->buf;
    __m128i *ol = (__m128i *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < outputs->len / 4; i++) _mm_storeu_si128(ol + i, w[o[i]]);
}

static int check_sizes(Py_ssize_t got, Py_ssize_t want, const char *what) {
    if (got != want) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", what, got, want);
        return -1;
    }
    return 0;
}

/* garble(key, delta, gates, n_wires, n_and, input_labels, outputs) -> (tables, output_labels)
 * input_labels: the zero labels of wires 0..k-1; outputs: uint32 wire indices. */
static PyObject *py_garble(PyObject *self, PyObject *args) {
    Py_buffer key, delta, gates, inputs, outputs;
    Py_ssize_t n_wires, n_and;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*nny*y*", &key, &delta, &gates, &n_wires, &n_and,
                          &inputs, &outputs))
        return NULL;
    PyObject *result = NULL, *tables = NULL, *out_labels = NULL;
    __m128i *w = NULL;
    if (check_sizes(delta.len, 16, "delta") ||
        !(w = load_wires(&key, &gates, n_wires, n_and, &inputs, &outputs)))
        goto done;
    tables = PyBytes_FromStringAndSize(NULL, n_and * 32);
    out_labels = PyBytes_FromStringAndSize(NULL, (outputs.len / 4) * 16);
    if (!tables || !out_labels) goto done;
    {
        aes_key k;
        aes_expand(&k, key.buf);
        const __m128i d = _mm_loadu_si128(delta.buf);
        const gate *g = gates.buf;
        Py_ssize_t n_gates = gates.len / 16, j = 0;
        __m128i *tab = (__m128i *)PyBytes_AS_STRING(tables);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n_gates; i++) {
            const gate x = g[i];
            switch (x.op) {
            case OP_XOR: w[x.out] = _mm_xor_si128(w[x.a], w[x.b]); break;
            case OP_INV: w[x.out] = _mm_xor_si128(w[x.a], d); break;
            case OP_EQW: w[x.out] = w[x.a]; break;
            default: {
                const __m128i a0 = w[x.a], b0 = w[x.b];
                const __m128i pa = select_mask(a0), pb = select_mask(b0);
                const __m128i tj = _mm_set_epi64x(0, 2 * j), tj1 = _mm_set_epi64x(0, 2 * j + 1);
                __m128i h[4] = {a0, _mm_xor_si128(a0, d), b0, _mm_xor_si128(b0, d)};
                const __m128i tw[4] = {tj, tj, tj1, tj1};
                hash4(&k, h, tw);
                /* Garbler half: TG = H(A0) ^ H(A1) ^ pb*delta; WG0 = H(A0) ^ pa*TG. */
                const __m128i tg = _mm_xor_si128(_mm_xor_si128(h[0], h[1]), _mm_and_si128(pb, d));
                const __m128i wg = _mm_xor_si128(h[0], _mm_and_si128(pa, tg));
                /* Evaluator half: TE = H(B0) ^ H(B1) ^ A0; WE0 = H(B0) ^ pb*(TE ^ A0). */
                const __m128i te = _mm_xor_si128(_mm_xor_si128(h[2], h[3]), a0);
                const __m128i we = _mm_xor_si128(h[2], _mm_and_si128(pb, _mm_xor_si128(te, a0)));
                _mm_storeu_si128(tab + 2 * j, tg);
                _mm_storeu_si128(tab + 2 * j + 1, te);
                w[x.out] = _mm_xor_si128(wg, we);
                j++;
            }
            }
        }
        Py_END_ALLOW_THREADS
        store_outputs(out_labels, w, &outputs);
    }
    result = PyTuple_Pack(2, tables, out_labels);
done:
    Py_XDECREF(tables);
    Py_XDECREF(out_labels);
    PyMem_Free(w);
    PyBuffer_Release(&key); PyBuffer_Release(&delta); PyBuffer_Release(&gates);
    PyBuffer_Release(&inputs); PyBuffer_Release(&outputs);
    return result;
}

/* evaluate(key, gates, n_wires, tables, input_labels, outputs) -> output_labels */
static PyObject *py_evaluate(PyObject *self, PyObject *args) {
    Py_buffer key, gates, tables, inputs, outputs;
    Py_ssize_t n_wires;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*ny*y*y*", &key, &gates, &n_wires, &tables, &inputs,
                          &outputs))
        return NULL;
    PyObject *out_labels = NULL;
    __m128i *w = NULL;
    if (tables.len % 32) {
        PyErr_SetString(PyExc_ValueError, "tables: not 32-byte pairs");
        goto done;
    }
    if (!(w = load_wires(&key, &gates, n_wires, tables.len / 32, &inputs, &outputs))) goto done;
    out_labels = PyBytes_FromStringAndSize(NULL, (outputs.len / 4) * 16);
    if (!out_labels) goto done;
    {
        aes_key k;
        aes_expand(&k, key.buf);
        const gate *g = gates.buf;
        const __m128i *tab = tables.buf;
        Py_ssize_t n_gates = gates.len / 16, j = 0;  /* load_wires checked j's bound */
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n_gates; i++) {
            const gate x = g[i];
            switch (x.op) {
            case OP_XOR: w[x.out] = _mm_xor_si128(w[x.a], w[x.b]); break;
            case OP_INV: /* fall through: the garbler flipped the label's meaning */
            case OP_EQW: w[x.out] = w[x.a]; break;
            default: {
                const __m128i a = w[x.a], b = w[x.b];
                const __m128i sa = select_mask(a), sb = select_mask(b);
                const __m128i tg = _mm_loadu_si128(tab + 2 * j), te = _mm_loadu_si128(tab + 2 * j + 1);
                __m128i h[2] = {a, b};
                const __m128i tw[2] = {_mm_set_epi64x(0, 2 * j), _mm_set_epi64x(0, 2 * j + 1)};
                hash2(&k, h, tw);
                /* WG = H(A) ^ sa*TG; WE = H(B) ^ sb*(TE ^ A). */
                const __m128i wg = _mm_xor_si128(h[0], _mm_and_si128(sa, tg));
                const __m128i we = _mm_xor_si128(h[1], _mm_and_si128(sb, _mm_xor_si128(te, a)));
                w[x.out] = _mm_xor_si128(wg, we);
                j++;
            }
            }
        }
        Py_END_ALLOW_THREADS
        store_outputs(out_labels, w, &outputs);
    }
done:
    if (PyErr_Occurred()) Py_CLEAR(out_labels);
    PyMem_Free(w);
    PyBuffer_Release(&key); PyBuffer_Release(&gates); PyBuffer_Release(&tables);
    PyBuffer_Release(&inputs); PyBuffer_Release(&outputs);
    return out_labels;
}

/* hash(key, labels, tweak0) -> H(labels[i], tweak0 + i) for each 16-byte label. */
static PyObject *py_hash(PyObject *self, PyObject *args) {
    Py_buffer key, labels;
    unsigned long long tweak0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*K", &key, &labels, &tweak0)) return NULL;
    PyObject *out = NULL;
    if (check_sizes(key.len, 16, "key") || labels.len % 16) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "labels: not 16-byte blocks");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, labels.len);
    if (!out) goto done;
    {
        aes_key k;
        aes_expand(&k, key.buf);
        const __m128i *in = labels.buf;
        __m128i *o = (__m128i *)PyBytes_AS_STRING(out);
        Py_ssize_t n = labels.len / 16, i = 0;
        Py_BEGIN_ALLOW_THREADS
        for (; i + 8 <= n; i += 8) {
            __m128i x[8], t[8];
            for (int m = 0; m < 8; m++) {
                x[m] = _mm_loadu_si128(in + i + m);
                t[m] = _mm_set_epi64x(0, (long long)(tweak0 + (unsigned long long)(i + m)));
            }
            hash8(&k, x, t);
            for (int m = 0; m < 8; m++) _mm_storeu_si128(o + i + m, x[m]);
        }
        for (; i < n; i++) {
            __m128i x = _mm_loadu_si128(in + i);
            const __m128i t = _mm_set_epi64x(0, (long long)(tweak0 + (unsigned long long)i));
            hash1(&k, &x, &t);
            _mm_storeu_si128(o + i, x);
        }
        Py_END_ALLOW_THREADS
    }
done:
    PyBuffer_Release(&key); PyBuffer_Release(&labels);
    return out;
}

/* transpose(rows, n_rows) -> columns: rows is n_rows (a multiple of 16) rows of m bits
 * (m a multiple of 8, LSB-first within bytes); the result is m rows of n_rows bits. */
static PyObject *py_transpose(PyObject *self, PyObject *args) {
    Py_buffer rows;
    Py_ssize_t n_rows;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n", &rows, &n_rows)) return NULL;
    PyObject *out = NULL;
    if (n_rows <= 0 || n_rows % 16 || rows.len % n_rows) {
        PyErr_SetString(PyExc_ValueError, "transpose: rows must be a multiple of 16 of equal length");
        goto done;
    }
    {
        const Py_ssize_t row_bytes = rows.len / n_rows, col_bytes = n_rows / 8;
        out = PyBytes_FromStringAndSize(NULL, row_bytes * 8 * col_bytes);
        if (!out) goto done;
        const uint8_t *in = rows.buf;
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t rb = 0; rb < n_rows; rb += 16) {
            for (Py_ssize_t c = 0; c < row_bytes; c++) {
                uint8_t col[16];
                for (int k = 0; k < 16; k++) col[k] = in[(rb + k) * row_bytes + c];
                __m128i v = _mm_loadu_si128((const __m128i *)col);
                for (int t = 7; t >= 0; t--) {
                    const uint16_t mask = (uint16_t)_mm_movemask_epi8(v);
                    uint8_t *dst = o + (8 * c + t) * col_bytes + rb / 8;
                    dst[0] = (uint8_t)mask;
                    dst[1] = (uint8_t)(mask >> 8);
                    v = _mm_slli_epi64(v, 1);
                }
            }
        }
        Py_END_ALLOW_THREADS
    }
done:
    PyBuffer_Release(&rows);
    return out;
}

static PyMethodDef methods[] = {
    {"garble", py_garble, METH_VARARGS, "Garble a gate list with half-gates; (tables, output zero labels)."},
    {"evaluate", py_evaluate, METH_VARARGS, "Evaluate a garbled gate list; the output labels."},
    {"hash", py_hash, METH_VARARGS, "The fixed-key AES hash of each 16-byte label, tweaks counting up."},
    {"transpose", py_transpose, METH_VARARGS, "Transpose a bit matrix (IKNP's column-to-row step)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_garble", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__garble(void) { return PyModule_Create(&module); }
