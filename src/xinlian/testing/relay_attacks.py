"""Dishonest relay nodes for simulation: a real `RelayCore` whose sends are rewritten.

Each behaviour wraps an honest core (which keeps receiving, storing and announcing as
usual) and changes what leaves it, so the attacker looks like a normal peer to every
check except the one its misbehaviour should trip:

- `drop`: announces (IHave, BlockHave) and requests as usual, never serves a body
  (Txs, Compact, BlockTxs) -- promises broken;
- `delay`: holds every message except Hello/Graft/Prune for `delay_ms` before sending;
- `tamper`: flips a byte of every body it serves and of every compact block's short ids;
- `replay`: relays honestly, and at each heartbeat also re-sends `replay_per_beat`
  body messages it received earlier to random peers (unsolicited copies);
- `flood` (a DDoS, not a dishonest relay): at each heartbeat asks each peer again for
  the `flood_ids` bodies it heard of last (IWant) and for every transaction of every
  block it holds (GetBlockTxs) -- small requests, large answers.

All randomness is the seeded generator passed in. Protocol code never imports this.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence

from xinlian.network.relay.core import HEARTBEAT, RelayCore
from xinlian.network.relay.messages import (
    MAX_IDS,
    BlockTxs,
    Compact,
    GetBlockTxs,
    IHave,
    IWant,
    Txs,
    decode_message,
    encode_message,
)
from xinlian.protocol import Action, Event, Receive, Send, SetTimer, Timeout

BEHAVIOURS = ("drop", "delay", "tamper", "replay", "flood")
_HELLO, _GRAFT, _PRUNE, _IHAVE, _TXS, _BLOCK_HAVE, _COMPACT, _BLOCK_TXS = 1, 2, 3, 4, 6, 7, 9, 11
_BODIES = (_TXS, _COMPACT, _BLOCK_TXS)
_DELAY = "attack-delay-"


def message_tag(message: bytes) -> int:
    """The relay message's tag: after the version byte, a MessagePack fixarray header."""
    return message[2] if len(message) > 2 else -1


def _flip(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 0x01])


def tamper(message: bytes) -> bytes:
    """The message with every body (or the short ids) altered by one bit."""
    decoded = decode_message(message)
    if isinstance(decoded, Txs):
        return encode_message(Txs([_flip(tx) for tx in decoded.txs]))
    if isinstance(decoded, BlockTxs):
        return encode_message(BlockTxs(decoded.block_id, decoded.indexes,
                                       [_flip(tx) for tx in decoded.txs]))
    if isinstance(decoded, Compact) and decoded.short_ids:
        return encode_message(Compact(decoded.block_id, decoded.header, decoded.txs_digest,
                                      _flip(decoded.short_ids)))
    return message


class Dishonest:
    """A relay node with one of `BEHAVIOURS` (see the module docstring)."""

    def __init__(self, core: RelayCore, behaviour: str, rng: random.Random,
                 delay_ms: int = 3_000, replay_per_beat: int = 4,
                 flood_ids: int = 200) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.core = core
        self.behaviour = behaviour
        self._rng = rng
        self.delay_ms = delay_ms
        self.replay_per_beat = replay_per_beat
        self.flood_ids = flood_ids
        self._held: dict[str, list[Action]] = {}
        self._timers = 0
        self._recorded: deque[bytes] = deque(maxlen=256)
        self._heard: deque[bytes] = deque(maxlen=MAX_IDS)  # announced ids, for the flood

    @property
    def node(self) -> bytes:
        return self.core.node

    def handle(self, event: Event) -> Sequence[Action]:
        if isinstance(event, Timeout) and event.timer.startswith(_DELAY):
            return self._held.pop(event.timer, [])
        if isinstance(event, Receive):
            self._observe(event.message)
        actions = list(self.core.handle(event))
        extra: list[Action] = []
        if isinstance(event, Timeout) and event.timer == HEARTBEAT:
            extra = self._on_beat()
        return self._rewrite(event.now_ms, actions) + extra

    def _observe(self, message: bytes) -> None:
        tag = message_tag(message)
        if self.behaviour == "replay" and tag in _BODIES:
            self._recorded.append(message)
        elif self.behaviour == "flood" and tag == _IHAVE:
            decoded = decode_message(message)
            assert isinstance(decoded, IHave)
            self._heard.extend(decoded.ids)

    def _peers(self) -> list[bytes]:
        return sorted(self.core.peers)

    def _on_beat(self) -> list[Action]:
        peers = self._peers()
        if not peers:
            return []
        if self.behaviour == "replay" and self._recorded:
            return [Send(self._rng.choice(peers), self._rng.choice(self._recorded))
                    for _ in range(self.replay_per_beat)]
        if self.behaviour == "flood":
            return self._flood(peers)
        return []

    def _flood(self, peers: list[bytes]) -> list[Action]:
        out: list[Action] = []
        recent = list(dict.fromkeys(self._heard))[-self.flood_ids:]
        want = encode_message(IWant(recent)) if recent else None
        blocks = [(ident, len(b.txs)) for ident, b in self.core.blocks.items()]
        for peer in peers:
            if want is not None:
                out.append(Send(peer, want))
            for ident, n in blocks:
                out.append(Send(peer, encode_message(GetBlockTxs(ident, list(range(n))))))
        return out

    def _rewrite(self, now: int, actions: list[Action]) -> list[Action]:
        if self.behaviour in ("replay", "flood"):
            return actions
        out: list[Action] = []
        held: list[Action] = []
        for action in actions:
            if not isinstance(action, Send):
                out.append(action)
                continue
            tag = message_tag(action.message)
            if self.behaviour == "drop":
                if tag not in _BODIES:
                    out.append(action)
            elif self.behaviour == "tamper":
                out.append(Send(action.to, tamper(action.message)) if tag in _BODIES
                           else action)
            elif tag in (_HELLO, _GRAFT, _PRUNE):  # delay
                out.append(action)
            else:
                held.append(action)
        if held:
            self._timers += 1
            name = f"{_DELAY}{self._timers}"
            self._held[name] = held
            out.append(SetTimer(name, now + self.delay_ms))
        return out
