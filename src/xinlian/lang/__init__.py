"""Qi (契): the contract language compiler, source to WebAssembly."""
