"""The hostile-code battery: programs a model might write to hurt the machine or escape its executor.

For every program: the model gets a clear error text (what it would read back), the wall time stays bounded,
the host is unchanged (a sentinel file and a fake ~/.ssh key outside the session folder survive unchanged,
nothing appears beside them, no listener the test opened is contacted), no process of the session is left
after it closes, and a fresh session afterwards runs `1 + 1`. Forked sessions (the bench path) run the whole
battery; spawned sessions (solve, exec) run the programs where the way the worker started matters.

A program whose harm only a given layer prevents is skipped, with the reason, where that layer is inactive:
the tests run as root here, so reading /etc/shadow or another user's files is stopped by Landlock alone.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pytest

from mathcoder_local.executor.containment import landlock_abi
from mathcoder_local.executor.forkserver import ForkServer
from mathcoder_local.executor.session import DEFAULT_PRELOAD, ExecutorLimits, ExecutorSession
from mathcoder_local.formats.mathcoder import execution_text

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="the battery inspects processes in /proc")

TIMEOUT = 2.0
SLACK = 3.0  # on top of the timeout: killing the group, a loaded 2-core machine
ROOT = os.getuid() == 0
LANDLOCK = "landlock-filesystem"
NO_NET = "seccomp|network-namespace|landlock-network"  # any one of them stops it


@dataclass(frozen=True)
class Case:
    name: str
    cells: tuple[str, ...]  # run in order in one session; the last one's output is judged
    expect: str  # regex over what the model reads back
    needs: tuple[str, ...] = ()  # layers ("a|b": either) without which the program would do harm: skip
    spawned: bool = False  # also run in a spawned session
    limits: dict = field(default_factory=dict)


def case(name, code, expect, needs=(), spawned=False, **limits):
    cells = (code,) if isinstance(code, str) else tuple(code)
    return Case(name, cells, expect, tuple(needs), spawned, limits)


DENIED = r"PermissionError: \[Errno (1|13)\]"
TIMEOUT_TEXT = r"TimeoutError: the code ran longer than"
DIED = r"WorkerDied: "
ROOT_LANDLOCK = (LANDLOCK,) if ROOT else ()  # a user is stopped by file permissions too; root only by Landlock
CTYPES = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
CHANNEL_WRITE = (
    "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, $data)\n    except OSError:\n        pass\n"
)

CASES = [
    # --- secrets ------------------------------------------------------------------------------------
    case("read_ssh_key", "print(open($secret).read())", DENIED, [LANDLOCK], spawned=True),
    case("list_ssh_dir", "import os\nos.listdir($secret_dir)", DENIED, [LANDLOCK]),
    case("read_etc_shadow", "open('/etc/shadow').read()", DENIED, ROOT_LANDLOCK, spawned=True),
    case("read_key_via_proc_root", "open('/proc/self/root' + $secret).read()", DENIED, [LANDLOCK]),
    case("read_key_via_symlink", "import os\nos.symlink($secret, 'key')\nopen('key').read()", DENIED, [LANDLOCK]),
    case("hardlink_key", "import os\nos.link($secret, 'key')\nopen('key').read()", r"(Permission|OS)Error", [LANDLOCK]),
    case("list_home", "import os\nos.listdir($home)", DENIED, [LANDLOCK]),
    case("list_processes", "import os\nos.listdir('/proc')", DENIED, [LANDLOCK]),
    case("read_app_environ", "open(f'/proc/{$app_pid}/environ').read()", DENIED, [LANDLOCK], spawned=True),
    case("read_app_memory", "open(f'/proc/{$app_pid}/mem', 'rb').read(16)", DENIED, [LANDLOCK]),
    case("import_from_outside", "import sys\nsys.path.insert(0, $outside)\nimport evil", r"ModuleNotFound", [LANDLOCK]),
    case("run_outside_script", "import runpy\nrunpy.run_path($outside + '/evil.py')", DENIED, [LANDLOCK]),
    case("import_the_app", "import mathcoder_local.solver", r"(PermissionError|ModuleNotFoundError)", [LANDLOCK]),
    # --- writes, deletes, metadata ------------------------------------------------------------------
    case("overwrite_sentinel", "open($sentinel, 'w').write('pwned')", DENIED, [LANDLOCK], spawned=True),
    case("append_sentinel", "open($sentinel, 'a').write('pwned')", DENIED, [LANDLOCK]),
    case("truncate_sentinel", "import os\nos.truncate($sentinel, 0)", DENIED, [LANDLOCK, "landlock-abi-3"]),
    case("delete_sentinel", "import os\nos.remove($sentinel)", DENIED, [LANDLOCK], spawned=True),
    case("rename_sentinel", "import os\nos.rename($sentinel, 'stolen')", r"(Permission|OS)Error", [LANDLOCK]),
    case("rmtree_outside", "import shutil\nshutil.rmtree($outside)", DENIED, [LANDLOCK]),
    case("create_outside", "open($outside + '/new.txt', 'x').write('x')", DENIED, [LANDLOCK]),
    case("mkdir_outside", "import os\nos.makedirs($outside + '/a/b')", DENIED, [LANDLOCK]),
    case("symlink_outside", "import os\nos.symlink('/etc/passwd', $outside + '/link')", DENIED, [LANDLOCK]),
    case(
        "write_via_symlink", "import os\nos.symlink($sentinel, 'x')\nopen('x', 'w').write('pwned')", DENIED, [LANDLOCK]
    ),
    case("write_system_tmp", "open($tmp_marker, 'w').write('x')", DENIED, [LANDLOCK], spawned=True),
    case("write_from_root_dir", "import os\nos.chdir('/')\nopen('pwned', 'w')", DENIED, [LANDLOCK]),
    case("chmod_sentinel", "import os\nos.chmod($sentinel, 0o777)", DENIED, ["seccomp"]),
    case("utime_sentinel", "import os\nos.utime($sentinel, (0, 0))", DENIED, ["seccomp"]),
    case("chown_sentinel", "import os\nos.chown($sentinel, 12345, 12345)", DENIED, ["seccomp"]),
    case(
        "mount_over_outside",
        CTYPES + "libc.unshare(0x20000)\nr = libc.mount(b'none', $outside_b, b'tmpfs', 0, None)\n"
        "assert r == 0, f'mount failed: {os.strerror(ctypes.get_errno())}'",
        r"AssertionError: mount failed",
        [LANDLOCK],
    ),
    # --- network ------------------------------------------------------------------------------------
    case(
        "tcp_to_host",
        "import socket\nsocket.create_connection(('127.0.0.1', $tcp_port), timeout=1)",
        r"Error",
        [NO_NET],
    ),
    case("tcp_to_internet", "import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=1)", r"Error", [NO_NET]),
    case(
        "tcp_listen",
        "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen()",
        DENIED,
        ["seccomp|landlock-network"],
    ),
    case(
        "udp_to_host",
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', $udp_port))",
        r"Error",
        ["seccomp|network-namespace"],
        spawned=True,
    ),
    case(
        "dns_lookup",
        "import socket\nsocket.getaddrinfo('example.com', 443)",
        r"(gaierror|Error)",
        ["seccomp|network-namespace"],
    ),
    case(
        "http_to_host",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:$tcp_port/', timeout=1)",
        r"(URLError|Error)",
        [NO_NET],
    ),
    case(
        "unix_socket",
        "import socket\nsocket.socket(socket.AF_UNIX).connect($unix_path)",
        DENIED,
        ["seccomp"],
        spawned=True,
    ),
    case(
        "abstract_unix_socket",
        "import socket\nsocket.socket(socket.AF_UNIX).connect('\\0' + $abstract)",
        r"Error",
        ["seccomp|landlock-scope|network-namespace"],
    ),
    case(
        "socket_via_ctypes",
        CTYPES + "fd = libc.socket(2, 1, 0)\nassert fd >= 0, f'socket() failed: {os.strerror(ctypes.get_errno())}'",
        r"AssertionError: socket\(\) failed: Operation not permitted",
        ["seccomp"],
    ),
    # --- processes ----------------------------------------------------------------------------------
    case(
        "shell_subprocess",
        "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'echo x > ' + $outside + '/pwned'], check=True)",
        r"(PermissionError|CalledProcessError)",
        [LANDLOCK],
        spawned=True,
    ),
    case("os_system", "import os\nos.system('echo x > ' + $outside + '/pwned')", r"^-?[1-9][0-9]*$", [LANDLOCK]),
    case(
        "python_child_writes",
        "import subprocess, sys\ncode = 'open(' + repr($sentinel) + ', \"w\").write(\"pwned\")'\n"
        "print(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stderr)",
        r"PermissionError",
        [LANDLOCK],
    ),
    case("fork_bomb", "import os\nwhile True:\n    os.fork()", r"BlockingIOError", ["process-limit"], spawned=True),
    case(
        "leave_the_group",
        "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        try:\n            os.setsid()\n"
        "        except OSError:\n            pass\n        time.sleep(10**6)\nos.setsid()",
        DENIED,
        ["seccomp"],
        spawned=True,
    ),
    case(
        "double_fork_daemon",
        "import os, time\nif os.fork() == 0:\n    try:\n        os.setpgid(0, 0)\n    except OSError:\n        pass\n"
        "    if os.fork() == 0:\n        while True:\n            time.sleep(0.02)\n            try:\n"
        "                open($sentinel, 'w').write('pwned')\n            except OSError:\n                pass\n"
        "    os._exit(0)\ntime.sleep(0.3)\nos.setpgid(0, 0)",
        DENIED,
        ["seccomp", LANDLOCK],
    ),
    case(
        "thread_bomb",
        "import threading, time\nwhile True:\n"
        "    threading.Thread(target=time.sleep, args=(10**6,), daemon=True).start()",
        r"(RuntimeError: can't start new thread|MemoryError|Timeout)",
        memory_bytes=1 << 30,
    ),
    case(
        "threads_left_running",
        [
            "import threading, time\ndef spam():\n    while True:\n        try:\n"
            "            open($sentinel, 'w').write('pwned')\n        except OSError:\n            time.sleep(0.01)\n"
            "threading.Thread(target=spam, daemon=True).start()",
            "import time\ntime.sleep(0.2)\nopen($sentinel, 'a')",
        ],
        DENIED,
        [LANDLOCK],
    ),
    case(
        "spinning_thread",
        "import threading, time\nthreading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\ntime.sleep(10**6)",
        TIMEOUT_TEXT,
    ),
    # --- time, memory, output -----------------------------------------------------------------------
    case("infinite_loop", "while True:\n    pass", TIMEOUT_TEXT, spawned=True),
    case("sleep_forever", "import time\ntime.sleep(10**9)", TIMEOUT_TEXT, spawned=True),
    case(
        "swallow_keyboard_interrupt",
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
        TIMEOUT_TEXT,
    ),
    case(
        "ignore_signals",
        "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\nsignal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())\n"
        "while True:\n    pass",
        TIMEOUT_TEXT,
        spawned=True,
    ),
    case("stop_itself", "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)", TIMEOUT_TEXT),
    case("memory_bomb", "x = bytearray(1 << 40)", r"MemoryError", spawned=True),
    case(
        "memory_growth",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))",
        r"MemoryError",
        memory_bytes=512 << 20,
    ),
    case("print_1gb", "for _ in range(1000):\n    print('x' * 10**6)", r"more characters not shown", spawned=True),
    case("huge_file", "open('big', 'wb').write(b'0' * (64 << 20))", r"(OSError|WorkerDied)", file_bytes=1 << 20),
    case("many_files", "files = [open('/dev/null') for _ in range(100000)]", r"OSError: \[Errno 24\]"),
    # --- the worker itself, its channel and its parent -----------------------------------------------
    case("sys_exit", "import sys\nsys.exit(3)", r"SystemExit: 3", spawned=True),
    case("os_exit", "import os\nos._exit(0)", DIED, spawned=True),
    case("abort", "import os\nos.abort()", DIED),
    case("segfault_via_ctypes", "import ctypes\nctypes.string_at(0)", DIED, spawned=True),
    case(
        "stack_overflow",
        "x = ()\nfor _ in range(3 * 10**5):\n    x = (x,)\nhash(x)",  # C recursion: the stack overflows
        DIED,
    ),
    case("flood_the_channel", CHANNEL_WRITE.replace("$data", "b'x' * (1 << 22)"), DIED, spawned=True),
    case(
        "garbage_on_the_channel",
        CHANNEL_WRITE.replace("$data", "b'not json\\n'") + "import time\ntime.sleep(1)",
        DIED,
        spawned=True,
    ),
    case("close_every_fd", "import os\nos.closerange(0, 4096)", DIED, spawned=True),
    case(
        "read_the_channel",
        "import os\nfor fd in range(3, 64):\n    try:\n        os.read(fd, 1)\n    except OSError:\n        pass",
        TIMEOUT_TEXT,
    ),
    case(
        "kill_the_parent",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        DENIED,
        ["seccomp|landlock-scope"],
    ),
    case(
        "signal_everyone",
        "import os\nos.kill(-1, 0)",
        r"(PermissionError|ProcessLookupError)",
        ["seccomp|landlock-scope"],
        spawned=True,
    ),
    case(
        "signal_the_app",
        "import os\nos.kill($app_pid, 0)",
        r"(PermissionError|ProcessLookupError)",
        ["seccomp|landlock-scope"],
        spawned=True,
    ),
    case(
        "ptrace_the_parent",
        CTYPES
        + "r = libc.ptrace(16, os.getppid(), 0, 0)\nassert r == 0, f'ptrace failed: {os.strerror(ctypes.get_errno())}'",
        r"AssertionError: ptrace failed",
        ["seccomp|landlock-filesystem"],
    ),
    case(
        "raise_rlimits",
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))",
        r"ValueError: not allowed to raise maximum limit",
        ["network-namespace"] if ROOT else [],
    ),
    # --- reaching `os` without importing it ---------------------------------------------------------
    case(
        "subclasses_walk_to_os",
        "wrap = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "wrap.__init__.__globals__['remove']($sentinel)",
        DENIED,
        [LANDLOCK],
    ),
    case("builtins_via_import", "__import__('builtins').__dict__['open']($secret).read()", DENIED, [LANDLOCK]),
    case(
        "posix_via_importlib",
        "import importlib\nimportlib.import_module('posix').unlink($sentinel)",
        DENIED,
        [LANDLOCK],
    ),
    case(
        "unlink_via_ctypes",
        CTYPES + "assert libc.unlink($sentinel_b) == 0, f'unlink failed: {os.strerror(ctypes.get_errno())}'",
        r"AssertionError: unlink failed",
        [LANDLOCK],
    ),
]
SPAWNED = [c for c in CASES if c.spawned]


# --- the host the programs attack -------------------------------------------------------------------


class Host:
    """Things outside the session that must come through unchanged, and listeners that must stay untouched."""

    def __init__(self, root: Path) -> None:
        self.outside = root / "outside"
        self.outside.mkdir()
        self.sentinel = self.outside / "sentinel.txt"
        self.sentinel.write_text("precious\n")
        (self.outside / "evil.py").write_text("open(__file__ + '.ran', 'w').close()\n")
        self.home = root / "home"
        secret_dir = self.home / ".ssh"
        secret_dir.mkdir(parents=True)
        self.secret = secret_dir / "id_ed25519"
        self.secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n")
        self.secret.chmod(0o600)
        self.tmp_marker = Path(tempfile.gettempdir()) / f"mathcoder-hostile-{uuid.uuid4().hex}"
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix_path = str(root / "agent.sock")
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.unix_path)
        self.unix.listen()
        self.abstract = f"mathcoder-hostile-{uuid.uuid4().hex}"
        self.abstract_sock = socket.socket(socket.AF_UNIX)
        self.abstract_sock.bind("\0" + self.abstract)
        self.abstract_sock.listen()
        self.listeners = (self.tcp, self.udp, self.unix, self.abstract_sock)
        for s in self.listeners:
            s.setblocking(False)
        self.values = {
            "sentinel": repr(str(self.sentinel)),
            "sentinel_b": repr(str(self.sentinel).encode()),
            "outside": repr(str(self.outside)),
            "outside_b": repr(str(self.outside).encode()),
            "secret": repr(str(self.secret)),
            "secret_dir": repr(str(secret_dir)),
            "home": repr(str(self.home)),
            "tmp_marker": repr(str(self.tmp_marker)),
            "tcp_port": str(self.tcp.getsockname()[1]),
            "udp_port": str(self.udp.getsockname()[1]),
            "unix_path": repr(self.unix_path),
            "abstract": repr(self.abstract),
            "app_pid": str(os.getpid()),
        }
        self.before = self.snapshot()

    def code(self, template: str) -> str:
        return Template(template).substitute(self.values)

    def snapshot(self) -> dict[str, tuple]:
        state: dict[str, tuple] = {"tmp_marker": (self.tmp_marker.exists(),)}
        for top in (self.outside, self.home):
            for path in sorted(top.rglob("*")):
                st = path.lstat()
                data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
                state[str(path)] = (data, st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
        return state

    def assert_unchanged(self) -> None:
        assert self.snapshot() == self.before
        for s in self.listeners:  # nothing connected or sent
            with pytest.raises(BlockingIOError):
                s.recv(1) if s.type == socket.SOCK_DGRAM else s.accept()

    def close(self) -> None:
        for s in self.listeners:
            s.close()
        self.tmp_marker.unlink(missing_ok=True)


@pytest.fixture
def host(tmp_path):
    h = Host(tmp_path)
    yield h
    h.close()


@pytest.fixture(scope="module")
def server():
    fs = ForkServer(DEFAULT_PRELOAD)
    yield fs
    fs.close()


@pytest.fixture(scope="module")
def available():
    """The layers a session gets on this machine, plus facts some programs depend on."""
    with ExecutorSession(preload=()) as s:
        layers = set(s.layers)
    if landlock_abi() >= 3 and LANDLOCK in layers:
        layers.add("landlock-abi-3")
    return layers


# --- processes of a session -------------------------------------------------------------------------


def processes() -> dict[int, tuple[int, int, int, int, str]]:
    """Every live process: pid -> (parent, group, session, start time, cwd)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if fields[0] != b"Z":  # a zombie is dead already
            table[int(entry)] = (int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), cwd)
    return table


