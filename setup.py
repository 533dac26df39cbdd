"""The native modules: SM2 signature verification (src/xinlian/crypto/primitives/_sm2verify.c),
the state tree's node hashing and block update (src/xinlian/storage/_nodehash.c and
_nodebatch.c, over OpenSSL's libcrypto, the library hashlib uses, and zlib's CRC-32; building
it needs their headers, Debian's libssl-dev and zlib1g-dev),
half-gates garbling over AES-NI (src/xinlian/crypto/privacy/garbled/_garble.c)
and SM3 over many short messages per call for proof verifiers (_sm3many.c).

Everything else about the package is declared in pyproject.toml; setuptools reads the
extensions from here, so `pip install` (editable or not) compiles them, and `make venv` builds
them in place (`setup.py build_ext --inplace`) whenever a C source changes.

GCC's vectorisers are off for the SM2 file: they pack the limb selects of the field arithmetic
into vector moves that stall on store forwarding, which costs about 2.4x in verifications
per second on this code (measured; docs/benchmarks.md). The garbling module has its own flags:
it needs AES-NI (`-maes`), which every x86-64 CPU the platform targets has.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("xinlian.crypto.primitives._sm2verify",
              ["src/xinlian/crypto/primitives/_sm2verify.c"],
              extra_compile_args=["-O3", "-fno-tree-vectorize", "-fno-tree-slp-vectorize",
                                  "-Wall", "-Wextra"]),
    Extension("xinlian.storage._nodehash",
              ["src/xinlian/storage/_nodehash.c", "src/xinlian/storage/_nodebatch.c"],
              depends=["src/xinlian/storage/_nodehash.h"],
              libraries=["crypto", "z"], extra_compile_args=["-O2", "-Wall", "-Wextra"]),
    Extension("xinlian.crypto.privacy.garbled._garble",
              ["src/xinlian/crypto/privacy/garbled/_garble.c"],
              extra_compile_args=["-O3", "-maes", "-msse4.1", "-Wall", "-Wextra"]),
    Extension("xinlian.crypto.primitives._sm3many",
              ["src/xinlian/crypto/primitives/_sm3many.c"],
              extra_compile_args=["-O3", "-Wall", "-Wextra"]),
])
