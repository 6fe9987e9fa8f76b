"""IPython-style tracebacks without colour codes, as MathCoder's Jupyter kernel showed them to the model.

Imported by worker.py (stdlib only, never the app).
"""

import tokenize
import traceback

CELL_PREFIX = "<cell-"
CONTEXT_PIECES = 2  # IPython's default context: two statements before and after the failing one
MAX_PIECE_LINES = 6  # a longer statement is shown as its first 3 lines, a gap and its last 2
SEPARATOR = "-" * 75
CAUSE = "\nThe above exception was the direct cause of the following exception:\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n"


_OWN_FILES = None


def _own_file(filename):
    """Frames of the worker itself (run_cell, the display) are not the model's and are not shown."""
    global _OWN_FILES
    if _OWN_FILES is None:
        import os

        here = os.path.dirname(os.path.abspath(__file__))
        _OWN_FILES = {os.path.join(here, name) for name in ("worker.py", "worker_display.py", "worker_traceback.py")}
    return filename in _OWN_FILES


def _pieces(lines, first):
    """Statements (logical lines), and the comment lines between two statements taken together, of `lines`
    (numbered from `first`), as stack_data splits source for a traceback's context; blank lines at the ends of
    a run of comments belong to no piece."""
    pieces = []
    start = None  # first line of the statement being read
    chunk = None  # (first, last) comment line since the last statement
    try:
        feed = iter(lines)
        for tok in tokenize.generate_tokens(lambda: next(feed, "")):
            if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.NL):
                continue
            if tok.type == tokenize.COMMENT and start is None:
                chunk = (chunk[0] if chunk else tok.start[0], tok.start[0])
            elif tok.type == tokenize.NEWLINE:
                if start is not None:
                    pieces.append((start, tok.start[0]))
                start = None
            elif start is None:
                if chunk:
                    pieces.append(chunk)
                    chunk = None
                start = tok.start[0]
        if chunk:
            pieces.append(chunk)
        if start is not None:
            pieces.append((start, len(lines)))
    except (tokenize.TokenError, SyntaxError):
        pieces = [(n, n) for n, line in enumerate(lines, 1) if line.strip()]
    return [(a + first - 1, b + first - 1) for a, b in pieces]


def _scope(code, all_lines):
    """(first line, lines) of the code object's own source: a function's or class's block; for the top level,
    comprehensions and lambdas, the whole file."""
    if not code.co_name.startswith("<") and 0 < code.co_firstlineno <= len(all_lines):
        import inspect

        try:
            block = inspect.getblock(all_lines[code.co_firstlineno - 1 :])
            return code.co_firstlineno, block
        except Exception:  # noqa: BLE001
            pass
    if len(all_lines) > 400:  # a library module's top level: a window is enough
        return None
    return 1, all_lines


def _context_lines(code, all_lines, lineno):
    if not all_lines or not 0 < lineno <= len(all_lines):
        return []
    scope = _scope(code, all_lines)
    if scope is not None:
        first, lines = scope
        pieces = [p for p in _pieces(lines, first) if p[0] <= len(all_lines)]
    else:
        pieces = []
    here = [i for i, (a, b) in enumerate(pieces) if a <= lineno <= b]
    if here:
        i = here[0]
        numbers = []
        for a, b in pieces[max(0, i - CONTEXT_PIECES) : i + CONTEXT_PIECES + 1]:
            piece = list(range(a, b + 1))
            if len(piece) > MAX_PIECE_LINES and not a <= lineno <= b:  # a long docstring: its ends and a gap
                piece = piece[:3] + [None] + piece[-(MAX_PIECE_LINES - 4) :]
            numbers += piece
    else:
        numbers = range(max(1, lineno - 3), min(len(all_lines), lineno + 2) + 1)
        numbers = [n for n in numbers if all_lines[n - 1].strip() or n == lineno]
    shown = [(n, all_lines[n - 1].rstrip("\r\n") if n else "") for n in numbers]
    # The lines are dedented together, as stack_data shows them.
    indents = [len(text) - len(text.lstrip()) for _, text in shown if text.strip()]
    cut = min(indents, default=0)
    out = []
    for n, text in shown:
        if n is None:
            out.append("   (...)")
            continue
        text = text[cut:] if not cut or text[:cut].isspace() else text.lstrip()
        num = str(n)
        marker = "-" * max(7 - 2 - len(num), 0) + "> " + num if n == lineno else num.rjust(7)
        out.append(f"{marker} {text}")
    return out