def session_processes(workers: set[int], workdir: str, table=None) -> set[tuple[int, int]]:
    """(pid, start time) of the workers, their descendants, their group and session, and anything working in the
    session folder: what must be gone after close()."""
    table = processes() if table is None else table
    found = {pid for pid, (_, group, sid, _, cwd) in table.items() if group in workers or sid in workers}
    found |= {pid for pid, info in table.items() if info[4].startswith(workdir)}
    found |= workers & set(table)
    grew = True
    while grew:
        children = {pid for pid, info in table.items() if info[0] in found} - found
        found |= children
        grew = bool(children)
    return {(pid, table[pid][3]) for pid in found}


def assert_no_leftovers(seen: set[tuple[int, int]], workers: set[int], workdir: str) -> None:
    deadline = time.monotonic() + 5.0
    while True:
        table = processes()
        alive = {(pid, info[3]) for pid, info in table.items()}
        left = (seen & alive) | session_processes(workers, workdir, table)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"processes of the session outlived it: {sorted(left)}"


# --- the battery ------------------------------------------------------------------------------------


def attack(c: Case, host: Host, available: set[str], new_session) -> None:
    missing = [need for need in c.needs if not any(alt in available for alt in need.split("|"))]
    if missing:
        pytest.skip(f"this program is stopped only by {', '.join(missing)}, which is not active here")
    workers: set[int] = set()
    with new_session(ExecutorLimits(timeout=TIMEOUT, **c.limits)) as session:
        workdir = session.workdir
        for template in c.cells:
            session.containment()  # start (or restart) the worker outside the timed part
            workers.add(session.pid)
            started = time.perf_counter()
            cell = session.run(host.code(template))
            elapsed = time.perf_counter() - started
            assert elapsed < TIMEOUT + SLACK, f"{c.name}: {elapsed:.1f} s"
        seen = session_processes(workers, workdir)
        text = execution_text(cell)
        assert re.search(c.expect, text, re.MULTILINE), f"{c.name}: the model read {text[-600:]!r}"
    assert_no_leftovers(seen, workers, workdir)
    assert not os.path.exists(workdir), "the session folder outlived the session"
    host.assert_unchanged()
    with new_session(ExecutorLimits(timeout=TIMEOUT)) as fresh:
        assert fresh.run("1 + 1").display == "2"


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_forked(c, host, available, server):
    pid = server._proc.pid if server._proc else None
    attack(c, host, available, lambda limits: ExecutorSession(limits, start=False, forkserver=server))
    if pid is not None:
        assert server._proc is not None and server._proc.pid == pid, "the fork server was killed"


