/* Shared between _nodehash.c (node hashing) and _nodebatch.c (a block's tree update, and
 * the sealing of a batch's records for kv.py). */
#ifndef XINLIAN_NODEHASH_H
#define XINLIAN_NODEHASH_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>

#define HASH 32

extern const unsigned char nodehash_zero[HASH];
const EVP_MD *nodehash_md(int alg);
int nodehash_digest3(const EVP_MD *md, const unsigned char *a, size_t na,
                     const unsigned char *b, size_t nb, const unsigned char *c, size_t nc,
                     unsigned char *out);
int nodehash_merkle16(const EVP_MD *md, const unsigned char *slots[16],
                      unsigned char store[15][HASH], const unsigned char *layers[15]);
PyObject *nodebatch_apply(PyObject *self, PyObject *args);
extern const char nodebatch_apply_doc[];
PyObject *nodebatch_seal_puts(PyObject *self, PyObject *ops);
extern const char nodebatch_seal_puts_doc[];
#endif
