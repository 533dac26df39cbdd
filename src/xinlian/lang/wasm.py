"""A small WebAssembly binary writer (core + GC proposal), enough for the Qi code generator.

The module is assembled section by section in the order the binary format requires. Code
is appended as raw bytes through `Code`, which also records source positions at byte
offsets so that the debug map can translate a trapping instruction back to Qi source.
Everything here is deterministic: the same calls produce the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# value types
I32 = b"\x7f"
I64 = b"\x7e"


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def name(text: str) -> bytes:
    raw = text.encode()
    return uleb(len(raw)) + raw


def ref_null(type_index: int) -> bytes:
    """A nullable reference to a defined type: `(ref null $t)`."""
    return b"\x63" + sleb(type_index)


# composite type encodings (GC proposal)
def field_type(storage: bytes, mutable: bool) -> bytes:
    return storage + (b"\x01" if mutable else b"\x00")


def struct_type(fields: list[bytes]) -> bytes:
    return b"\x5f" + vec(fields)


def array_type(elem: bytes) -> bytes:
    return b"\x5e" + elem


def func_type(params: list[bytes], results: list[bytes]) -> bytes:
    return b"\x60" + vec(params) + vec(results)


@dataclass
class Function:
    type_index: int
    name: str
    locals: list[bytes] = field(default_factory=list)
    local_names: list[str] = field(default_factory=list)
    body: bytes = b""
    # (offset in body, payload) pairs; payload is opaque to the writer (a source span)
    marks: list[tuple[int, object]] = field(default_factory=list)


@dataclass
class Module:
    """Sections of a module under construction; `encode()` gives the binary."""

    gc_types: list[bytes] = field(default_factory=list)  # one rec group, indices 0..n-1
    gc_type_names: list[str] = field(default_factory=list)
    func_types: list[bytes] = field(default_factory=list)  # standalone, after the rec group
    imports: list[tuple[str, str, int, str]] = field(default_factory=list)  # mod, name, type, nm
    functions: list[Function] = field(default_factory=list)
    exports: list[tuple[str, int]] = field(default_factory=list)  # function exports
    global_exports: list[tuple[str, int]] = field(default_factory=list)
    globals: list[tuple[bytes, bool, bytes, str]] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)  # exception tags: relative func type
    memory_pages: int = 1
    memory_max: int | None = None
    data: list[bytes] = field(default_factory=list)  # passive segments
    custom: list[tuple[str, bytes]] = field(default_factory=list)
    _func_type_ids: dict[bytes, int] = field(default_factory=dict)

    # --- type and index allocation -------------------------------------------------
    def add_gc_type(self, encoded: bytes, label: str) -> int:
        self.gc_types.append(encoded)
        self.gc_type_names.append(label)
        return len(self.gc_types) - 1

    def func_type_index(self, params: list[bytes], results: list[bytes]) -> int:
        """Index of a function type; types are deduplicated, placed after the GC types."""
        enc = func_type(params, results)
        idx = self._func_type_ids.get(enc)
        if idx is None:
            self.func_types.append(enc)
            idx = self._func_type_ids[enc] = len(self.func_types) - 1
        return idx  # relative; made absolute in encode()

    def add_import(self, module: str, field_name: str, params: list[bytes],
                   results: list[bytes]) -> int:
        if self.functions:
            raise ValueError("imports must be declared before functions")
        self.imports.append((module, field_name, self.func_type_index(params, results),
                             f"{module}.{field_name}"))
        return len(self.imports) - 1

    def add_function(self, fn_name: str, params: list[bytes], results: list[bytes]) -> int:
        """Declare a function; returns its function index (imports come first)."""
        self.functions.append(Function(self.func_type_index(params, results), fn_name))
        return len(self.imports) + len(self.functions) - 1

    def function(self, index: int) -> Function:
        return self.functions[index - len(self.imports)]

    def add_global(self, valtype: bytes, mutable: bool, init: bytes, label: str) -> int:
        self.globals.append((valtype, mutable, init, label))
        return len(self.globals) - 1

    def add_tag(self, params: list[bytes]) -> int:
        """Declare an exception tag (the exception-handling proposal) carrying `params`."""
        self.tags.append(self.func_type_index(params, []))
        return len(self.tags) - 1

    def add_data(self, payload: bytes) -> int:
        self.data.append(payload)
        return len(self.data) - 1

    # --- encoding -------------------------------------------------------------------
    def _section(self, sid: int, payload: bytes) -> bytes:
        return bytes([sid]) + uleb(len(payload)) + payload

    def encode(self) -> tuple[bytes, list[int]]:
        """The binary module and, per defined function, the module offset of its body."""
        out = bytearray(b"\x00asm\x01\x00\x00\x00")
        types = []
        if self.gc_types:
            types.append(b"\x4e" + vec(self.gc_types))
        types.extend(self.func_types)
        out += self._section(1, vec(types))
        gc = len(self.gc_types)
        imports = [name(m) + name(f) + b"\x00" + uleb(gc + t) for m, f, t, _ in self.imports]
        out += self._section(2, vec(imports))
        out += self._section(3, vec([uleb(gc + f.type_index) for f in self.functions]))
        limits = (b"\x01" + uleb(self.memory_pages) + uleb(self.memory_max)
                  if self.memory_max is not None else b"\x00" + uleb(self.memory_pages))
        out += self._section(5, vec([limits]))
        if self.tags:
            out += self._section(13, vec([b"\x00" + uleb(gc + t) for t in self.tags]))
        if self.globals:
            out += self._section(6, vec([t + (b"\x01" if m else b"\x00") + init + b"\x0b"
                                         for t, m, init, _ in self.globals]))
        exports = [name("memory") + b"\x02" + uleb(0)]
        exports += [name(n) + b"\x00" + uleb(i) for n, i in self.exports]
        exports += [name(n) + b"\x03" + uleb(i) for n, i in self.global_exports]
        out += self._section(7, vec(exports))
        if self.data:
            out += self._section(12, uleb(len(self.data)))
        # code section: remember where each body starts
        bodies: list[bytes] = []
        for fn in self.functions:
            groups: list[bytes] = []
            for lt in fn.locals:  # one group per local keeps local indices obvious
                groups.append(uleb(1) + lt)
            body = vec(groups) + fn.body + b"\x0b"
            bodies.append(body)
        code_payload = bytearray(uleb(len(bodies)))
        starts_in_payload: list[int] = []
        for fn, body in zip(self.functions, bodies, strict=True):
            size = uleb(len(body))
            local_decl_len = len(vec([uleb(1) + lt for lt in fn.locals]))
            starts_in_payload.append(len(code_payload) + len(size) + local_decl_len)
            code_payload += size + body
        code_header = bytes([10]) + uleb(len(code_payload))
        code_base = len(out) + len(code_header)
        out += code_header + code_payload
        body_offsets = [code_base + s for s in starts_in_payload]
        if self.data:
            out += self._section(11, vec([b"\x01" + uleb(len(d)) + d for d in self.data]))
        out += self._section(0, name("name") + self._name_section())
        for cname, payload in self.custom:
            out += self._section(0, name(cname) + payload)
        return bytes(out), body_offsets

    def _name_section(self) -> bytes:
        fn_names = [(i, n) for i, (_, _, _, n) in enumerate(self.imports)]
        base = len(self.imports)
        fn_names += [(base + i, f.name) for i, f in enumerate(self.functions)]
        sub1 = vec([uleb(i) + name(n) for i, n in fn_names])
        locals_ = []
        for i, f in enumerate(self.functions):
            if f.local_names:
                locals_.append(uleb(base + i) + vec([uleb(j) + name(n)
                                                     for j, n in enumerate(f.local_names)]))
        sub2 = vec(locals_)
        out = b"\x01" + uleb(len(sub1)) + sub1 + b"\x02" + uleb(len(sub2)) + sub2
        if self.gc_type_names:  # subsection 4: type names
            sub4 = vec([uleb(i) + name(n) for i, n in enumerate(self.gc_type_names)])
            out += b"\x04" + uleb(len(sub4)) + sub4
        return out


# GC allocation and bulk array operations (libcalls into the wasmtime runtime) take far
# longer than the one fuel unit their instruction is metered at (benchmarks/fuel.py: code
# that allocates and copies on every step ran at 0.09x the fuel rate of plain integer
# code), so each is followed by a surcharge: a constant, ALLOC_FUEL `i32.eqz` on it, then
# `drop`. Each operator costs one fuel; Cranelift folds the chain away, so the surcharge
# costs fuel and almost no time. (wasmtime itself charges bulk operations per element.)
ALLOC_FUEL = 640
# struct.new, struct.new_default, array.new, array.new_default, array.new_fixed,
# array.new_data, array.fill, array.copy, array.init_data
_SURCHARGED = frozenset({0x00, 0x01, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12})
_SURCHARGE = b"\x41\x00" + b"\x45" * ALLOC_FUEL + b"\x1a"


class Code:
    """An instruction buffer for one function body."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.marks: list[tuple[int, object]] = []

    def mark(self, payload: object) -> None:
        self.marks.append((len(self.buf), payload))

    def op(self, *parts: bytes | int) -> None:
        for p in parts:
            if isinstance(p, int):
                self.buf.append(p)
            else:
                self.buf += p

    def i32(self, v: int) -> None:
        self.buf.append(0x41)
        self.buf += sleb(v if v < 2**31 else v - 2**32)

    def i64(self, v: int) -> None:
        self.buf.append(0x42)
        self.buf += sleb(v if v < 2**63 else v - 2**64)

    def gc(self, sub: int, *imm: int) -> None:
        """A GC-prefixed instruction (0xFB) with unsigned immediates."""
        self.buf.append(0xFB)
        self.buf += uleb(sub)
        for i in imm:
            self.buf += uleb(i)
        if sub in _SURCHARGED:
            self.buf += _SURCHARGE

