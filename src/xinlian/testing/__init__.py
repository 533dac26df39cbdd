"""Harnesses for tests, benchmarks and the demo commands: simulation campaigns, Byzantine
behaviours, local committees and clusters, performance models. Protocol code never imports
this package."""
