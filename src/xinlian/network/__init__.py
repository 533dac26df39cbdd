"""The network runtime: authenticated encrypted channels over asyncio TCP, and the runtime
that drives sans-I/O protocol cores (xinlian.protocol) over them. See docs/network.md."""
