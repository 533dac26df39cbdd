"""Checked integer arithmetic, comparisons and conversions (code generation).

Integers up to 64 bits are computed inline on `i64` and checked against the type's range;
wider integers go through the `big` host operation, which checks the same way.
"""

from __future__ import annotations

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.asm import assemble
from xinlian.lang.emitter import Emitter, Env, panic_text
from xinlian.lang.types import ADDRESS, ADDRESS_LEN, BOOL, BYTES, STRING, EnumTy, IntTy, Ty

# operation codes of the host's `big` import (low byte; the next byte describes the type)
BIG_OPS = {"+": 1, "-": 2, "*": 3, "/": 4, "%": 5, "==": 6, "<": 7, "<=": 8, "cast": 9,
           "<<": 10, ">>": 11}
_BIG_BITWISE = {"&": "and", "|": "or", "^": "xor"}
_CMP_U = {"<": "i64.lt_u", "<=": "i64.le_u", ">": "i64.gt_u", ">=": "i64.ge_u"}
_CMP_S = {"<": "i64.lt_s", "<=": "i64.le_s", ">": "i64.gt_s", ">=": "i64.ge_s"}


def _a(cg: Emitter, text: str, **env: object) -> None:
    assemble(cg.cur.code, text, Env(cg, **env))


def binary(cg: Emitter, e: ir.Bin) -> None:
    a, b = e.args
    op = e.op
    t = a.ty
    if op == "concat":
        cg.expr(a)
        cg.expr(b)
        cg.call(cg.helper("concat"))
        return
    if op in ("==", "!="):
        cg.expr(a)
        cg.expr(b)
        equal(cg, t)
        if op == "!=":
            _a(cg, "i32.eqz")
        return
    assert isinstance(t, IntTy)
    if t.big:
        if op in ("<", "<=", ">", ">="):
            # a > b  ==  b < a
            first, second = (b, a) if op in (">", ">=") else (a, b)
            cg.expr(first)
            cg.expr(second)
            _big_cmp(cg, {"<": "<", ">": "<", "<=": "<=", ">=": "<="}[op], t)
        elif op in _BIG_BITWISE:  # limb by limb: wide values are held sign-extended
            cg.expr(a)
            cg.expr(b)
            cg.call(cg.helper(f"big_{_BIG_BITWISE[op]}"))
        elif op in ("<<", ">>"):  # the shift amount is a u32
            cg.expr(a)
            cg.expr(b)
            _small_to_big(cg, IntTy(32, False), t)
            _big_op(cg, op, t)
        else:
            cg.expr(a)
            cg.expr(b)
            _big_op(cg, op, t)
        return
    cg.expr(a)
    cg.expr(b)
    if op in _CMP_U:
        _a(cg, (_CMP_S if t.signed else _CMP_U)[op])
        return
    if op == "+wrap":
        _a(cg, "i64.add")
        return
    if op in ("&", "|", "^"):
        _a(cg, {"&": "i64.and", "|": "i64.or", "^": "i64.xor"}[op])
        return
    if op in ("<<", ">>"):
        _shift(cg, op, t)
        return
    _checked(cg, op, t)


def equal(cg: Emitter, t: Ty) -> None:
    """Stack: a b -> i32 (a == b); compound values compare by content."""
    if t in (BYTES, STRING, ADDRESS):
        cg.call(cg.helper("bytes_eq"))
    elif isinstance(t, IntTy) and t.big:
        _big_cmp(cg, "==", t)
    elif isinstance(t, IntTy):
        _a(cg, "i64.eq")
    elif t == BOOL or isinstance(t, EnumTy):
        _a(cg, "i32.eq")
    else:
        cg.call(cg.typed_helper("eq", t))


