"""The node's typed errors (6xxx below the API's 6000 range: 6500+)."""

from __future__ import annotations

from xinlian.errors import XinlianError


class NodeError(XinlianError):
    code = 6500
    name = "node_error"


class NotFound(NodeError):
    code = 6501
    name = "not_found"


class NodeConfigError(NodeError):
    code = 6502
    name = "bad_config"
