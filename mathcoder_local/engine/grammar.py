"""GBNF validation before anything reaches llama.cpp.

llama.cpp returns NULL for some bad grammars and aborts the whole process for others, so a grammar is checked
first: rules are well formed, every referenced rule is defined, `root` exists, and every token
reference (`<|code|>`, `!<|code|>`, `<[42]>`) names exactly one token of this model's vocabulary.
"""

from __future__ import annotations

import re
from typing import Callable

from mathcoder_local.errors import GrammarError

_LEX = re.compile(
    r"""
    (?P<ws>[ \t]+|\#[^\n]*)
  | (?P<nl>\r?\n)
  | (?P<define>::=)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<charclass>\[(?:\\.|[^\]\\\n])*\])
  | (?P<token>!?<(?:\[\d+\]|[^>\n]+)>)
  | (?P<name>[A-Za-z][A-Za-z0-9-]*)
  | (?P<op>[()|*+?.]|\{\d*(?:,\d*)?\})
    """,
    re.VERBOSE,
)


def validate_gbnf(grammar: str, token_id: Callable[[str], int | None], n_vocab: int) -> None:
    """Raise GrammarError with a one-line reason unless llama.cpp can safely load `grammar`."""
    defined: dict[str, int] = {}
    referenced: dict[str, int] = {}
    pos, line, depth = 0, 1, 0
    expect_rule_start = True
    while pos < len(grammar):
        m = _LEX.match(grammar, pos)
        if m is None:
            raise GrammarError(f"grammar line {line}: cannot parse {grammar[pos : pos + 20]!r}")
        kind, text = m.lastgroup, m.group()
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "nl":
            line += 1
            if depth == 0:
                expect_rule_start = True
            continue
        if expect_rule_start:
            if kind != "name":
                raise GrammarError(f"grammar line {line}: expected a rule name, got {text!r}")
            m2 = re.compile(r"[ \t]*::=").match(grammar, pos)
            if m2 is None:
                raise GrammarError(f"grammar line {line}: expected '::=' after rule name {text!r}")
            if text in defined:
                raise GrammarError(f"grammar line {line}: rule {text!r} is defined twice")
            defined[text] = line
            pos = m2.end()
            expect_rule_start = False
            continue
        if kind == "define":
            raise GrammarError(f"grammar line {line}: unexpected '::='")
        if kind == "name":
            referenced.setdefault(text, line)
        elif kind == "op" and text == "(":
            depth += 1
        elif kind == "op" and text == ")":
            depth -= 1
            if depth < 0:
                raise GrammarError(f"grammar line {line}: unbalanced ')'")
        elif kind == "token":
            _check_token(text.lstrip("!"), token_id, n_vocab, line)
    if depth != 0:
        raise GrammarError("grammar: unbalanced '('")
    if "root" not in defined:
        raise GrammarError("grammar has no 'root' rule")
    for name, at in referenced.items():
        if name not in defined:
            raise GrammarError(f"grammar line {at}: rule {name!r} is used but never defined")


def _check_token(ref: str, token_id: Callable[[str], int | None], n_vocab: int, line: int) -> None:
    inner = ref[1:-1]
    if inner.startswith("[") and inner.endswith("]"):
        if int(inner[1:-1]) >= n_vocab:
            raise GrammarError(f"grammar line {line}: token id {inner[1:-1]} is outside the vocabulary")
        return
    if token_id(ref) is None:
        raise GrammarError(f"grammar line {line}: {ref} is not a single token of this model's vocabulary")
