"""docs/privacy.md, "Anonymous transfers": the library example runs as written and prints
what the page says (registration, shields, a ring spend, scanning, the double spend's
key image, a typed error for another ring, and the regulator's blinded 2-of-3 opening,
unreadable without the requester's rhos)."""

from __future__ import annotations

from .test_privacy_doc import prints_what_the_page_says


def test_the_anonymous_transfer_example_prints_what_the_page_says() -> None:
    prints_what_the_page_says("Anonymous transfers")
