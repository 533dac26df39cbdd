"""Threshold cryptography: DKG with refresh and reshare, FROST and ROAST, threshold BLS and
threshold SM2."""
