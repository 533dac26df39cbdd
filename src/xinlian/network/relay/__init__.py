"""Relay at scale: a gossipsub-style mesh with lazy transaction pull and compact blocks."""
