"""BFT ordering: a pipelined 2-chain HotStuff (Jolteon) core with Narwhal-style dissemination."""
