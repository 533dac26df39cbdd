"""A client whose node lies: the answers to one RPC method are rewritten before the SDK
checks them (the SDK must catch every such change)."""

from __future__ import annotations

from typing import Any

from xinlian.sdk import Client


class Liar:
    """Rewrites the node's answers to `method` before the client sees them."""

    def __init__(self, client: Client, change: Any, method: str = "xl_dataQuery") -> None:
        self.client = client
        self.change = change
        self.method = method
        self.original = client.call

    def __enter__(self) -> Liar:
        def call(c: Any) -> Any:
            result = self.original(c)
            return self.change(result) if c.method == self.method else result
        setattr(self.client, "call", call)  # noqa: B010 (a test double of one method)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self.client, "call", self.original)  # noqa: B010
