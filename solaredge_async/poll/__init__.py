"""Keep a fleet current."""
