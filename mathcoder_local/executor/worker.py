"""The executor's worker process: runs model-written code, one session, never inside the app.

Started as `python -I worker.py CONFIG_JSON` by `executor.session`. It imports nothing from the app (so a
broken or hostile cell cannot reach the app's state), limits itself with rlimits, keeps one namespace for
the whole session (like a Jupyter kernel) and answers one JSON line per request on a private copy of the
original stdout; fds 1 and 2 point at /dev/null so stray C-level writes cannot corrupt the protocol.
"""

import ast
import builtins
import io
import json
import linecache
import os
import sys

# Under `python -I` the script's folder is not on sys.path: add it just long enough to import our two
# helper modules (stdlib only), then take it away again before any model code runs.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from worker_containment import contain, prepare  # noqa: E402
    from worker_display import apply_print_compat, display_repr, quiet  # noqa: E402
    from worker_traceback import CELL_PREFIX, format_traceback  # noqa: E402
finally:
    del sys.path[0]


class CappedWriter(io.TextIOBase):
    """stdout/stderr for a cell: keeps the first `cap` characters, counts the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.size = 0
        self.dropped = 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self.cap - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def flush(self):
        pass

    def getvalue(self):
        return "".join(self.parts)


def run_cell(code, namespace, cells, count, cap):
    cells[count] = code
    filename = f"{CELL_PREFIX}{count}>"
    # Register the source so tracebacks and inspect can show cell lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    writer = CappedWriter(cap)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = writer
    display, error, error_line, tb = "", None, "", ""
    apply_print_compat()
    try:
        tree = ast.parse(code, filename=filename, mode="exec")
        last_expr = None
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not quiet(code):
            last_expr = ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), namespace)
        if last_expr is not None:
            value = eval(compile(last_expr, filename, "eval"), namespace)
            if value is not None:
                display = display_repr(value)
                namespace["_"] = value
    except SystemExit as exc:
        error = "SystemExit"
        error_line = f"SystemExit: {exc.code}"
        tb = error_line
    except BaseException as exc:  # noqa: BLE001 - the model's code may raise anything
        error = type(exc).__name__
        tb, error_line = format_traceback(exc, cells, count)
    finally:
        sys.stdout, sys.stderr = saved
    if len(display) > cap:
        writer.dropped += len(display) - cap
        display = display[:cap]
    return {
        "stdout": writer.getvalue(),
        "display": display,
        "traceback": tb,
        "error": error,
        "error_line": error_line,
        "dropped_chars": writer.dropped,
    }


def serve(requests, protocol, config):
    """The session loop: one JSON request per line in, one JSON reply per line out."""
    cap = int(config.get("output_cap", 20000))
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    cells = {}
    protocol.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    count = 0
    for line in requests:
        request = json.loads(line)
        count += 1
        reply = run_cell(request["code"], namespace, cells, count, cap)
        protocol.write(json.dumps(reply) + "\n")


def warm_up(config):
    if hasattr(os, "nice"):
        # Warm-up and code run at low priority: while the model generates, llama.cpp keeps its cores.
        os.nice(int(config.get("nice", 10)))
    for module in config.get("preload", []):
        try:
            __import__(module)  # warm sys.modules only: names still need the cell's own import
        except Exception:  # noqa: BLE001
            pass


def silence_std_fds():
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def main():
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    silence_std_fds()
    contain(config, protocol, requests)
    warm_up(config)
    serve(requests, protocol, config)


def forked_session(channel_fd, request):
    """In a child of the fork server: become one session's worker, talking over `channel_fd`."""
    import signal

    os.setsid()  # its own process group, killed as a whole
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    workdir = request["workdir"]
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    import tempfile

    tempfile.tempdir = None  # forget the server's cached temp dir
    protocol = os.fdopen(os.dup(channel_fd), "w", encoding="utf-8", buffering=1)
    requests = os.fdopen(channel_fd, "r", encoding="utf-8")
    contain(request, protocol, requests)
    serve(requests, protocol, request)


def fork_server(config):
    """Import the preload once, then fork a fresh worker per session (milliseconds instead of an interpreter
    start and a sympy import). Requests arrive on fd 0, a datagram socket, each with the session's socket."""
    import select
    import signal
    import socket

    parent = os.getppid()
    control = socket.socket(fileno=os.dup(0))
    silence_std_fds()
    warm_up(config)
    prepare()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; the app kills them
    control.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    while True:
        # A datagram socket has no end-of-file: notice the app's exit by being re-parented.
        if not select.select([control], [], [], 1.0)[0]:
            if os.getppid() != parent:
                return
            continue
        message, fds, _, _ = socket.recv_fds(control, 65536, 1)
        if not message:
            return
        request = json.loads(message)
        if not fds:
            control.send(json.dumps({"error": "no channel"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                forked_session(fds[0], request)
            except BaseException:  # noqa: BLE001
                code = 1
            os._exit(code)
        os.close(fds[0])
        control.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--fork-server":
        fork_server(json.loads(sys.argv[2]))
    else:
        main()