@pytest.mark.parametrize("c", SPAWNED, ids=[c.name for c in SPAWNED])
def test_spawned(c, host, available):
    attack(c, host, available, lambda limits: ExecutorSession(limits, preload=(), start=False))


def test_the_battery_is_big_enough():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


# --- the normal path still works under every layer --------------------------------------------------

NORMAL = [
    ("import numpy as np\nnp.linalg.solve(np.array([[2.0, 0], [0, 4]]), np.array([2.0, 8])).tolist()", "[1.0, 2.0]"),
    ("import numpy.polynomial.polynomial as P\nP.polyroots([-6, 1, 1]).tolist()", "[-3.0, 2.0]"),
    ("import sympy as sp\nx = sp.Symbol('x')\nsp.solve(x**2 - 4, x)", "[-2, 2]"),
    ("from sympy.solvers.diophantine import diophantine\nfrom sympy.abc import a, b\nlen(diophantine(a - b))", "1"),
    (
        "from fractions import Fraction\nfrom decimal import Decimal\nFraction(1, 3) + 1, Decimal('0.1') * 3",
        "(Fraction(4, 3), Decimal('0.3'))",
    ),
    ("import time\ntime.localtime().tm_year > 2000", "True"),
    ("import threading\nout = []\nt = threading.Thread(target=out.append, args=(1,))\nt.start()\nt.join()\nout", "[1]"),
    (
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True).stdout",
        "b'42\\n'",
    ),
    (
        "import os, tempfile\nwith tempfile.NamedTemporaryFile('w', delete=False) as f:\n    f.write('x')\n"
        "os.path.dirname(f.name) == os.getcwd()",
        "True",
    ),
]


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "spawned"])
def test_the_normal_path_works_under_every_layer(forked, server):
    extra = {"forkserver": server, "start": False} if forked else {}
    with ExecutorSession(ExecutorLimits(timeout=20), **extra) as s:
        for code, shown in NORMAL:
            cell = s.run(code)
            assert (cell.display, cell.error_line) == (shown, ""), code