def _checked(cg: Emitter, op: str, t: IntTy) -> None:
    """Stack: a b -> a op b, panicking when the result leaves the type's range."""
    f = cg.cur
    ta, tb, tr = f.scratch(W.I64), f.scratch(W.I64), f.scratch(W.I64)
    _a(cg, f"local.set {tb}\nlocal.set {ta}")
    ov = panic_text(ir.PANIC_OVERFLOW)
    ins = {"+": "i64.add", "-": "i64.sub", "*": "i64.mul", "/": "i64.div_s" if t.signed
           else "i64.div_u", "%": "i64.rem_s" if t.signed else "i64.rem_u"}[op]
    if op == "%" and t.signed and t.bits == 64:
        # rem_s(MIN, -1) is 0 in Qi (wasm would trap): treat b == -1 specially
        _a(cg, f"local.get {tb}\ni64.const -1\ni64.eq\nif i64\ni64.const 0\nelse\n"
               f"local.get {ta}\nlocal.get {tb}\ni64.rem_s\nend")
        for x in (ta, tb, tr):
            f.release(W.I64, x)
        return
    if op in ("/", "%") and t.bits == 64 and t.signed and op == "/":
        _a(cg, f"""local.get {tb}
                   i64.const -1
                   i64.eq
                   local.get {ta}
                   i64.const {-(1 << 63)}
                   i64.eq
                   i32.and
                   if
                     {ov}
                   end""")
    _a(cg, f"local.get {ta}\nlocal.get {tb}\n{ins}\nlocal.set {tr}")
    if t.bits == 64 and not t.signed:
        check = {
            "+": f"local.get {tr}\nlocal.get {ta}\ni64.lt_u",
            "-": f"local.get {ta}\nlocal.get {tb}\ni64.lt_u",
            "*": f"""local.get {ta}
                     i64.eqz
                     if i32
                       i32.const 0
                     else
                       local.get {tr}
                       local.get {ta}
                       i64.div_u
                       local.get {tb}
                       i64.ne
                     end""",
        }.get(op)
    elif t.bits == 64:
        check = {
            "+": f"local.get {ta}\nlocal.get {tr}\ni64.xor\nlocal.get {tb}\nlocal.get {tr}\n"
                 f"i64.xor\ni64.and\ni64.const 0\ni64.lt_s",
            "-": f"local.get {ta}\nlocal.get {tb}\ni64.xor\nlocal.get {ta}\nlocal.get {tr}\n"
                 f"i64.xor\ni64.and\ni64.const 0\ni64.lt_s",
            "*": f"""local.get {ta}
                     i64.const -1
                     i64.eq
                     if i32
                       local.get {tb}
                       i64.const {-(1 << 63)}
                       i64.eq
                     else
                       local.get {ta}
                       i64.eqz
                       if i32
                         i32.const 0
                       else
                         local.get {tr}
                         local.get {ta}
                         i64.div_s
                         local.get {tb}
                         i64.ne
                       end
                     end""",
        }.get(op)
    elif t.signed:
        check = (f"local.get {tr}\ni64.const {t.min}\ni64.lt_s\nlocal.get {tr}\n"
                 f"i64.const {t.max}\ni64.gt_s\ni32.or") if op in "+-*/" else None
    else:
        check = (f"local.get {tr}\ni64.const {t.max}\ni64.gt_u" if op in "+*" else
                 f"local.get {ta}\nlocal.get {tb}\ni64.lt_u" if op == "-" else None)
    if check:
        _a(cg, f"{check}\nif\n{ov}\nend")
    _a(cg, f"local.get {tr}")
    for x in (ta, tb, tr):
        f.release(W.I64, x)


def _shift(cg: Emitter, op: str, t: IntTy) -> None:
    """Bits shifted out are lost; shifting by the width or more gives 0 (or -1 for
    negative values shifted right)."""
    f = cg.cur
    ta, tb = f.scratch(W.I64), f.scratch(W.I64)
    _a(cg, f"local.set {tb}\nlocal.set {ta}")
    if op == "<<":
        sh = 64 - t.bits
        norm = (f"i64.const {sh}\ni64.shl\ni64.const {sh}\n"
                f"{'i64.shr_s' if t.signed else 'i64.shr_u'}") if sh else ""
        _a(cg, f"""local.get {tb}
                   i64.const {t.bits}
                   i64.ge_u
                   if i64
                     i64.const 0
                   else
                     local.get {ta}
                     local.get {tb}
                     i64.shl
                     {norm}
                   end""")
    else:
        _a(cg, f"""local.get {ta}
                   local.get {tb}
                   i64.const 63
                   local.get {tb}
                   i64.const 63
                   i64.lt_u
                   select
                   {'i64.shr_s' if t.signed else 'i64.shr_u'}""")
        if not t.signed:
            _a(cg, f"i64.const 0\nlocal.get {tb}\ni64.const {t.bits}\ni64.lt_u\nselect")
    f.release(W.I64, ta)
    f.release(W.I64, tb)


def desc(t: IntTy) -> int:
    """An integer type as host operations describe it: bits | signed << 16."""
    return t.bits | (0x10000 if t.signed else 0)


