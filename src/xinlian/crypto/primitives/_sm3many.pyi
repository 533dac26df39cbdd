# Types of the native SM3 batch hasher (_sm3many.c).
from typing_extensions import Buffer

def hash_items(prefix: Buffer, packed: Buffer, size: int, /) -> bytes: ...
