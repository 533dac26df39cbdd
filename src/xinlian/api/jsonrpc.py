"""JSON-RPC 2.0 framing: request bytes in, response bytes out (no sockets here).

Follows the specification (jsonrpc.org/specification): a request is an object with
`"jsonrpc": "2.0"`, a string `method`, optional `params` (array or object) and an optional
`id` (string, integer or null); without `id` it is a notification and gets no response.
A batch is a non-empty array of requests answered by an array of the non-notification
responses (nothing at all when every member is a notification). Every error carries a
Xinlian error in `error.data`; an unexpected exception in a handler becomes an internal
error for that one request and is logged, so bad input never stops the server.

Each call is metered (api.metering): it is admitted while its client has work budget left
and charged for what it did, so a batch cannot hold the loop longer than its client's
budget allows; once the budget is spent the batch's remaining calls get `rate_limited`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from xinlian.api.errors import (
    BatchTooLarge,
    InternalError,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    RateLimited,
    RequestTooLarge,
    WebsocketOnly,
    rpc_code,
)
from xinlian.api.limits import Limits
from xinlian.api.metering import Meter, counting
from xinlian.api.methods import Method
from xinlian.api.params import bind
from xinlian.api.subscriptions import Session
from xinlian.errors import XinlianError

log = logging.getLogger(__name__)

_MEMBERS = frozenset({"jsonrpc", "id", "method", "params"})
_encode = msgspec.json.encode

# The shape of every well-formed request, without floats (no parameter of the API is one):
# msgspec decodes bodies of this shape fast, and stops at the first value outside it, so a
# body of large-exponent floats (which msgspec converts at ~20 us each, 20 s for 4 MiB)
# never reaches its slow path; such bodies are decoded by the standard library instead.
_Scalar = str | int | bool | None
_Inner = _Scalar | list[_Scalar] | dict[str, _Scalar]
_Param = _Scalar | list[_Inner] | dict[str, _Inner]
_Request = dict[str, _Scalar | list[_Param] | dict[str, _Param]]
_decode_fast = msgspec.json.Decoder(_Request | list[_Request]).decode


def decode(body: bytes, max_containers: int) -> Any:
    """The JSON value of `body`; arrays and objects are counted (over-counted when a string
    holds brackets) before any is built, so a body of millions of tiny ones is refused
    without the seconds of allocation and garbage collection it would cost."""
    containers = body.count(b"[") + body.count(b"{")
    if containers > max_containers:
        raise RequestTooLarge(f"{containers} JSON arrays and objects in one message; "
                              f"the limit is {max_containers}")
    try:
        return _decode_fast(body)
    except msgspec.ValidationError:
        pass  # valid JSON so far, but not a request's usual shape: see below
    except msgspec.DecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    try:
        return json.loads(body)
    except RecursionError:
        raise ParseError("JSON nested too deeply") from None
    except ValueError as exc:  # also integers of more than 4,300 digits
        raise ParseError(f"not valid JSON: {exc}") from None


def error_response(error: XinlianError, request_id: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id,
            "error": {"code": rpc_code(error), "message": error.message,
                      "data": error.to_dict()}}


def encode_error(error: XinlianError) -> bytes:
    return _encode(error_response(error))


class Dispatcher:
    def __init__(self, methods: Mapping[str, Method], limits: Limits) -> None:
        self._methods = methods
        self._max_batch = limits.max_batch_requests
        # a full batch of requests with nested params uses about three per request
        self._max_containers = 4 * limits.max_batch_requests + 16
        self._max_name = limits.max_method_name
        self.meter = Meter(limits.work_rate, limits.work_burst)

    async def handle(self, body: bytes, session: Session | None,
                     client: str = "") -> bytes | None:
        """The response to one HTTP body or websocket message from `client` (its IP
        address, whose work budget pays for the calls); None when nothing is due."""
        try:
            message = decode(body, self._max_containers)
        except (ParseError, RequestTooLarge) as exc:
            return encode_error(exc)
        if isinstance(message, list):
            if not message:
                return encode_error(InvalidRequest("an empty batch"))
            if len(message) > self._max_batch:
                return encode_error(BatchTooLarge(
                    f"{len(message)} requests in a batch; the limit is {self._max_batch}"))
            replies = []
            for item in message:
                reply = await self._one(item, session, client)
                if reply is not None:
                    replies.append(reply)
                await asyncio.sleep(0)  # the node's loop also runs block production
            return _encode(replies) if replies else None
        reply = await self._one(message, session, client)
        return None if reply is None else _encode(reply)

    async def _one(self, request: Any, session: Session | None,
                   client: str) -> dict[str, Any] | None:
        try:
            request_id, method, params = _check_request(request)
        except InvalidRequest as exc:
            return error_response(exc, _valid_id(request))
        notification = "id" not in request
        try:
            if not self.meter.admits(client, time.monotonic()):
                raise RateLimited(f"this client's work budget ({self.meter.burst:g} units, "
                                  f"{self.meter.rate:g} a second) is spent; retry later")
            with counting() as work:
                try:
                    result = await self._call(method, params, session)
                finally:
                    self.meter.charge(client, 1 + work[0], time.monotonic())
        except XinlianError as exc:
            return None if notification else error_response(exc, request_id)
        except Exception:
            log.exception("handler of %s failed", method)
            error = InternalError("internal error while handling the request")
            return None if notification else error_response(error, request_id)
        return None if notification else {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _call(self, name: str, params: Any, session: Session | None) -> Any:
        method = self._methods.get(name)
        if method is None:
            shown = name if len(name) <= self._max_name else name[:self._max_name] + "..."
            raise MethodNotFound(f"no method {shown!r}")
        if method.websocket_only and session is None:
            raise WebsocketOnly(f"{name} needs a websocket connection (GET /ws)")
        return await method.handler(session, **bind(method.params, params))


def _valid_id(request: Any) -> Any:
    """The request's id when it has a valid one, else null (as the specification asks)."""
    request_id = request.get("id") if isinstance(request, dict) else None
    return request_id if type(request_id) in (str, int) else None


def _check_request(request: Any) -> tuple[Any, str, Any]:
    if not isinstance(request, dict):
        raise InvalidRequest("a request must be a JSON object")
    request_id = request.get("id")
    if request_id is not None and type(request_id) not in (str, int):
        raise InvalidRequest("id must be a string, an integer or null")
    if request.get("jsonrpc") != "2.0":
        raise InvalidRequest('"jsonrpc" must be exactly "2.0"')
    method = request.get("method")
    if not isinstance(method, str):
        raise InvalidRequest("method must be a string")
    unknown = set(request) - _MEMBERS
    if unknown:
        raise InvalidRequest(f"unknown request members {sorted(map(str, unknown))}")
    return request_id, method, request.get("params")