def _big_op(cg: Emitter, op: str, t: IntTy) -> None:
    if op in ("+", "-") and not t.signed:  # the common case runs in Wasm
        cg.call(cg.helper(f"big_{'add' if op == '+' else 'sub'}{t.bits}"))
        return
    f = cg.cur
    x, y = f.scratch(W.ref_null(cg.big_t)), f.scratch(W.ref_null(cg.big_t))
    _a(cg, f"local.set {y}\nlocal.set {x}\ni32.const {ir_big(op, t)}\nlocal.get {x}\n"
           f"local.get {y}\ncall $big_op")
    f.release(W.ref_null(cg.big_t), x)
    f.release(W.ref_null(cg.big_t), y)


def ir_big(op: str, t: IntTy) -> int:
    return BIG_OPS[op] | (desc(t) << 8)


def _big_cmp(cg: Emitter, op: str, t: IntTy) -> None:
    name = {"<": "lt", "<=": "le", "==": "eq"}[op]
    cg.call(cg.helper(f"big_{name}{'_s' if t.signed and op != '==' else ''}"))


def cast(cg: Emitter, v: ir.Expr, to: Ty) -> None:
    src = v.ty
    cg.expr(v)
    if src in (STRING, ADDRESS) and to == BYTES:
        return
    if src == BYTES and to == ADDRESS:
        f = cg.cur
        tmp = f.scratch(W.ref_null(cg.bytes_t))
        _a(cg, f"local.tee {tmp}\narray.len\ni32.const {ADDRESS_LEN}\ni32.ne\nif\n"
               f"{panic_text(ir.PANIC_CAST)}\nend\nlocal.get {tmp}")
        f.release(W.ref_null(cg.bytes_t), tmp)
        return
    if isinstance(src, EnumTy):
        _a(cg, "i64.extend_i32_u")
        src = IntTy(8, False)
        if isinstance(to, IntTy) and to.big:
            _small_to_big(cg, src, to)
        return
    assert isinstance(src, IntTy) and isinstance(to, IntTy)
    if src.big:
        # wide source: the host checks the range; b's low limb carries the source type
        f = cg.cur
        x = f.scratch(W.ref_null(cg.big_t))
        _a(cg, f"local.set {x}\ni32.const {ir_big('cast', to)}\nlocal.get {x}\n"
               f"i64.const {desc(src)}\ni64.const 0\ni64.const 0\ni64.const 0\n"
               f"struct.new big\ncall {'$big_op' if to.big else '$big_low'}")
        f.release(W.ref_null(cg.big_t), x)
        return
    if to.big:
        _small_to_big(cg, src, to)
        return
    _small_range(cg, src, to)


def _small_range(cg: Emitter, src: IntTy, to: IntTy) -> None:
    f = cg.cur
    t = f.scratch(W.I64)
    checks: list[str] = []
    if src.signed and not to.signed:
        checks.append(f"local.get {t}\ni64.const 0\ni64.lt_s")
    if src.signed and to.signed and to.bits < src.bits:
        checks.append(f"local.get {t}\ni64.const {to.min}\ni64.lt_s\nlocal.get {t}\n"
                      f"i64.const {to.max}\ni64.gt_s\ni32.or")
    elif to.max < src.max:
        checks.append(f"local.get {t}\ni64.const {to.max}\n"
                      f"{'i64.gt_s' if src.signed else 'i64.gt_u'}")
    if checks:
        _a(cg, f"local.set {t}")
        _a(cg, "\n".join(checks) + "\ni32.or" * (len(checks) - 1)
           + f"\nif\n{panic_text(ir.PANIC_CAST)}\nend\nlocal.get {t}")
    f.release(W.I64, t)


def _small_to_big(cg: Emitter, src: IntTy, to: IntTy) -> None:
    f = cg.cur
    t = f.scratch(W.I64)
    _a(cg, f"local.set {t}")
    if src.signed and not to.signed:
        _a(cg, f"local.get {t}\ni64.const 0\ni64.lt_s\nif\n{panic_text(ir.PANIC_CAST)}\nend")
    ext = f"local.get {t}\ni64.const 63\ni64.shr_s" if src.signed else "i64.const 0"
    _a(cg, f"local.get {t}\n{ext}\n{ext}\n{ext}\nstruct.new big")
    f.release(W.I64, t)

