"""The answer checker's worker process: imports math-verify once, then answers one check per line.

Started by `grading.checker` as `python -I -c BOOT PACKAGE_ROOT`. Protocol: after its imports it writes
`{"ready": true}`; then for each request line `{"p": prediction, "g": gold, "x": exact_shortcut}` it writes
`{"ok": bool}` or `{"error": "..."}`. Replies go to a private copy of the original stdout; fd 1 is pointed at
stderr (/dev/null) so a library that prints cannot corrupt the protocol. No timeout here: the parent kills
this process when a check runs too long, which is why math-verify's signal-based timeouts are off.
"""

from __future__ import annotations

import json
import os
import sys

MEMORY_LIMIT_BYTES = 4 << 30  # sympy can grow without bound on hostile input; fail the check instead


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the parent's timeout still applies


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _limit_memory()
    if hasattr(os, "nice"):
        os.nice(10)  # beside a bench, llama.cpp's threads keep their cores; a checker waits a moment instead

    from mathcoder_local.grading.equivalence import answers_match

    answers_match("\\frac{1}{2}", "0.5")  # warm up: the first parse builds math-verify's parser tables
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            ok = answers_match(request["p"], request["g"], exact_shortcut=request.get("x", True))
            reply: dict[str, object] = {"ok": bool(ok)}
        except Exception as exc:  # one bad answer (RecursionError, MemoryError, ...) must not end the worker
            reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
