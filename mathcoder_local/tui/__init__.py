"""The Textual terminal app (issue 7)."""
