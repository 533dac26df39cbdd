"""Node assembly: configuration, services, lifecycle and ordering."""
