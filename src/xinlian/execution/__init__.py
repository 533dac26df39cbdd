"""Execution: transaction execution, system contracts and the Wasm engine host."""