def test_both_kinds_of_session_report_the_same_layers(server):
    with ExecutorSession(preload=()) as spawned, ExecutorSession(start=False, forkserver=server) as forked:
        a, b = spawned.containment(), forked.containment()
    assert set(a.active) - {"sandbox-exec"} == set(b.active) - {"sandbox-exec"}
    assert {"process-group", "clean-environment", "private-directory", "timeout", "rlimits"} <= set(a.active)
    assert not set(a.active) & set(a.inactive)
    if landlock_abi() >= 1:
        assert LANDLOCK in a.active
    if os.uname().machine in ("x86_64", "aarch64"):
        assert "seccomp" in a.active and "no-new-privileges" in a.active


def test_layers_turned_off_are_reported_inactive_with_the_reason():
    from mathcoder_local.executor.containment import Containment

    off = Containment(landlock=False, namespaces=False, seccomp=False, sandbox_exec=False)
    with ExecutorSession(preload=(), containment=off) as s:
        report = s.containment()
        assert s.run("1 + 1").display == "2"
    why = "turned off for this session" if sys.platform.startswith("linux") else "Linux only"
    for name in ("landlock-filesystem", "network-namespace", "seccomp"):
        assert name not in report.active and report.inactive[name] == why
    assert "rlimits" in report.active


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_seccomp_filter_is_well_formed(machine):
    """Both architectures' programs (only one can run here): every jump lands inside, every path returns."""
    from mathcoder_local.executor import worker_containment as wc

    prog = wc.seccomp_program(machine, 4321)
    assert len(prog) < 4096 and prog[-1] == (0x06, 0, 0, wc.RET_ALLOW)
    for i, (code, jt, jf, k) in enumerate(prog):
        if code & 0x07 == 0x05:  # BPF_JMP
            assert i + 1 + max(jt, jf) < len(prog)
        assert 0 <= k <= 0xFFFFFFFF
    numbers = [n[1 if machine == "aarch64" else 0] for n in wc.DENIED.values()]
    assert len(set(n for n in numbers if n is not None)) == len([n for n in numbers if n is not None])


def test_the_macos_profile_denies_by_default(tmp_path):
    from mathcoder_local.executor.containment import sandbox_exec_profile

    profile = sandbox_exec_profile(str(tmp_path))
    assert profile.count("(") == profile.count(")") and "(deny default)" in profile
    assert "(deny network*)" in profile and f'(subpath "{os.path.realpath(tmp_path)}")' in profile
