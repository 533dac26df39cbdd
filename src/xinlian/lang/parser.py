"""Qi parser: recursive descent with error recovery.

A syntax error is recorded and the parser skips to a synchronisation point (the end of the
statement, the closing brace of the block, or the next declaration keyword), so one run
reports every independent mistake rather than only the first.
"""

from __future__ import annotations

from xinlian.lang import ast as A
from xinlian.lang.errors import E_PARSE, CompileError, Diagnostic, Span
from xinlian.lang.lexer import Token, lex


class _Bail(Exception):
    """Unwinds to the nearest recovery point after a diagnostic was recorded."""


_BINARY = [
    ("||", "or"), ("&&", "and"), ("==", "!="), ("<", "<=", ">", ">="), ("|",), ("^",), ("&",),
    ("<<", ">>"), ("+", "-"), ("*", "/", "%"),
]
_ITEM_START = {"contract", "interface", "struct", "enum", "fn", "pub", "view", "test", "state",
               "event", "error", "init", "indexed"}


class Parser:
    def __init__(self, tokens: list[Token], file: str) -> None:
        self.toks = tokens
        self.pos = 0
        self.file = file
        self.diags: list[Diagnostic] = []

    # --- token helpers --------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.pos]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.pos + k, len(self.toks) - 1)]

    def at(self, *texts: str) -> bool:
        t = self.tok
        return t.kind in ("op", "kw") and t.text in texts

    def advance(self) -> Token:
        t = self.tok
        if t.kind != "eof":
            self.pos += 1
        return t

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.advance()
            return True
        return False

    def error(self, message: str, span: Span | None = None) -> _Bail:
        self.diags.append(Diagnostic(E_PARSE, message, span or self.tok.span))
        return _Bail()

    def describe(self, t: Token) -> str:
        return "end of file" if t.kind == "eof" else f"`{t.text}`"

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected `{text}`, found {self.describe(self.tok)}")
        return self.advance()

    def ident(self, what: str = "a name") -> Token:
        if self.tok.kind != "ident":
            raise self.error(f"expected {what}, found {self.describe(self.tok)}")
        return self.advance()

    def sync_statement(self) -> None:
        """Skip to just after the next `;` at this nesting level, or before a closing `}`."""
        depth = 0
        while self.tok.kind != "eof":
            if self.at("{"):
                depth += 1
            elif self.at("}"):
                if depth == 0:
                    return
                depth -= 1
                if depth == 0:
                    self.advance()
                    return
            elif self.at(";") and depth == 0:
                self.advance()
                return
            self.advance()

    def sync_item(self) -> None:
        depth = 0
        while self.tok.kind != "eof":
            if self.at("{"):
                depth += 1
            elif self.at("}"):
                if depth <= 1:
                    self.advance()
                    if depth == 1:
                        return
                    continue
                depth -= 1
            elif depth == 0 and self.tok.kind == "kw" and self.tok.text in _ITEM_START:
                return
            self.advance()

    # --- declarations ---------------------------------------------------------------------
    def program(self) -> A.Program:
        prog = A.Program(self.file)
        while self.tok.kind != "eof":
            start = self.pos
            try:
                self.top_item(prog)
            except _Bail:
                if self.pos == start:
                    self.advance()
                self.sync_item()
        return prog

    def top_item(self, prog: A.Program) -> None:
        if self.at("contract"):
            prog.contracts.append(self.contract())
        elif self.at("struct"):
            prog.structs.append(self.struct_decl())
        elif self.at("enum"):
            prog.enums.append(self.enum_decl())
        elif self.at("interface"):
            prog.interfaces.append(self.interface())
        elif self.at("fn", "test"):
            prog.functions.append(self.fn_decl())
        else:
            raise self.error(f"expected a declaration (contract, struct, enum, interface, fn), "
                             f"found {self.describe(self.tok)}")

    def contract(self) -> A.ContractDecl:
        start = self.expect("contract").span
        name = self.ident("a contract name").text
        c = A.ContractDecl(name, start)
        if self.accept("upgrades"):
            c.upgrades = self.ident("the name of the contract being upgraded").text
        self.expect("{")
        while not self.at("}") and self.tok.kind != "eof":
            begin = self.pos
            try:
                self.member(c)
            except _Bail:
                if self.pos == begin:
                    self.advance()
                self.sync_item()
        self.expect("}")
        return c

    def member(self, c: A.ContractDecl) -> None:
        if self.at("state", "indexed") and (self.at("state") or self.peek().text == "state"):
            indexed = self.accept("indexed")
            span = self.expect("state").span
            name = self.ident("a state variable name").text
            self.expect(":")
            ty = self.type_ref()
            self.expect(";")
            c.states.append(A.StateDecl(name, ty, span, indexed))
        elif self.at("event"):
            span = self.advance().span
            name = self.ident("an event name").text
            params = self.params(allow_indexed=True)
            self.expect(";")
            c.events.append(A.EventDecl(name, params, span))
        elif self.at("error"):
            span = self.advance().span
            name = self.ident("an error name").text
            params = self.params()
            self.expect(";")
            c.errors.append(A.ErrorDecl(name, params, span))
        elif self.at("init"):
            span = self.advance().span
            params = self.params()
            fn = A.FnDecl("init", params, None, None, span, is_init=True)
            fn.specs = self.spec_clauses()
            fn.body = self.block()
            c.functions.append(fn)
        elif self.tok.kind == "ident" and self.tok.text == "invariant":
            span = self.advance().span
            c.invariants.append(A.SpecClause("invariant", self.expr(), span))
            self.expect(";")
        elif self.at("fn", "pub", "view", "test"):
            c.functions.append(self.fn_decl())
        elif self.tok.text == "upgrade" and self.tok.kind == "ident" \
                and self.peek().text in ("by", "never"):
            clause = self.upgrade_clause()
            if c.upgrade_rule is not None:
                self.error("a contract declares one `upgrade` rule", clause.span)
            c.upgrade_rule = clause
        else:
            raise self.error(f"expected a contract member (state, event, error, init, fn, "
                             f"upgrade, invariant), "
                             f"found {self.describe(self.tok)}")

    def upgrade_clause(self) -> A.UpgradeClause:
        """After `upgrade`: `never;` or `by admin|governance;` or
        `by approvals(K of [hex"<20 bytes>", ...]);` (`upgrade`, `by`, `never`, `of` and the
        rule names are words only here, not keywords)."""
        span = self.advance().span
        if self.advance().text == "never":
            self.expect(";")
            return A.UpgradeClause("never", span)
        kind = self.ident("`admin`, `governance` or `approvals`")
        clause = A.UpgradeClause(kind.text, kind.span)
        if kind.text == "approvals":
            self.expect("(")
            if self.tok.kind != "int":
                raise self.error(f"expected the number of approvals needed, found "
                                 f"{self.describe(self.tok)}")
            clause.threshold = int(str(self.advance().value or 0))
            if self.ident("`of`").text != "of":
                raise self.error("expected `of`", self.toks[self.pos - 1].span)
            self.expect("[")
            while not self.at("]"):
                if self.tok.kind != "bytes":
                    raise self.error(f"expected an approver address (hex\"<40 hex digits>\"), "
                                     f"found {self.describe(self.tok)}")
                value = self.advance().value
                clause.approvers.append(value if isinstance(value, bytes) else b"")
                if not self.accept(","):
                    break
            self.expect("]")
            self.expect(")")
        self.expect(";")
        return clause

    def params(self, allow_indexed: bool = False) -> list[A.Param]:
        self.expect("(")
        out: list[A.Param] = []
        while not self.at(")"):
            indexed = allow_indexed and self.accept("indexed")
            t = self.ident("a parameter name")
            self.expect(":")
            out.append(A.Param(t.text, self.type_ref(), t.span, indexed))
            if not self.accept(","):
                break
        self.expect(")")
        return out

    def fn_decl(self, body_required: bool = True) -> A.FnDecl:
        is_test = self.accept("test")
        public = self.accept("pub")
        view = self.accept("view")
        self.expect("fn")
        name_tok = self.ident("a function name")
        span, name = name_tok.span, name_tok.text
        params = self.params()
        ret = self.type_ref() if self.accept("->") else None
        fn = A.FnDecl(name, params, ret, None, span, public=public, view=view, is_test=is_test)
        if is_test and self.tok.kind == "ident" and self.tok.text == "expect_revert":
            self.advance()  # `expect_revert` or `expect_revert(ErrorName)`
            fn.expect_revert = self.ident("an error name").text if self.accept("(") else "*"
            if fn.expect_revert != "*":
                self.expect(")")
        while self.at("reads", "writes", "every"):
            kw = self.advance().text
            if kw == "every":
                t = self.tok
                if t.kind != "int":
                    raise self.error("expected a block count after `every`")
                self.advance()
                fn.every = int(t.value)  # type: ignore[call-overload]
                self.expect("blocks")
                continue
            self.expect("(")
            names: list[str] = []
            while not self.at(")"):
                names.append(self.ident("a state variable name").text)
                if not self.accept(","):
                    break
            self.expect(")")
            if kw == "reads":
                fn.reads = names
            else:
                fn.writes = names
        fn.specs = self.spec_clauses()
        if body_required:
            fn.body = self.block()
        else:
            self.expect(";")
        return fn

    def spec_clauses(self) -> list[A.SpecClause]:
        """`requires e`, `ensures e`, `aborts_if e`, `modifies a, b` between a function's
        signature and its body (contextual words, so they stay usable as names)."""
        out: list[A.SpecClause] = []
        while self.tok.kind == "ident" and self.tok.text in A.SPEC_CLAUSES:
            t = self.advance()
            if t.text == "modifies":
                names = [self.ident("a state variable name").text]
                while self.accept(","):
                    names.append(self.ident("a state variable name").text)
                out.append(A.SpecClause("modifies", None, t.span, names))
            else:
                out.append(A.SpecClause(t.text, self.expr(no_struct=True), t.span))
        return out

    def loop_invariants(self) -> list[A.Expr]:
        """`invariant e` clauses between a loop's header and its body."""
        out: list[A.Expr] = []
        while self.tok.kind == "ident" and self.tok.text == "invariant":
            self.advance()
            out.append(self.expr(no_struct=True))
        return out

    def struct_decl(self) -> A.StructDecl:
        self.expect("struct")
        name_tok = self.ident("a struct name")
        span, name = name_tok.span, name_tok.text
        self.expect("{")
        fields: list[A.Param] = []
        while not self.at("}"):
            t = self.ident("a field name")
            self.expect(":")
            fields.append(A.Param(t.text, self.type_ref(), t.span))
            if not self.accept(","):
                break
        self.expect("}")
        return A.StructDecl(name, fields, span)

    def enum_decl(self) -> A.EnumDecl:
        self.expect("enum")
        name_tok = self.ident("an enum name")
        span, name = name_tok.span, name_tok.text
        self.expect("{")
        variants: list[str] = []
        while not self.at("}"):
            variants.append(self.ident("a variant name").text)
            if not self.accept(","):
                break
        self.expect("}")
        return A.EnumDecl(name, variants, span)

    def interface(self) -> A.InterfaceDecl:
        span = self.expect("interface").span
        name = self.ident("an interface name").text
        self.expect("{")
        methods: list[A.FnDecl] = []
        while not self.at("}") and self.tok.kind != "eof":
            methods.append(self.fn_decl(body_required=False))
        self.expect("}")
        return A.InterfaceDecl(name, methods, span)

    def type_ref(self) -> A.TypeRef:
        span = self.tok.span
        if self.accept("["):
            elem = self.type_ref()
            self.expect(";")
            t = self.tok
            if t.kind != "int":
                raise self.error("expected the array length")
            self.advance()
            self.expect("]")
            ty = A.TypeRef("array", [elem], span, int(t.value))  # type: ignore[call-overload]
        else:
            name = self.ident("a type").text
            args: list[A.TypeRef] = []
            if name in ("list", "map") and self.accept("<"):
                args.append(self.type_ref())
                while self.accept(","):
                    args.append(self.type_ref())
                if self.at(">>"):  # `list<list<u8>>`: split the shift token
                    self.toks[self.pos] = Token("op", ">", self.tok.span)
                else:
                    self.expect(">")
            ty = A.TypeRef(name, args, span)
        while self.accept("?"):
            ty = A.TypeRef("optional", [ty], span)
        return ty

    # --- statements -----------------------------------------------------------------------
    def try_block(self, span: Span) -> A.TryBlock:
        body = self.block()
        catches: list[A.Catch] = []
        while self.at("catch"):
            at = self.advance().span
            name = None if self.at("{") else self.ident("an error name").text
            binds: list[str] | None = None
            if self.accept("("):
                binds = []
                while not self.at(")"):
                    binds.append(self.ident("a name for the error's argument").text)
                    if not self.accept(","):
                        break
                self.expect(")")
            catches.append(A.Catch(at, name, binds, self.block()))
        if not catches:
            self.expect("catch")
        return A.TryBlock(span, body, catches)

    def block(self) -> list[A.Stmt]:
        self.expect("{")
        out: list[A.Stmt] = []
        while not self.at("}") and self.tok.kind != "eof":
            start = self.pos
            try:
                out.append(self.statement())
            except _Bail:
                if self.pos == start:
                    self.advance()
                self.sync_statement()
        self.expect("}")
        return out

    def statement(self) -> A.Stmt:
        t = self.tok
        span = t.span
        if self.accept("let"):
            mutable = self.accept("mut")
            name = self.ident().text
            ty = self.type_ref() if self.accept(":") else None
            self.expect("=")
            value = self.expr()
            self.expect(";")
            return A.Let(span, name, mutable, ty, value)
        if self.at("if"):
            return self.if_stmt()
        if self.accept("while"):
            cond = self.expr(no_struct=True)
            invs = self.loop_invariants()
            return A.While(span, cond, self.block(), invs)
        if self.accept("for"):
            var = self.ident().text
            self.expect("in")
            first = self.expr(no_struct=True)
            if self.accept(".."):
                end = self.expr(no_struct=True)
                invs = self.loop_invariants()
                return A.ForRange(span, var, first, end, self.block(), invs)
            invs = self.loop_invariants()
            return A.ForEach(span, var, first, self.block(), invs)
        if self.accept("break"):
            self.expect(";")
            return A.Break(span)
        if self.accept("continue"):
            self.expect(";")
            return A.Continue(span)
        if self.accept("return"):
            ret = None if self.at(";") else self.expr()
            self.expect(";")
            return A.Return(span, ret)
        if self.accept("emit"):
            name = self.ident("an event name").text
            args = self.call_args()
            self.expect(";")
            return A.Emit(span, name, args)
        if self.accept("revert"):
            name = self.ident("an error name").text
            args = self.call_args()
            self.expect(";")
            return A.Revert(span, name, args)
        if self.accept("require"):
            self.expect("(")
            cond = self.expr()
            error, args, message = None, [], "requirement failed"
            if self.accept(","):
                if self.tok.kind == "str":
                    message = str(self.advance().value)
                else:
                    error = self.ident("an error or a message").text
                    args = self.call_args()
            self.expect(")")
            self.expect(";")
            return A.Require(span, cond, error, args, message)
        if self.accept("assert"):
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            self.expect(";")
            return A.Assert(span, cond)
        if self.accept("try"):
            if self.at("{"):
                return self.try_block(span)
            bound: str | None = None
            if self.accept("let"):
                bound = self.ident().text
                self.expect("=")
            call = self.expr(no_struct=True)
            body = self.block()
            self.expect("catch")
            err_var = None if self.at("{") else self.ident().text
            return A.Try(span, bound, call, body, err_var, self.block())
        if self.accept("async"):
            call = self.expr()
            self.expect("then")
            cb = self.ident("a callback function").text
            self.expect(";")
            return A.AsyncCall(span, call, cb)
        expr = self.expr()
        if self.at("=", "+=", "-=", "*=", "/=", "%="):
            op = self.advance().text
            value = self.expr()
            self.expect(";")
            return A.Assign(span, expr, op, value)
        self.expect(";")
        return A.ExprStmt(span, expr)

    def if_stmt(self) -> A.If:
        span = self.expect("if").span
        cond = self.expr(no_struct=True)
        then = self.block()
        orelse: list[A.Stmt] = []
        if self.accept("else"):
            orelse = [self.if_stmt()] if self.at("if") else self.block()
        return A.If(span, cond, then, orelse)

    # --- expressions ----------------------------------------------------------------------
    def expr(self, no_struct: bool = False) -> A.Expr:
        return self.binary(0, no_struct)

    def binary(self, level: int, no_struct: bool) -> A.Expr:
        if level == len(_BINARY):
            return self.unary(no_struct)
        left = self.binary(level + 1, no_struct)
        while self.at(*_BINARY[level]):
            t = self.advance()
            op = {"or": "||", "and": "&&"}.get(t.text, t.text)
            right = self.binary(level + 1, no_struct)
            left = A.Binary(t.span, op, left, right)
        return left

    def unary(self, no_struct: bool) -> A.Expr:
        if self.at("-", "!", "not"):
            t = self.advance()
            op = "!" if t.text == "not" else t.text
            return A.Unary(t.span, op, self.unary(no_struct))
        return self.postfix(no_struct)

    def postfix(self, no_struct: bool) -> A.Expr:
        e = self.primary(no_struct)
        while True:
            if self.at("("):
                e = A.Call(self.tok.span, e, self.call_args())
            elif self.at("["):
                span = self.advance().span
                idx = self.expr()
                self.expect("]")
                e = A.Index(span, e, idx)
            elif self.at("."):
                self.advance()
                t = self.ident("a field or method name")
                e = A.Field(t.span, e, t.text)
            elif self.at("as"):
                span = self.advance().span
                e = A.Cast(span, e, self.type_ref())
            else:
                return e

    def call_args(self) -> list[A.Expr]:
        self.expect("(")
        args: list[A.Expr] = []
        while not self.at(")"):
            args.append(self.expr())
            if not self.accept(","):
                break
        self.expect(")")
        return args

    def primary(self, no_struct: bool) -> A.Expr:
        t = self.tok
        if t.kind == "int":
            self.advance()
            return A.IntLit(t.span, int(t.value))  # type: ignore[call-overload]
        if t.kind == "str":
            self.advance()
            return A.StrLit(t.span, str(t.value))
        if t.kind == "bytes":
            self.advance()
            return A.BytesLit(t.span, bytes(t.value))  # type: ignore[call-overload]
        if self.accept("true"):
            return A.BoolLit(t.span, True)
        if self.accept("false"):
            return A.BoolLit(t.span, False)
        if self.accept("none"):
            return A.NoneLit(t.span)
        if self.at("init") and self.peek().text == "(":  # tests may run the constructor
            self.advance()
            return A.Name(t.span, "init")
        if self.accept("("):
            e = self.expr()
            self.expect(")")
            return e
        if self.at("{") and self.peek().text == "}":
            self.advance()
            self.advance()
            return A.MapLit(t.span)
        if self.accept("["):
            items: list[A.Expr] = []
            while not self.at("]"):
                items.append(self.expr())
                if not self.accept(","):
                    break
            self.expect("]")
            return A.ListLit(t.span, items)
        if t.kind == "ident":
            self.advance()
            if self.accept("::"):
                member = self.ident("a variant name").text
                return A.Path(t.span, t.text, member)
            struct_start = not no_struct and self.at("{") and t.text[:1].isupper()
            if struct_start and ((self.peek().kind == "ident" and self.peek(2).text == ":")
                                 or self.peek().text == "}"):
                return self.struct_lit(t)
            return A.Name(t.span, t.text)
        raise self.error(f"expected an expression, found {self.describe(t)}")

    def struct_lit(self, t: Token) -> A.StructLit:
        self.expect("{")
        fields: list[tuple[str, A.Expr, Span]] = []
        while not self.at("}"):
            f = self.ident("a field name")
            self.expect(":")
            fields.append((f.text, self.expr(), f.span))
            if not self.accept(","):
                break
        self.expect("}")
        return A.StructLit(t.span, t.text, fields)


def parse(source: str, file: str = "<input>") -> A.Program:
    """Parse a whole file; raise `CompileError` listing every lexical and syntax error."""
    tokens, diags = lex(source, file)
    p = Parser(tokens, file)
    prog = p.program()
    diags = diags + p.diags
    if diags:
        diags.sort(key=lambda d: (d.span.line, d.span.col))
        raise CompileError(diags, source)
    return prog