def _frame_entry(frame, lineno, cells):
    import linecache

    code = frame.f_code
    filename = code.co_filename
    if filename.startswith(CELL_PREFIX) and filename.endswith(">"):
        cell_no = filename[len(CELL_PREFIX) : -1]
        link = f"Cell In[{cell_no}], line {lineno}"
        all_lines = cells.get(int(cell_no), "").splitlines(True) if cell_no.isdigit() else []
    else:
        link = f"File {filename}:{lineno}"
        all_lines = linecache.getlines(filename, frame.f_globals)
    head = link
    if code.co_name != "<module>":
        import inspect

        name = getattr(code, "co_qualname", code.co_name)
        try:
            args = inspect.formatargvalues(*inspect.getargvalues(frame), formatvalue=lambda value: "")
        except Exception:  # noqa: BLE001
            args = "(...)"
        head = f"{link}, in {name}{args}"
    body = _context_lines(code, all_lines, lineno)
    return head + "\n" + "".join(line + "\n" for line in body)


def _frames(tb, cells):
    """The formatted frames of one exception, repeated recursion collapsed as IPython does."""
    raw = []
    while tb is not None:
        if not _own_file(tb.tb_frame.f_code.co_filename):
            raw.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    keys = [(f.f_code, n) for f, n in raw]
    counts = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    out, skipped = [], {}
    for (frame, lineno), key in zip(raw, keys, strict=True):
        if counts[key] > 10 and key in skipped:
            skipped[key] += 1
            continue
        if skipped and any(skipped.values()):
            out.append(_skipped_line(skipped))
            skipped = {k: 0 for k in skipped}
        if counts[key] > 10:
            skipped[key] = 0
        out.append(_frame_entry(frame, lineno, cells))
    if skipped and any(skipped.values()):
        out.append(_skipped_line(skipped))
    return out


def _skipped_line(skipped):
    parts = [f"{code.co_name} at line {lineno} ({n} times)" for (code, lineno), n in skipped.items() if n]
    return "    [... skipping similar frames: " + ", ".join(parts) + "]\n"


def exception_line(exc):
    """IPython's last line: the class name (unqualified), a colon and the message, then any notes."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001
        message = f"<unprintable {name} object>"
    line = f"{name}: {message}"
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, (list, tuple)):
        line += "".join("\n" + str(note) for note in notes)
    return line


def _syntax_error(exc, count):
    """A cell that does not compile: where, the line, a caret, the message (Python 3.9's layout)."""
    name = type(exc).__name__
    filename = exc.filename or ""
    if filename.startswith(CELL_PREFIX):
        where = f"Cell In[{filename[len(CELL_PREFIX) : -1]}], line {exc.lineno}"
    else:
        where = f"File {filename}, line {exc.lineno}"
    out = [f"  {where}"]
    text = exc.text
    if text:
        line = text.rstrip("\r\n")
        out.append(f"    {line.strip()}")
        if exc.offset is not None and exc.offset > 0:
            col = min(len(line), exc.offset) - 1
            caret = "".join(c if c.isspace() else " " for c in line[:col].lstrip())
            out.append(f"    {caret}^")
    msg = f"{name}: {exc.msg}"
    out.append(msg)
    return "\n".join(out), msg


def format_traceback(exc, cells, count):
    """An IPython-style traceback without colour codes, as MathCoder's harness joined it (list items joined
    by spaces): the separator, per exception of the chain a header, the frames and its last line. Returns
    (traceback, the stdlib's last line)."""
    try:
        return _format_traceback(exc, cells, count)
    except Exception:  # noqa: BLE001 - a cell that broke what formatting needs still gets its error line
        try:
            line = f"{type(exc).__name__}: {exc}"
        except Exception:  # noqa: BLE001
            line = type(exc).__name__
        return f"{SEPARATOR} {type(exc).__name__:<42}Traceback (most recent call last) {line}", line


def _format_traceback(exc, cells, count):
    last = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, SyntaxError) and (exc.filename or "").startswith(CELL_PREFIX):
        frames = []
        tb = exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        if not any(f.startswith(CELL_PREFIX) for f in frames):  # raised by the compiler, not by running code
            return _syntax_error(exc, count)
    chain, seen, e = [], set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if e.__cause__ is not None:
            chain.append((e, CAUSE))
            e = e.__cause__
        elif e.__context__ is not None and not e.__suppress_context__:
            chain.append((e, CONTEXT))
            e = e.__context__
        else:
            chain.append((e, None))
            e = None
    parts = [SEPARATOR]
    for i, (e, link) in enumerate(reversed(chain)):
        if i:
            parts.append(link)
        parts.append(f"{type(e).__name__:<42}Traceback (most recent call last)")
        parts.extend(_frames(e.__traceback__, cells))
        parts.append(exception_line(e))
    return " ".join(parts), last
