"""The parameters of the data read methods, in one place: a full node (api/methods.py) and
a light node (api/light_data.py) take them alike, so a client asks either the same way."""

from __future__ import annotations

from typing import Any

from xinlian.api.errors import InvalidParams
from xinlian.api.params import (
    Param,
    Parser,
    boolean,
    choice,
    encoded,
    hex_bytes,
    list_of,
    optional,
    scalar,
    text,
    uint,
)
from xinlian.execution.data.blob_access import BlobAuth
from xinlian.execution.data.model import MAX_NAME, MAX_RECORD_ID, MAX_VALUE
from xinlian.execution.data.query import MAX_PAGE as MAX_DATA_PAGE
from xinlian.execution.data.select import MAX_CONDITIONS, Condition
from xinlian.storage import mst
from xinlian.storage.bloom_proof import MAX_TERMS, MAX_WINDOW
from xinlian.storage.inverted_proof import MAX_QUERY_TERMS

MAX_INDEX_KEY = mst.MAX_KEY_SIZE
MAX_BLOB_AUTH = 8192  # an encoded BlobAuth: the largest key and signature (ML-DSA) fit

COLLECTION = Param("collection", text(max_length=MAX_NAME))
RECORD_ID = Param("id", hex_bytes(max_size=MAX_RECORD_ID))
BLOB_ATTRIBUTE = Param("attribute", text(max_length=MAX_NAME))
_WORDS = optional(list_of(text(max_length=MAX_VALUE), max_items=MAX_QUERY_TERMS))
BLOB_AUTH = Param("auth", optional(encoded(BlobAuth, max_size=MAX_BLOB_AUTH)), None)
_HEIGHT = Param("height", optional(uint()), None)
_BOUND = optional(scalar(max_length=2 * MAX_VALUE + 2))  # JSON of the attribute's kind
_NAME = text(max_length=MAX_NAME)
_ATTRIBUTE = Param("attribute", _NAME)

_CONDITION_KEYS = {"attribute", "lo", "hi", "words", "match", "not"}


def _condition(value: Any, name: str) -> Condition:
    """One condition of xl_dataSelect: `{attribute, lo?, hi?}` (a value range, bounds as
    JSON of the attribute's kind) or `{attribute, words, match?}` (words of its text,
    match "all" or "any"), either with `not: true` (AND-NOT)."""
    if not isinstance(value, dict):
        raise InvalidParams(f"{name} must be an object")
    unknown = set(value) - _CONDITION_KEYS
    if unknown:
        raise InvalidParams(f"{name} has unknown keys {sorted(map(str, unknown))}")
    if "attribute" not in value:
        raise InvalidParams(f"{name} names no attribute")
    words = _WORDS(value.get("words"), f"{name}.words")
    match = choice("all", "any")(value.get("match", "all"), f"{name}.match")
    if match == "any" and words is None:
        raise InvalidParams(f"{name}: match goes with words")
    return Condition(_NAME(value["attribute"], f"{name}.attribute"),
                     _BOUND(value.get("lo"), f"{name}.lo"),
                     _BOUND(value.get("hi"), f"{name}.hi"), tuple(words or ()),
                     match == "any", boolean(value.get("not", False), f"{name}.not"))


_CONDITIONS: Parser = list_of(_condition, max_items=MAX_CONDITIONS)

DATA_READS: dict[str, tuple[Param, ...]] = {
    "xl_getCollection": (COLLECTION, _HEIGHT),
    "xl_dataGet": (COLLECTION, RECORD_ID, _HEIGHT),
    "xl_dataQuery": (COLLECTION, _ATTRIBUTE, Param("lo", _BOUND, None),
                     Param("hi", _BOUND, None), Param("order", choice("asc", "desc"), "asc"),
                     Param("limit", uint(maximum=MAX_DATA_PAGE), 100),
                     Param("cursor", optional(hex_bytes(max_size=MAX_INDEX_KEY)), None),
                     _HEIGHT, Param("keywords", _WORDS, None),
                     Param("match", choice("all", "any"), "all"),
                     Param("exclude", _WORDS, None)),
    "xl_dataSelect": (COLLECTION, Param("where", _CONDITIONS),
                      Param("drive", optional(uint(maximum=MAX_CONDITIONS - 1)), None),
                      Param("order", choice("asc", "desc"), "asc"),
                      Param("limit", uint(maximum=MAX_DATA_PAGE), 100),
                      Param("scan", uint(maximum=MAX_DATA_PAGE), MAX_DATA_PAGE),
                      Param("cursor", optional(hex_bytes(max_size=1 + MAX_INDEX_KEY)), None),
                      _HEIGHT),
    "xl_dataPlan": (COLLECTION, _HEIGHT),
    "xl_dataAggregate": (COLLECTION, _ATTRIBUTE, Param("lo", _BOUND, None),
                         Param("hi", _BOUND, None), _HEIGHT),
    "xl_dataHistory": (COLLECTION, RECORD_ID, Param("first", uint(), 0),
                       Param("limit", uint(maximum=MAX_DATA_PAGE), 100),
                       Param("as_of", optional(uint()), None), _HEIGHT),
    "xl_dataBlocks": (Param("terms", list_of(hex_bytes(max_size=1 + MAX_INDEX_KEY),
                                             max_items=MAX_TERMS)),
                      Param("first", uint()), Param("stop", uint()),
                      Param("match", choice("any", "all"), "any"),
                      Param("limit", uint(maximum=MAX_WINDOW), 1000), _HEIGHT),
    "xl_blobGetChunk": (COLLECTION, RECORD_ID, BLOB_ATTRIBUTE, Param("index", uint()),
                        BLOB_AUTH),
}


def is_keyword_query(lo: object, hi: object, order: str, keywords: list[str] | None,
                     match: str, exclude: list[str] | None) -> bool:
    """Whether an `xl_dataQuery` asks by keywords (else by a range); InvalidParams when it
    mixes the parameters of both."""
    if keywords is not None:
        if lo is not None or hi is not None or order != "asc":
            raise InvalidParams("a keyword query takes no lo, hi or order")
        return True
    if exclude or match != "all":
        raise InvalidParams("match and exclude go with keywords")
    return False
