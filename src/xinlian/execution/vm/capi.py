"""The few calls of wasmtime's C API that the engine's hot path makes, bound directly.

wasmtime-py wraps every call in Python objects: a `Store` and its context, an export
dictionary built per instance, `Val` lists and type look-ups per function call, a `Caller`
per host call. Those wrappers cost more than the Wasm they run (~80 µs of a ~90 µs empty
call; ~10 µs of every host call). Here the same library is called through ctypes with
plain integers for pointers: a store is an address, a context is an address, a function is
called with `wasmtime_func_call_unchecked` over a raw value array, and host functions are
defined with `wasmtime_linker_define_func_unchecked`, whose callbacks receive the raw
argument array. The types are checked once, where they are known (entry points when a
module is loaded, imports by the linker), which is what makes the unchecked calls sound.

Function objects are made from fresh prototypes (not the library's cached attributes that
wasmtime-py configures), and every scratch buffer belongs to an object the caller owns, so
engines on different threads share nothing here.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from ctypes import CFUNCTYPE, addressof, c_bool, c_char_p, c_int64, c_size_t, c_uint64, c_void_p
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

_dll = ffi.dll


Ctx = int  # a store context's address (`wasmtime_context_t*`)


def _bind(name: str, restype: Any, *argtypes: Any) -> Any:
    return CFUNCTYPE(restype, *argtypes)((name, _dll))


store_new = _bind("wasmtime_store_new", c_void_p, c_void_p, c_void_p, c_void_p)
store_context = _bind("wasmtime_store_context", c_void_p, c_void_p)
store_delete = _bind("wasmtime_store_delete", None, c_void_p)
store_limiter = _bind("wasmtime_store_limiter", None, c_void_p, c_int64, c_int64, c_int64,
                      c_int64, c_int64)
set_fuel = _bind("wasmtime_context_set_fuel", c_void_p, c_void_p, c_uint64)
_get_fuel = _bind("wasmtime_context_get_fuel", c_void_p, c_void_p, c_void_p)
_instantiate = _bind("wasmtime_instance_pre_instantiate", c_void_p, c_void_p, c_void_p,
                     c_void_p, c_void_p)
_export_get = _bind("wasmtime_instance_export_get", c_bool, c_void_p, c_void_p, c_char_p,
                    c_size_t, c_void_p)
_call = _bind("wasmtime_func_call_unchecked", c_void_p, c_void_p, c_void_p, c_void_p,
              c_size_t, c_void_p)
_memory_data = _bind("wasmtime_memory_data", c_size_t, c_void_p, c_void_p)
_memory_data_size = _bind("wasmtime_memory_data_size", c_size_t, c_void_p, c_void_p)
_memory_grow = _bind("wasmtime_memory_grow", c_void_p, c_void_p, c_void_p, c_uint64, c_void_p)
_global_get = _bind("wasmtime_global_get", None, c_void_p, c_void_p, c_void_p)
caller_context = _bind("wasmtime_caller_context", c_void_p, c_void_p)
_trap_new = _bind("wasmtime_trap_new", c_size_t, c_char_p, c_size_t)
_define_unchecked = _bind("wasmtime_linker_define_func_unchecked", c_void_p, c_void_p,
                          c_char_p, c_size_t, c_char_p, c_size_t, c_void_p, c_void_p,
                          c_void_p, c_void_p)

# callback(env, caller, args and results, their count) -> a wasm_trap_t* or 0
HostCallback = CFUNCTYPE(c_size_t, c_void_p, c_void_p, c_void_p, c_size_t)
RAW_SIZE = ctypes.sizeof(ffi.wasmtime_val_raw_t)  # one slot of a raw value array
_OF = ffi.wasmtime_extern_t.of.offset  # where an extern's handle starts
_KIND_FUNC, _KIND_GLOBAL, _KIND_MEMORY = 0, 1, 3
_I32 = 0


def address(obj: Any) -> int:
    """The C address behind a wasmtime-py object (engine, linker, InstancePre, FuncType)."""
    return int(ctypes.cast(obj.ptr(), c_void_p).value or 0)


def error(ptr: int) -> wasmtime.WasmtimeError:
    """Take ownership of a `wasmtime_error_t*` (freed with the returned object)."""
    return wasmtime.WasmtimeError._from_ptr(ctypes.cast(ptr, ctypes.POINTER(ffi.wasmtime_error_t)))


def trap(ptr: int) -> wasmtime.Trap:
    """Take ownership of a `wasm_trap_t*` (freed with the returned object)."""
    return wasmtime.Trap._from_ptr(ctypes.cast(ptr, ctypes.POINTER(ffi.wasm_trap_t)))


def new_trap(message: bytes) -> int:
    """A trap for a host callback to return: wasmtime takes ownership."""
    return int(_trap_new(message, len(message)))


class Fuel:
    """Reads and charges a store's fuel (one scratch word per owner)."""

    __slots__ = ("_at", "_word")

    def __init__(self) -> None:
        self._word = c_uint64()
        self._at = addressof(self._word)

    def left(self, ctx: Ctx) -> int:
        _get_fuel(ctx, self._at)
        return self._word.value

    def take(self, ctx: Ctx, fuel: int) -> bool:
        """Take `fuel` from the store; if less is left, take all of it and return False."""
        _get_fuel(ctx, self._at)
        left = self._word.value
        set_fuel(ctx, left - fuel if left >= fuel else 0)
        return left >= fuel


