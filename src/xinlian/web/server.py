"""The workbench's HTTP and websocket server (aiohttp, as the node's API): the page and its
assets, log-in, projects and files, the toolchain, the language server and the shared
documents (collab.py) over websockets, and the chain (deploy, call, upgrade, explorer).

Who may do what is decided here, per request, from the session's user and its role on the
project named in the request: a viewer reads, compiles, tests, verifies, checks and
queries; an editor also saves, deploys and sends transactions; an owner also upgrades.
The chain key stays in this process: the browser only ever names what to sign.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from xinlian.cli.lsp.framing import FrameReader, encode_frame
from xinlian.cli.lsp.server import LanguageServer
from xinlian.errors import XinlianError
from xinlian.lang.compiler import compile_source
from xinlian.lang.detect import editor_notes, project_rules
from xinlian.lang.errors import CompileError
from xinlian.lang.fmt import MAX_SOURCE_BYTES, require_size
from xinlian.web import toolchain
from xinlian.web.chain import Chain, hex_bytes
from xinlian.web.collab import Rooms
from xinlian.web.errors import BadRequest, Forbidden, NotLoggedIn, WebError
from xinlian.web.projects import Projects
from xinlian.web.users import User, is_password

STATIC = Path(__file__).parent / "static"
COOKIE = "xinlian_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Workbench:
    projects: Projects
    users: dict[str, User]
    chain: Chain | None = None
    sessions: dict[str, str] = field(default_factory=dict)  # token -> user name
    rooms: Rooms = field(default_factory=Rooms)

    def user(self, request: web.Request) -> User:
        name = self.sessions.get(request.cookies.get(COOKIE, ""))
        if name is None or name not in self.users:
            raise NotLoggedIn("log in first")
        return self.users[name]

    def member(self, request: web.Request, project: str, role: str) -> User:
        user = self.user(request)
        self.projects.folder(project)  # the project exists and its name is plain
        user.require(project, role)
        return user

    def need_chain(self) -> Chain:
        if self.chain is None:
            raise BadRequest("the workbench was started without --node")
        return self.chain


KEY: web.AppKey[Workbench] = web.AppKey("workbench", Workbench)


def make_app(bench: Workbench) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=2 * MAX_SOURCE_BYTES)
    app[KEY] = bench
    app.router.add_static("/static", STATIC)
    for method, path, handler in _ROUTES:
        app.router.add_route(method, path, handler)
    app.on_startup.append(_start_rooms)
    app.on_cleanup.append(_stop_rooms)
    return app


async def serve(bench: Workbench, host: str, port: int) -> None:
    """Serve until cancelled; prints `{"web": URL}` once listening (port 0: any free one),
    as `xinlian node start` prints its RPC address, so that scripts can wait for it."""
    runner = web.AppRunner(make_app(bench))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        print(json.dumps({"web": f"http://{host}:{bound}/"}), flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Typed errors become JSON answers with their code and name; nothing else leaks."""
    try:
        return await handler(request)
    except XinlianError as exc:
        status = exc.status if isinstance(exc, WebError) else 400
        return web.json_response({"error": exc.to_dict()}, status=status)


async def _start_rooms(app: web.Application) -> None:
    await app[KEY].rooms.start()


async def _stop_rooms(app: web.Application) -> None:
    await app[KEY].rooms.stop()


def _bench(request: web.Request) -> Workbench:
    return request.app[KEY]


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"`{key}` must be a string")
    return value


def _args(body: dict[str, Any]) -> list[str]:
    """Arguments as typed in the page: each a JSON value or a bare word (a string)."""
    args = body.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise BadRequest("`args` must be a list of strings")
    return args


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


# --- log-in -------------------------------------------------------------------------------
async def _login(request: web.Request) -> web.StreamResponse:
    bench, body = _bench(request), await _body(request)
    name, password = _str(body, "user"), _str(body, "password")
    user = bench.users.get(name)
    ok = user is not None and await asyncio.to_thread(is_password, password, user.password)
    if not ok:
        raise NotLoggedIn("unknown user or wrong password")
    token = secrets.token_urlsafe(32)
    bench.sessions[token] = name
    response = web.json_response({"user": name})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
    return response


async def _logout(request: web.Request) -> web.StreamResponse:
    _bench(request).sessions.pop(request.cookies.get(COOKIE, ""), None)
    response = web.json_response({})
    response.del_cookie(COOKIE)
    return response


async def _me(request: web.Request) -> web.StreamResponse:
    bench = _bench(request)
    user = bench.user(request)
    projects = [{"name": p, "role": user.role(p), "files": bench.projects.files(p)}
                for p in bench.projects.names() if user.role(p) is not None]
    return web.json_response({"user": user.name, "projects": projects,
                              "chain": bench.chain is not None,
                              "signer": bench.chain is not None and bench.chain.key is not None})


