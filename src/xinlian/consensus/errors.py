"""The consensus package's typed errors (91xx).

Cores never raise these out of `handle`: a message that fails validation is dropped and
counted. They are raised to callers that build committees, keys and messages directly.
"""

from __future__ import annotations

from xinlian.errors import XinlianError


class ConsensusError(XinlianError):
    code = 9100
    name = "consensus_error"


class InvalidCommittee(ConsensusError):
    """An empty committee, duplicate members, bad keys or a failing proof of possession."""

    code = 9101
    name = "invalid_committee"


class InvalidMessage(ConsensusError):
    """A message that decodes but breaks a protocol rule (wrong epoch, round, leader, link)."""

    code = 9102
    name = "invalid_message"


class InvalidCertificate(ConsensusError):
    """A certificate whose signer bitmap, voting power or signature does not check out."""

    code = 9103
    name = "invalid_certificate"
