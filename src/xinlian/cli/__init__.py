"""The xinlian command."""
