"""Two-party secure computation by garbled circuits: half-gates with free-XOR over Bristol-
fashion circuits, the evaluator's inputs by IKNP OT extension (docs/privacy.md)."""
