"""The Wasm engine host: wasmtime with fuel, memory limits and the host API."""