# --- files and the toolchain --------------------------------------------------------------
async def _read_file(request: web.Request) -> web.StreamResponse:
    bench = _bench(request)
    project, file = request.query.get("project", ""), request.query.get("file", "")
    user = bench.member(request, project, "viewer")
    return web.json_response({"text": bench.projects.read(project, file),
                              "role": user.role(project)})


async def _write_file(request: web.Request) -> web.StreamResponse:
    bench, body = _bench(request), await _body(request)
    project, file, text = _str(body, "project"), _str(body, "file"), _str(body, "text")
    bench.member(request, project, "editor")
    bench.projects.write(project, file, text)
    return web.json_response({"saved": file})


async def _tool(request: web.Request) -> web.StreamResponse:
    """compile, test, verify, check or debug the text sent (the editor's, saved or not)."""
    bench, body = _bench(request), await _body(request)
    project, file, text = _str(body, "project"), _str(body, "file"), _str(body, "text")
    bench.member(request, project, "viewer")
    bench.projects.path(project, file)  # a plain .qi name
    require_size(text, file)
    action = request.path.rsplit("/", 1)[1]
    if action == "compile":
        opt = body.get("opt", 1)
        if opt not in toolchain.OPT_LEVELS:
            raise BadRequest(f"`opt` must be one of {toolchain.OPT_LEVELS}")
        out = await asyncio.to_thread(toolchain.compile_file, text, file, opt)
    elif action == "test":
        out = await asyncio.to_thread(toolchain.test_file, text, file)
    elif action == "verify":
        out = await asyncio.to_thread(toolchain.verify_file, text, file)
    elif action == "debug":
        call, test = body.get("call"), body.get("test")
        if not ((isinstance(call, str) and test is None)
                or (isinstance(test, str) and call is None)):
            raise BadRequest("give either `call` (\"method(args)\") or `test` (a name)")
        out = await asyncio.to_thread(toolchain.debug_file, text, file, call, test,
                                      _args(body))
    else:
        folder = bench.projects.folder(project)
        out = await asyncio.to_thread(toolchain.check_file, text, file, folder)
    return web.json_response(out)


async def _lsp(request: web.Request) -> web.StreamResponse:
    """The language server core behind a websocket: one protocol message per text frame,
    each way. The detectors run with the project's rules; any member may connect."""
    bench = _bench(request)
    project = request.query.get("project", "")
    bench.member(request, project, "viewer")
    _same_origin(request)
    rules = await asyncio.to_thread(project_rules, bench.projects.folder(project))
    server = LanguageServer([editor_notes(rules)])
    ws = web.WebSocketResponse(max_msg_size=2 * MAX_SOURCE_BYTES)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            break
        data = msg.data.encode()
        reply = await asyncio.to_thread(server.receive, encode_frame(data))
        for body in FrameReader().feed(reply):
            if isinstance(body, bytes):
                await ws.send_str(body.decode())
        if server.exit_code is not None:
            break
    await ws.close()
    return ws


async def _collab(request: web.Request) -> web.StreamResponse:
    """The shared document of one file (see collab.py): editors and owners edit it,
    viewers follow it."""
    bench = _bench(request)
    project, file = request.match_info["project"], request.match_info["file"]
    user = bench.member(request, project, "viewer")
    _same_origin(request)
    saved = bench.projects.read(project, file)
    return await bench.rooms.serve(request, f"{project}/{file}", saved,
                                   user.role(project) == "viewer")


def _same_origin(request: web.Request) -> None:
    if request.headers.get("Origin") not in (None, f"{request.scheme}://{request.host}"):
        raise Forbidden("this websocket only serves this workbench's own page")


# --- the chain ----------------------------------------------------------------------------
async def _deployments(request: web.Request) -> web.StreamResponse:
    bench = _bench(request)
    project = request.query.get("project", "")
    bench.member(request, project, "viewer")
    return web.json_response(bench.projects.deployments(project))


async def _saved_build(bench: Workbench, body: dict[str, Any]) -> tuple[str, str, Any]:
    """The project, file and build of the saved file a deploy or upgrade names."""
    project, file = _str(body, "project"), _str(body, "file")
    opt = body.get("opt", 1)
    if opt not in toolchain.OPT_LEVELS:
        raise BadRequest(f"`opt` must be one of {toolchain.OPT_LEVELS}")
    text = bench.projects.read(project, file)
    try:
        art = await asyncio.to_thread(compile_source, text, file, opt)
    except CompileError as exc:
        first = exc.diagnostics[0]
        raise BadRequest(f"{file} does not compile: {first.span}: {first.message}") from exc
    return project, file, art


