"""Cryptography: algorithm-tagged keys and suites (sm, intl, pq) behind one interface."""
