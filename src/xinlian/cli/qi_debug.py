"""`xinlian qi debug`: trace one call or test of a debug build and print it step by step."""

from __future__ import annotations

import json
from typing import Any

from xinlian.lang.abi_json import value_to_json


def print_trace(doc: dict[str, Any], file: str) -> None:
    """One line per step (`#n file:line function`, its locals), then the storage writes
    and events that happened since the step printed before it, then the outcome."""
    writes = events = 0
    for i, s in enumerate(doc["steps"]):
        for w in doc["writes"][writes:s["writes"]]:
            print(f"    write {_write_text(w)}")
        for e in doc["events"][events:s["events"]]:
            print(f"    event {e['name']} {json.dumps(e['args'], ensure_ascii=False)}")
        writes, events = s["writes"], s["events"]
        local_text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                               for k, v in s["locals"].items())
        print(f"#{s.get('index', i)} {file}:{s['line']}:{s['col']} "
              f"{'  ' * s['depth']}{s['function']}  {local_text}")
    for w in doc["writes"][writes:]:
        print(f"    write {_write_text(w)}")
    for e in doc["events"][events:]:
        print(f"    event {e['name']} {json.dumps(e['args'], ensure_ascii=False)}")
    if doc["error"] is not None:
        err = doc["error"]
        print(f"error[{err['code']} {err['name']}]: {err['message']}")
    else:
        print(f"result {json.dumps(value_to_json(doc['result']), ensure_ascii=False)}")


def _write_text(w: dict[str, Any]) -> str:
    if "var" not in w:
        return f"{w['key']} = {w['value']}"
    keys = "".join(f"[{json.dumps(k)}]" for k in w.get("map_keys", []))
    value = json.dumps(w["decoded"]) if "decoded" in w else w["value"]
    return f"{w['var']}{keys} = {value}"
