"""grading (issue 5)."""
