"""The Textual terminal app: solve, history, settings, bench browser."""