async def _deploy(request: web.Request) -> web.StreamResponse:
    bench, body = _bench(request), await _body(request)
    bench.member(request, _str(body, "project"), "editor")
    chain = bench.need_chain()
    project, file, art = await _saved_build(bench, body)
    args = _args(body)
    out = await asyncio.to_thread(chain.locked, lambda: chain.deploy(art, args))
    bench.projects.record_deployment(project, {
        "address": out["contract"], "file": file, "contract": art.abi["contract"],
        "code_hash": art.code_hash, "tx_hash": out["tx_hash"], "abi": art.abi})
    return web.json_response(out)


def _deployment(bench: Workbench, project: str, address: str) -> dict[str, Any]:
    found = next((d for d in bench.projects.deployments(project)
                  if d["address"] == address.removeprefix("0x")), None)
    if found is None:
        raise BadRequest(f"{address} is not a contract deployed from {project}")
    return found


async def _call(request: web.Request) -> web.StreamResponse:
    """A view method is queried (any member); any other is a transaction (editor)."""
    bench, body = _bench(request), await _body(request)
    project, fn, args = _str(body, "project"), _str(body, "fn"), _args(body)
    user = bench.member(request, project, "viewer")
    chain = bench.need_chain()
    entry = _deployment(bench, project, _str(body, "address"))
    spec = next((f for f in entry["abi"]["functions"] if f["name"] == fn), None)
    if spec is None or not spec.get("public", True) or spec["kind"] != "fn":
        raise BadRequest(f"`{fn}` is not a public function of {entry['contract']}")
    if not spec.get("view"):
        user.require(project, "editor")
    address = hex_bytes(entry["address"], None, "address")
    out = await asyncio.to_thread(chain.locked,
                                  lambda: chain.call(address, entry["abi"], fn, args))
    return web.json_response(out)


async def _upgrade(request: web.Request) -> web.StreamResponse:
    bench, body = _bench(request), await _body(request)
    bench.member(request, _str(body, "project"), "owner")
    chain = bench.need_chain()
    project, file, art = await _saved_build(bench, body)
    entry = _deployment(bench, project, _str(body, "address"))
    address = hex_bytes(entry["address"], None, "address")
    out = await asyncio.to_thread(chain.locked,
                                  lambda: chain.upgrade(address, entry["abi"], art))
    bench.projects.record_deployment(project, {
        **entry, "file": file, "contract": art.abi["contract"], "code_hash": art.code_hash,
        "tx_hash": out["tx_hash"], "abi": art.abi})
    return web.json_response(out)


def _known_abis(bench: Workbench) -> dict[str, dict[str, Any]]:
    return {d["address"]: d["abi"] for p in bench.projects.names()
            for d in bench.projects.deployments(p)}


async def _explore(request: web.Request, read: Callable[[Chain], dict[str, Any]]
                   ) -> web.StreamResponse:
    bench = _bench(request)
    bench.user(request)
    chain = bench.need_chain()
    return web.json_response(await asyncio.to_thread(chain.locked, lambda: read(chain)))


async def _overview(request: web.Request) -> web.StreamResponse:
    return await _explore(request, lambda c: c.overview())


async def _block(request: web.Request) -> web.StreamResponse:
    text = request.match_info["height"]
    if not text.isdigit():
        raise BadRequest(f"{text!r} is not a block height")
    return await _explore(request, lambda c: c.block(int(text)))


async def _tx(request: web.Request) -> web.StreamResponse:
    tx_hash = hex_bytes(request.match_info["hash"], 32, "transaction hash")
    abis = _known_abis(_bench(request))
    return await _explore(request, lambda c: c.transaction(tx_hash, abis))


async def _account(request: web.Request) -> web.StreamResponse:
    address = hex_bytes(request.match_info["address"], 20, "address")
    return await _explore(request, lambda c: c.account(address))


async def _contract(request: web.Request) -> web.StreamResponse:
    address = hex_bytes(request.match_info["address"], 20, "address")
    return await _explore(request, lambda c: c.contract(address))


_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/", _index),
    ("POST", "/api/login", _login),
    ("POST", "/api/logout", _logout),
    ("GET", "/api/me", _me),
    ("GET", "/api/file", _read_file),
    ("PUT", "/api/file", _write_file),
    *[("POST", f"/api/{action}", _tool) for action in ("compile", "test", "verify", "check",
                                                          "debug")],
    ("GET", "/lsp", _lsp),
    ("GET", "/collab/{project}/{file:.+}", _collab),
    ("GET", "/api/deployments", _deployments),
    ("POST", "/api/deploy", _deploy),
    ("POST", "/api/call", _call),
    ("POST", "/api/upgrade", _upgrade),
    ("GET", "/api/chain", _overview),
    ("GET", "/api/chain/block/{height}", _block),
    ("GET", "/api/chain/tx/{hash}", _tx),
    ("GET", "/api/chain/account/{address}", _account),
    ("GET", "/api/chain/contract/{address}", _contract),
]
