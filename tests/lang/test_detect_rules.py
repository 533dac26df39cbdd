"""User-defined detectors: `.qi-rules/*.toml` rules over the IR, and the typed errors of
malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.lang.detect import find_issues, project_rules
from xinlian.lang.detect_rules import RuleError, parse_rules

PAUSE_RULE = """
[[rule]]
id = "pause-unguarded"
severity = "high"
title = "pause switch without an owner check"
description = "Anyone can pause the contract."
message = "writes `paused` with no condition on caller()"

[rule.match]
node = "state_write"
name = "paused"

[rule.function]
public = true

[rule.unless]
node = "host"
name = "caller"
in_condition = true
"""

CONTRACT = """
contract C {
    state owner: address;
    state paused: bool;
    pub fn pause() { paused = true; }
    pub fn admin_pause() { require(caller() == owner, "owner"); paused = true; }
    pub view fn is_paused() -> bool { return paused; }
}
"""


def test_rule_flags_only_the_unguarded_function() -> None:
    rules = parse_rules(PAUSE_RULE, "r.toml")
    hits = [f for f in find_issues(CONTRACT, "c.qi", rules=rules)
            if f.detector == "pause-unguarded"]
    assert [(f.function, f.line, f.severity) for f in hits] == [("pause", 5, "high")]
    assert "caller()" in hits[0].message


def test_after_pattern_orders_nodes() -> None:
    rule = """
[[rule]]
id = "emit-after-call"
severity = "low"
description = "an event after an external call"
[rule.match]
node = "emit"
[rule.after]
node = "ext_call"
name = "Feed.*"
"""
    src = """
interface Feed { fn price() -> u64; }
contract C {
    state feed: address;
    event Seen(p: u64);
    pub fn before() { emit Seen(1); let p = Feed(feed).price(); require(p > 0, "zero"); }
    pub fn after() { let p = Feed(feed).price(); emit Seen(p); }
}
"""
    hits = [f for f in find_issues(src, "c.qi", rules=parse_rules(rule, "r.toml"))
            if f.detector == "emit-after-call"]
    assert [f.function for f in hits] == ["after"]


def test_project_rules_found_above_the_file(tmp_path: Path) -> None:
    (tmp_path / ".qi-rules").mkdir()
    (tmp_path / ".qi-rules" / "pause.toml").write_text(PAUSE_RULE)
    sub = tmp_path / "contracts"
    sub.mkdir()
    rules = project_rules(sub)
    assert [d.id for d in rules] == ["pause-unguarded"]
    assert [d.id for d in project_rules(tmp_path / "nowhere")] == ["pause-unguarded"]


@pytest.mark.parametrize("text, why", [
    ("[[rule]\nid = 1", "not valid TOML"),
    ("title = 'x'", "unknown top-level key"),
    ("[[rule]]\nid = 'a-rule'\nseverity = 'high'\ndescription = 'd'", "missing `match`"),
    ("[[rule]]\nid = 'Bad Id'\nseverity = 'high'\ndescription = 'd'\n[rule.match]\n"
     "node = 'emit'", "id `Bad Id`"),
    ("[[rule]]\nid = 'a-rule'\nseverity = 'fatal'\ndescription = 'd'\n[rule.match]\n"
     "node = 'emit'", "severity `fatal`"),
    ("[[rule]]\nid = 'a-rule'\nseverity = 'low'\ndescription = 'd'\n[rule.match]\n"
     "node = 'goto'", "node `goto`"),
    ("[[rule]]\nid = 'a-rule'\nseverity = 'low'\ndescription = 'd'\nwhen = 1\n"
     "[rule.match]\nnode = 'emit'", "unknown key(s) when"),
    ("[[rule]]\nid = 'a-rule'\nseverity = 'low'\ndescription = 'd'\n[rule.match]\n"
     "node = 'emit'\nin_condition = 'yes'", "in_condition"),
    ("[[rule]]\nid = 'a-rule'\nseverity = 'low'\ndescription = 'd'\n[rule.match]\n"
     "node = 'emit'\n[rule.function]\nkind = 'lambda'", "function.kind"),
    ("[[rule]]\nid = 'tautology'\nseverity = 'low'\ndescription = 'd'\n[rule.match]\n"
     "node = 'emit'", "already taken"),
])
def test_invalid_rules_get_a_typed_error(text: str, why: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rules(text, "bad.toml", taken={"tautology"})
    assert err.value.code == 7230 and err.value.name == "bad_detector_rule"
    assert why in str(err.value) and "bad.toml" in str(err.value)


def test_invalid_only_names_the_unknown_detector() -> None:
    with pytest.raises(RuleError, match="no-such-detector"):
        find_issues(CONTRACT, "c.qi", only=["no-such-detector"])
