"""Errors meant for the user: the CLI prints their message as one line and exits non-zero."""


class UserError(Exception):
    """Bad input or environment; the message says what is wrong and what to do."""

    exit_code = 2


class GrammarError(UserError):
    """A GBNF grammar that llama.cpp would reject (or crash on)."""
