"""Who may upgrade a contract: the rule its `upgrade ...;` clause declares.

The compiler writes the rule into the ABI's `upgrade` entry and the chain's contract
executor reads it back from the ABI stored with the deployed code (so the rule in force is
the one of the code running now; an upgrade may change it for the next one):

- `{"rule": "admin"}` (also when the entry is absent): the contract's admin, its deployer
  until the admin hands the role on;
- `{"rule": "governance"}`: an UpgradeContract proposal approved by > 2/3 of organisations;
- `{"rule": "approvals", "threshold": k, "approvers": ["<40 hex>", ...]}`: k distinct
  listed addresses approve the same code through UPGRADE transactions;
- `{"rule": "never"}`: immutable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xinlian.lang.types import ADDRESS_LEN

RULES = ("admin", "governance", "approvals", "never")
MAX_APPROVERS = 32  # bounds the approval record every approving transaction rewrites


@dataclass(frozen=True)
class UpgradeRule:
    kind: str = "admin"
    threshold: int = 0
    approvers: tuple[bytes, ...] = ()

    def problem(self) -> str | None:
        """Why the rule is not valid, or None."""
        if self.kind not in RULES:
            return f"unknown upgrade rule `{self.kind}` (one of {', '.join(RULES)})"
        if self.kind != "approvals":
            return None if not self.approvers and not self.threshold else \
                f"`upgrade by {self.kind}` takes no approvers"
        if not 0 < len(self.approvers) <= MAX_APPROVERS:
            return f"`approvals` lists 1 to {MAX_APPROVERS} addresses"
        if any(len(a) != ADDRESS_LEN for a in self.approvers):
            return f"an approver is an address of {ADDRESS_LEN} bytes"
        if len(set(self.approvers)) != len(self.approvers):
            return "an approver is listed twice"
        if not 0 < self.threshold <= len(self.approvers):
            return (f"the threshold {self.threshold} is not between 1 and the number of "
                    f"approvers ({len(self.approvers)})")
        return None

    def to_json(self) -> dict[str, Any]:
        if self.kind != "approvals":
            return {"rule": self.kind}
        return {"rule": self.kind, "threshold": self.threshold,
                "approvers": [a.hex() for a in self.approvers]}

    @classmethod
    def from_json(cls, j: Any) -> UpgradeRule:
        """The rule of an ABI's `upgrade` entry (None: the default); ValueError if it is
        malformed or not valid."""
        if j is None:
            return cls()
        if not isinstance(j, dict) or not isinstance(j.get("rule"), str):
            raise ValueError("the ABI's `upgrade` entry must be an object with a `rule`")
        approvers = j.get("approvers", [])
        threshold = j.get("threshold", 0)
        if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers) \
                or isinstance(threshold, bool) or not isinstance(threshold, int):
            raise ValueError("`approvers` must be a list of hex addresses, `threshold` an int")
        rule = cls(j["rule"], threshold, tuple(bytes.fromhex(a) for a in approvers))
        problem = rule.problem()
        if problem is not None:
            raise ValueError(problem)
        return rule

    def describe(self) -> str:
        if self.kind == "approvals":
            return f"approvals({self.threshold} of {len(self.approvers)})"
        return self.kind