class Instance:
    """Room for one instance at a time, reused call after call (the engine keeps one per
    depth of nested calls): the instance, its memory and the entry point being run."""

    __slots__ = ("_at", "_fn", "_fn_at", "_inst", "_trap", "_trap_at", "_vals", "_vals_at",
                 "memory")

    def __init__(self) -> None:
        self._inst = ffi.wasmtime_instance_t()
        self._at = addressof(self._inst)
        self._trap = c_void_p()
        self._trap_at = addressof(self._trap)
        self._fn = ffi.wasmtime_extern_t()
        self._fn_at = addressof(self._fn)
        self._vals = ffi.wasmtime_val_raw_t()
        self._vals_at = addressof(self._vals)
        self.memory = Memory()

    def instantiate(self, pre: int, ctx: Ctx) -> None:
        """A new instance of `pre`'s module in the store of `ctx`; a failure raises
        `WasmtimeError` (or `wasmtime.Trap` from a start function)."""
        self._trap.value = None
        err = _instantiate(pre, ctx, self._at, self._trap_at)
        if err:
            raise error(err)
        if self._trap.value:
            raise trap(self._trap.value)

    def bind(self, ctx: Ctx, entry: bytes) -> bool:
        """Find the exported memory and the function `entry` (which the caller has checked
        to be `(i32) -> i32` in the module); False if either is missing."""
        mem = self.memory
        mem.forget()
        if not _export_get(ctx, self._at, b"memory", 6, mem.extern_at) or not mem.is_memory():
            return False
        if not _export_get(ctx, self._at, entry, len(entry), self._fn_at):
            return False
        kind: Any = self._fn.kind  # a plain int when read (the stubs say c_ubyte)
        return bool(kind == _KIND_FUNC)

    def call(self, ctx: Ctx, arg: int) -> int:
        """Run the bound entry point; a trap raises `wasmtime.Trap`, any other failure
        `WasmtimeError`."""
        self._vals.i32 = arg
        self._trap.value = None
        err = _call(ctx, self._fn_at + _OF, self._vals_at, 1, self._trap_at)
        if err:
            raise error(err)
        if self._trap.value:
            raise trap(self._trap.value)
        return int(self._vals.i32)

    def global_i32(self, ctx: Ctx, name: bytes) -> int:
        """An exported i32 global's value; 0 if there is none."""
        ext = ffi.wasmtime_extern_t()
        if not _export_get(ctx, self._at, name, len(name), addressof(ext)):
            return 0
        found: Any = ext.kind
        if found != _KIND_GLOBAL:
            return 0
        val = ffi.wasmtime_val_t()
        _global_get(ctx, addressof(ext) + _OF, addressof(val))
        found = val.kind
        return int(val.of.i32) if found == _I32 else 0


