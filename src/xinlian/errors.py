"""The root of every typed error Xinlian raises.

Each package defines one error family below `XinlianError`; every error carries a stable
numeric `code` and a short `name`, so that RPC, CLI and receipts can report it the same way.
Codes are grouped by package: 1xxx codec, 2xxx crypto, 3xxx storage, 4xxx ledger and
mempool, 5xxx execution, 6xxx API (60xx), SDK (61xx), web workbench (64xx), node (65xx)
and network (68xx), 7xxx Qi, 8xxx distributed crypto, 9xxx simulator (90xx) and
consensus (91xx).
"""

from __future__ import annotations


class XinlianError(Exception):
    """Base of all typed errors. Subclasses set `code` and `name`."""

    code: int = 1
    name: str = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.name)
        self.message = message or self.name

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "message": self.message}

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its arguments and attributes, whatever its constructor takes, so that
        an error crosses to another process (the execution workers) intact."""
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[XinlianError], args: tuple[object, ...],
             state: dict[str, object]) -> XinlianError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error
