"""Reverts are reported as Qi writes the error (`TooBig(limit: 100)`), whatever the
argument types, in the engine error's message and its dict."""

from __future__ import annotations

from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import RevertError

SRC = """
enum Side { Buy, Sell }
struct Order { side: Side, qty: u32, who: address }
contract C {
    error Rejected(note: string, o: Order, tags: list<u8>, raw: bytes, ok: bool, v: i16, m: u64?);
    pub fn go() {
        let who = address(hex"00000000000000000000000000000000000000b0");
        let o = Order { side: Side::Sell, qty: 7, who: who };
        revert Rejected("no \\"way\\"", o, [1, 2], hex"beef", false, -3, none);
    }
    pub fn plain(x: u64) { require(x > 1, "x too small"); }
}
"""


def test_revert_message_uses_qi_syntax() -> None:
    ch = LocalChain()
    c = ch.deploy(compile_source(SRC, "r.qi"))
    err = ch.call(c, "go").error
    assert isinstance(err, RevertError) and err.error_name == "Rejected"
    assert err.message.splitlines()[0] == (
        'Rejected(note: "no \\"way\\"", o: Order { side: Side::Sell, qty: 7, who: 0x'
        + "00" * 19 + 'b0 }, tags: [1, 2], raw: hex"beef", ok: false, v: -3, m: none)')
    assert err.to_dict()["error"] == "Rejected"
    plain = ch.call(c, "plain", 0).error
    assert isinstance(plain, RevertError)
    assert plain.message.splitlines()[0] == 'Error(reason: "x too small")'