class Memory:
    """An instance's linear memory, read and written through a memoryview over it.

    The program may grow (and so move) its memory between host calls, so every access asks
    for the current size (one C call); the base address and the view are fetched again only
    when the size has changed, since a memory moves only when it grows. Slicing the view
    costs a fraction of a ctypes `string_at`/`memmove` per access. `bind` (a new instance
    in the slot) drops the view: it must never outlive the memory it covers."""

    __slots__ = ("_at", "_ext", "_size", "_view", "extern_at")

    def __init__(self) -> None:
        self._ext = ffi.wasmtime_extern_t()
        self.extern_at = addressof(self._ext)
        self._at = self.extern_at + _OF
        self._size = -1
        self._view = memoryview(b"")

    def forget(self) -> None:
        """Drop the view (the memory is about to be replaced or freed)."""
        self._size = -1
        self._view = memoryview(b"")

    def is_memory(self) -> bool:
        kind: Any = self._ext.kind
        return bool(kind == _KIND_MEMORY)

    def size(self, ctx: Ctx) -> int:
        return int(_memory_data_size(ctx, self._at))

    def view(self, ctx: Ctx) -> memoryview:
        """The whole memory as it is now; valid until the program or the host grows it."""
        size = _memory_data_size(ctx, self._at)
        if size != self._size:
            self._view = memoryview(
                (ctypes.c_ubyte * size).from_address(_memory_data(ctx, self._at))).cast("B")
            self._size = size
        return self._view

    def read(self, ctx: Ctx, at: int, n: int) -> bytes | None:
        """`n` bytes from `at`, or None if they are not all inside the memory."""
        view = self.view(ctx)
        if at < 0 or n < 0 or at + n > self._size:
            return None
        return view[at:at + n].tobytes()

    def write(self, ctx: Ctx, data: bytes, at: int = 0) -> bool:
        """Copy `data` to `at`; False (nothing written) if it does not fit."""
        view = self.view(ctx)
        if at < 0 or at + len(data) > self._size:
            return False
        view[at:at + len(data)] = data
        return True

    def grow(self, ctx: Ctx, pages: int) -> bool:
        """Grow by `pages` 64 KiB pages; False if the store's memory limit refuses."""
        prev = c_uint64()
        err = _memory_grow(ctx, self._at, pages, addressof(prev))
        if err:
            error(err)  # freed when dropped
            return False
        return True


def define_host(linker: wasmtime.Linker, module: bytes, name: bytes, ty: wasmtime.FuncType,
                callback: Callable[[int, int, int, int], int]) -> Any:
    """Define a host function whose callback takes the raw value array. Returns the ctypes
    callback object: the caller must keep it alive as long as the linker is used."""
    cb = HostCallback(callback)
    err = _define_unchecked(address(linker), module, len(module), name, len(name),
                            address(ty), ctypes.cast(cb, c_void_p).value, None, None)
    if err:
        raise error(err)
    return cb


_SLOT = {b"\x7f": ("i", "12x"), b"\x7e": ("q", "8x")}  # i32, i64 in a 16-byte slot
_CELL: dict[bytes, Any] = {b"\x7f": ctypes.c_int32, b"\x7e": ctypes.c_int64}


def arg_reader(params: list[bytes]) -> Callable[[int], tuple[int, ...]]:
    """Reads a host function's arguments (i32/i64 value types, as in `HOST_IMPORTS`)
    from a raw value array, as signed integers."""
    fmt = struct.Struct("<" + "".join("".join(_SLOT[p]) for p in params))
    cells, unpack_from = ctypes.c_char * max(fmt.size, 1), fmt.unpack_from

    def read(at: int) -> tuple[int, ...]:
        return unpack_from(cells.from_address(at))  # a view: no copy, no C call
    return read


def result_writer(results: list[bytes]) -> Callable[[int, Any], None]:
    """Writes a host function's results into a raw value array: an int for one result, a
    sequence of ints for several, wrapped to the result types like a Wasm store."""
    cells = [_CELL[r] for r in results]
    if not cells:
        return lambda at, value: None
    if len(cells) == 1:
        cell = cells[0]

        def one(at: int, value: Any) -> None:
            cell.from_address(at).value = value
        return one

    def many(at: int, values: Any) -> None:
        for i, (cell, v) in enumerate(zip(cells, values, strict=True)):
            cell.from_address(at + i * RAW_SIZE).value = v
    return many
