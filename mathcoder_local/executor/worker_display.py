"""What a cell shows back: the trailing expression's display and IPython-style tracebacks.

Imported by worker.py (stdlib only, never the app); kept apart so the display rules are one module.
"""

import traceback

CELL_PREFIX = "<cell-"


def display_repr(value):
    """Text Jupyter shows for a cell's trailing expression (text/plain is repr for these types)."""
    return repr(value)


def _frame_lines(code_lines, lineno, context=2):
    out = []
    lo, hi = max(1, lineno - context), min(len(code_lines), lineno + context)
    for n in range(lo, hi + 1):
        text = code_lines[n - 1]
        if not text.strip():
            continue
        marker = f"----> {n}" if n == lineno else f"{n:>7}"
        out.append(f"{marker} {text}")
    return out


def format_traceback(exc, cells, count):
    """An IPython-style traceback, without colour codes: the separator, the frames, the last line."""
    name = type(exc).__name__
    last = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, SyntaxError):
        lineno = exc.lineno or 1
        text = (exc.text or "").rstrip("\n")
        caret = " " * max((exc.offset or 1) - 1, 0) + "^"
        msg = f"{name}: {exc.msg}"
        return f"  Cell In[{count}], line {lineno}\n    {text}\n    {caret}\n{msg}", msg
    parts = ["-" * 75, f"{name:<42}Traceback (most recent call last)"]
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop the worker's own exec frame
    for frame in frames:
        if frame.filename.startswith(CELL_PREFIX):
            cell_no = int(frame.filename[len(CELL_PREFIX) : -1])
            lines = cells.get(cell_no, "").splitlines()
            body = "\n".join(_frame_lines(lines, frame.lineno))
            parts.append(f"Cell In[{cell_no}], line {frame.lineno}\n{body}\n")
        else:
            parts.append(f"File {frame.filename}:{frame.lineno}, in {frame.name}\n")
    parts.append(last)
    return " ".join(parts), last
