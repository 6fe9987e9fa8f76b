"""datasets (issue 5)."""
