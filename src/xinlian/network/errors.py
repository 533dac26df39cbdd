"""The network package's typed errors (68xx, inside the node/API range).

Every error here describes something a remote peer did or a socket did; the transport
catches them at the connection boundary, counts them and closes or drops, so none of them
ever escapes into a protocol core or stops the node.
"""

from __future__ import annotations

from xinlian.errors import XinlianError


class NetworkError(XinlianError):
    code = 6800
    name = "network_error"


class OversizeFrame(NetworkError):
    """A frame header announced more bytes than the connection's hard limit."""

    code = 6801
    name = "oversize_frame"


class MalformedFrame(NetworkError):
    """Bytes that do not parse as a frame, handshake message or record."""

    code = 6802
    name = "malformed_frame"


class HandshakeError(NetworkError):
    """The handshake failed: wrong suite or version, bad key agreement, timeout."""

    code = 6803
    name = "handshake_failed"


class Unauthenticated(HandshakeError):
    """The peer's key is unknown, is not the expected one, or its signature is invalid."""

    code = 6804
    name = "unauthenticated"


class DecryptFailed(NetworkError):
    """A record failed AEAD authentication (tampered, truncated or under another key)."""

    code = 6805
    name = "decrypt_failed"


class ReplayedRecord(NetworkError):
    """A record whose counter is not above the last accepted one (replayed or reordered)."""

    code = 6806
    name = "replayed_record"


class CertificateRefused(Unauthenticated):
    """The peer's membership certificate does not hold: bad signature, unknown issuer,
    wrong chain, role or subject key."""

    code = 6807
    name = "certificate_refused"


class CertificateExpired(CertificateRefused):
    """The certificate's validity window does not contain the node's clock (with skew)."""

    code = 6808
    name = "certificate_expired"


class CertificateRevoked(CertificateRefused):
    """The certificate's serial is on its organisation's revocation list."""

    code = 6809
    name = "certificate_revoked"


class ClassicalIdentity(Unauthenticated):
    """A classical-only identity key (SM2, Ed25519) on a post-quantum network."""

    code = 6810
    name = "classical_identity"


class MalformedRelayMessage(NetworkError):
    """A relay message that does not decode: bad MessagePack, wrong schema, oversize."""

    code = 6811
    name = "malformed_relay_message"


class UnsupportedRelayVersion(MalformedRelayMessage):
    """A relay message whose version byte this node does not speak."""

    code = 6812
    name = "unsupported_relay_version"


class AnchorsCorrupt(NetworkError):
    """The persisted anchor connections do not decode (a damaged or foreign file)."""

    code = 6813
    name = "anchors_corrupt"


class BadPeerAddress(NetworkError):
    """A peer address that is not an IP literal with a port in 1..65535."""

    code = 6814
    name = "bad_peer_address"
