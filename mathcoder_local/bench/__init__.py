"""bench (issue 5)."""
