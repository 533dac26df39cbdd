"""The API's typed errors (60xx) and how each maps onto a JSON-RPC 2.0 error code.

Every JSON-RPC error the server sends carries a Xinlian error in `error.data`
(`{"code", "name", "message"}`), so clients branch on one stable code space whether the
request failed in framing (60xx here), in the ledger (4xxx) or elsewhere in the node.
"""

from __future__ import annotations

from xinlian.errors import XinlianError

# JSON-RPC 2.0 reserved codes (section 5.1 of the specification).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
LIMIT_EXCEEDED = -32005  # server-defined range; the code Ethereum nodes use for rate limits


class ApiError(XinlianError):
    code = 6000
    name = "api_error"
    rpc_code = INTERNAL_ERROR


class ParseError(ApiError):
    code = 6001
    name = "parse_error"
    rpc_code = PARSE_ERROR


class InvalidRequest(ApiError):
    code = 6002
    name = "invalid_request"
    rpc_code = INVALID_REQUEST


class MethodNotFound(ApiError):
    code = 6003
    name = "method_not_found"
    rpc_code = METHOD_NOT_FOUND


class InvalidParams(ApiError):
    code = 6004
    name = "invalid_params"
    rpc_code = INVALID_PARAMS


class RequestTooLarge(InvalidRequest):
    code = 6005
    name = "request_too_large"


class BatchTooLarge(InvalidRequest):
    code = 6006
    name = "batch_too_large"


class InternalError(ApiError):
    code = 6007
    name = "internal_error"
    rpc_code = INTERNAL_ERROR


class UnknownSubscription(InvalidParams):
    code = 6008
    name = "unknown_subscription"


class WebsocketOnly(MethodNotFound):
    """Subscriptions need a connection to push on: use GET /ws, not POST /rpc."""

    code = 6009
    name = "websocket_only"


class FormatError(ApiError):
    """A JSON value does not have the shape of the record it should encode."""

    code = 6010
    name = "bad_format"
    rpc_code = INVALID_PARAMS


class LimitExceeded(ApiError):
    """A request, connection or client went over one of the server's limits (api.limits)."""

    code = 6011
    name = "limit_exceeded"
    rpc_code = LIMIT_EXCEEDED


class RateLimited(LimitExceeded):
    """The client (IP address) spent its work budget; calls are refused until it refills."""

    code = 6012
    name = "rate_limited"


class ServerBusy(LimitExceeded):
    """Too many request bytes are being read or handled at once; retry shortly."""

    code = 6013
    name = "server_busy"


class TooManyConnections(LimitExceeded):
    code = 6014
    name = "too_many_connections"


class TooManyWatches(LimitExceeded):
    code = 6015
    name = "too_many_watches"


class RequestTimeout(LimitExceeded):
    """The request's body did not arrive within the body timeout."""

    code = 6016
    name = "request_timeout"


class NotServedByLightNode(MethodNotFound):
    """A light node keeps certified headers only: a method whose answer it could not check
    against them, or that needs a ledger of its own, is refused; the message says why and
    where to ask instead."""

    code = 6017
    name = "not_served_by_light_node"


class LimitsError(ApiError):
    """An `[rpc]` setting in node.toml is unknown or not a positive number."""

    code = 6020
    name = "bad_rpc_limits"


def rpc_code(error: XinlianError) -> int:
    """The JSON-RPC `error.code` for `error`: reserved codes for framing errors, the Xinlian
    code itself for application errors (JSON-RPC leaves codes outside -32768..-32000 free)."""
    return error.rpc_code if isinstance(error, ApiError) else error.code


class Rejected(ApiError):
    """The node refused a submitted transaction; code and name are the node's own (4xxx
    from admission, 1xxx for undecodable bytes), the hash says which transaction."""

    def __init__(self, code: int, name: str, message: str, tx_hash: bytes) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.rpc_code = code
        self.tx_hash = tx_hash

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "hash": "0x" + self.tx_hash.hex()}
