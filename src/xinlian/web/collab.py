"""Several people editing one file at once: a Yjs document per open file, kept by the
workbench (pycrdt-websocket) and synchronised with each browser's editor (y-websocket and
y-codemirror.next), which also carries each user's cursor and name (awareness).

A room is named `project/file` and seeded, the first time it is opened, with the saved
file; it lives as long as the server, so edits not yet saved survive a reconnect. Saving
stays an explicit step (the Save button writes the editor's text, which is the room's).
A viewer's connection may ask for the document and send presence, but its document
updates are dropped here, before the room sees them: the editor is read-only for them and
a hand-made client gets nowhere either.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WSMsgType, web
from pycrdt import Doc, Text, YMessageType, YSyncMessageType
from pycrdt.websocket import WebsocketServer, YRoom

TEXT = "source"  # the shared text's name in each document (as the page's editor reads it)
_WRITES = (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE)


def is_document_write(message: bytes) -> bool:
    """Whether a y-protocols message changes the document (a sync step 2 or an update)."""
    return len(message) > 1 and message[0] == YMessageType.SYNC and message[1] in _WRITES


class Channel:
    """One browser's websocket as the channel pycrdt-websocket serves."""

    def __init__(self, ws: web.WebSocketResponse, path: str, read_only: bool) -> None:
        self.ws = ws
        self._path = path
        self.read_only = read_only

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> Channel:
        return self

    async def __anext__(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type != WSMsgType.BINARY:
                raise StopAsyncIteration
            data = bytes(msg.data)
            if not (self.read_only and is_document_write(data)):
                return data

    async def send(self, message: bytes) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(message)

    async def recv(self) -> bytes:
        return await self.__anext__()


class Rooms:
    """The shared documents of the open files, served over websockets."""

    def __init__(self) -> None:
        self.server = WebsocketServer(auto_clean_rooms=False)
        self.task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.start())
        await self.server.started.wait()

    async def stop(self) -> None:
        await self.server.stop()
        if self.task is not None:
            await self.task

    def room(self, name: str, saved: str) -> YRoom:
        """The room of file `name`, made from its saved text if it is not open yet."""
        room = self.server.rooms.get(name)
        if room is None:
            doc: Doc[Text] = Doc()
            doc[TEXT] = Text(saved)
            room = self.server.rooms[name] = YRoom(ydoc=doc, log=self.server.log)
        return room

    async def serve(self, request: web.Request, name: str, saved: str, read_only: bool
                    ) -> web.WebSocketResponse:
        self.room(name, saved)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self.server.serve(Channel(ws, name, read_only))
        await ws.close()
        return ws
