"""Compiler output: binary module structure, name section, source map, ABI determinism."""

from __future__ import annotations

from pathlib import Path

from xinlian.lang.compiler import compile_source

TOKEN = Path(__file__).resolve().parents[2] / "examples" / "qi" / "token.qi"


def uleb(data: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = data[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return out, pos


def sections(wasm: bytes) -> list[tuple[int, bytes]]:
    assert wasm[:8] == b"\0asm\x01\0\0\0"
    pos, out = 8, []
    while pos < len(wasm):
        sid = wasm[pos]
        size, pos = uleb(wasm, pos + 1)
        out.append((sid, wasm[pos:pos + size]))
        pos += size
    return out


def function_names(wasm: bytes) -> set[str]:
    for sid, body in sections(wasm):
        if sid != 0:
            continue
        n, pos = uleb(body, 0)
        if body[pos:pos + n] != b"name":
            continue
        pos += n
        while pos < len(body):
            sub = body[pos]
            size, pos = uleb(body, pos + 1)
            if sub == 1:
                count, p = uleb(body, pos)
                names = set()
                for _ in range(count):
                    _, p = uleb(body, p)
                    ln, p = uleb(body, p)
                    names.add(body[p:p + ln].decode())
                    p += ln
                return names
            pos += size
    return set()


def test_module_has_standard_sections_in_order() -> None:
    art = compile_source(TOKEN.read_text(), "token.qi")
    ids = [sid for sid, _ in sections(art.wasm) if sid != 0]
    assert ids == sorted(ids, key=[1, 2, 3, 5, 13, 6, 7, 12, 10, 11].index)
    assert {1, 2, 3, 5, 7, 10}.issubset(ids)


def test_name_section_names_qi_functions() -> None:
    names = function_names(compile_source(TOKEN.read_text(), "token.qi", opt_level=0).wasm)
    assert {"transfer", "move_funds", "balance_of", "q:transfer", "qi.storage_read"} <= names


def test_source_map_points_into_the_source() -> None:
    src = TOKEN.read_text()
    art = compile_source(src, "token.qi")
    lines = src.splitlines()
    assert art.source_map
    offsets = [off for off, _, _ in art.source_map]
    assert offsets == sorted(offsets)
    for _, fn, span in art.source_map:
        assert fn and span.file == "token.qi" and 1 <= span.line <= len(lines)
    loc = art.locate(art.source_map[len(art.source_map) // 2][0])
    assert loc is not None


def test_levels_change_bytes_but_not_the_abi() -> None:
    src = TOKEN.read_text()
    o0, o2 = (compile_source(src, "token.qi", opt_level=o) for o in (0, 2))
    assert o0.wasm != o2.wasm
    assert o0.abi == o2.abi


def test_output_does_not_depend_on_the_hash_seed() -> None:
    import os
    import subprocess
    import sys

    code = ("import hashlib, json, sys; from xinlian.lang.compiler import compile_source; "
            "a = compile_source(open(sys.argv[1]).read(), 'token.qi', opt_level=2); "
            "print(hashlib.sha256(a.wasm + json.dumps(a.abi).encode()).hexdigest())")
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code, str(TOKEN)], env=env, check=True,
                             capture_output=True, text=True).stdout
        outs.add(out)
    assert len(outs) == 1
