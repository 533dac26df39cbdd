"""The roles of tokens the formatter cannot tell from the token alone, taken from the parser.

A `-` may be unary or binary, a `<` may open a comparison or a type's arguments, and a `{`
may open a block of statements, a list of fields or a struct literal. The parser already
decides each of these; `TokenRoles` runs it and writes its decisions down by token index
(into the token list without comments), so the formatter lays out exactly the program the
compiler sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xinlian.lang import ast as A
from xinlian.lang.errors import CompileError
from xinlian.lang.lexer import Token
from xinlian.lang.parser import Parser

BLOCK, LIST = "block", "list"  # a `{` of statements or members; of fields or variants
_BODY_ROLE = {"contract": BLOCK, "interface": BLOCK, "struct": LIST, "enum": LIST}


@dataclass
class TokenRoles:
    unary: set[int] = field(default_factory=set)  # `-`, `!`, `not` used as prefix operators
    generic: set[int] = field(default_factory=set)  # `<` opening `list<..>` / `map<..>`
    braces: dict[int, str] = field(default_factory=dict)  # `{` -> BLOCK or LIST
    lists: set[int] = field(default_factory=set)  # `[` opening a list or an array type


class _RoleParser(Parser):
    """The Qi parser, noting the roles of the tokens it decides on."""

    def __init__(self, tokens: list[Token], file: str) -> None:
        super().__init__(list(tokens), file)  # a copy: the parser splits `>>` in place
        self.roles = TokenRoles()

    def next_index(self, text: str) -> int:
        i = self.pos
        while self.toks[i].kind != "eof" and self.toks[i].text != text:
            i += 1
        return i

    def top_item(self, prog: A.Program) -> None:
        role = _BODY_ROLE.get(self.tok.text)
        if role is not None:
            self.roles.braces[self.next_index("{")] = role
        super().top_item(prog)

    def block(self) -> list[A.Stmt]:
        self.roles.braces[self.pos] = BLOCK
        return super().block()

    def upgrade_clause(self) -> A.UpgradeClause:
        if self.peek(2).text == "approvals":
            self.roles.lists.add(self.next_index("["))
        return super().upgrade_clause()

    def primary(self, no_struct: bool) -> A.Expr:
        if self.at("["):
            self.roles.lists.add(self.pos)
        return super().primary(no_struct)

    def unary(self, no_struct: bool) -> A.Expr:
        if self.at("-", "!", "not"):
            self.roles.unary.add(self.pos)
        return super().unary(no_struct)

    def type_ref(self) -> A.TypeRef:
        if self.tok.text in ("list", "map") and self.peek().text == "<":
            self.roles.generic.add(self.pos + 1)
        elif self.at("["):
            self.roles.lists.add(self.pos)
        return super().type_ref()


def token_roles(tokens: list[Token], file: str, source: str) -> TokenRoles:
    """The roles of `tokens` (without comments, ending in eof); raises `CompileError` when
    the program does not parse, since a layout of a broken program would be a guess."""
    p = _RoleParser(tokens, file)
    p.program()
    if p.diags:
        raise CompileError(sorted(p.diags, key=lambda d: (d.span.line, d.span.col)), source)
    return p.roles
