"""Privacy schemes: ring signatures (linkable, traceable, revocable) and proxy re-encryption."""
