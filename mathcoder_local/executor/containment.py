"""The executor's containment layers, app side: what each one stops, which a session got, the macOS profile.

The worker applies its own layers (worker_containment.py) and reports which took effect; the app adds the
ones it enforces itself when it starts a worker. Nothing here claims a layer the worker did not confirm.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field

# What each layer stops, in the order `exec --explain` lists them.
LAYERS: dict[str, str] = {
    "process-group": "the code and every process it starts are killed together on timeout and at the end",
    "clean-environment": "no variable of your shell (API keys, tokens, proxies) reaches the code",
    "isolated-python": "python -I: no user site-packages, no PYTHON* variables, no current folder on sys.path",
    "private-directory": "working directory, HOME and TMPDIR are a fresh folder, deleted after the session",
    "timeout": "each block is stopped after the timeout (wall clock, SIGKILL to the whole group)",
    "output-cap": "the model sees at most the output cap per block; replies are bounded in the app too",
    "rlimits": "address space (memory), CPU time, file size, open files; no core dumps",
    "process-limit": "RLIMIT_NPROC: a fork bomb (or thread bomb) stops at the limit (also for root, whose worker "
    "takes another real uid in its user namespace)",
    "no-new-privileges": "setuid programs (sudo, su) gain no privileges",
    "network-namespace": "no network: a new namespace with only a loopback that is down (the host's abstract "
    "UNIX sockets are out of reach too)",
    "landlock-filesystem": "reads only Python's own files and system libraries; writes, creates, deletes and "
    "renames only inside the session folder (your home, ~/.ssh, /etc/shadow: unreadable)",
    "landlock-network": "no TCP bind or connect",
    "landlock-scope": "no signals to processes outside the session, no abstract UNIX sockets outside it",
    "seccomp": "socket() fails for every family (UDP, Docker's or D-Bus's UNIX sockets too); setsid and setpgid "
    "fail, so every process the code starts stays in the group that is killed; no ptrace, no access to other "
    "processes' memory; signals only to the worker itself; no chmod, chown, utime or xattr changes (Landlock "
    "does not cover metadata); no keyrings, io_uring, bpf or perf events",
    "sandbox-exec": "macOS: a deny-by-default Seatbelt profile: reads of Python's files and system libraries, "
    "writes in the session folder, no network",
}
# Enforced by the app for every worker it starts (spawned or forked).
APP_LAYERS = ("process-group", "clean-environment", "isolated-python", "private-directory", "timeout", "output-cap")
SANDBOX_EXEC = "/usr/bin/sandbox-exec"


@dataclass(frozen=True)
class Containment:
    """Which optional layers a session asks for (all by default; each is still applied only where it can be)."""

    landlock: bool = True
    namespaces: bool = True  # network and PID namespaces (in a new user namespace)
    seccomp: bool = True
    sandbox_exec: bool = True  # macOS, spawned sessions

    def request(self) -> dict[str, bool]:
        return {"landlock": self.landlock, "namespaces": self.namespaces, "seccomp": self.seccomp}


@dataclass(frozen=True)
class ContainmentReport:
    """The layers one worker runs under: active names, reasons for the inactive ones, caveats of active ones."""

    active: tuple[str, ...] = ()
    inactive: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_worker(
        cls,
        data: dict[str, object] | None,
        extra_active: tuple[str, ...] = (),
        extra_inactive: dict[str, str] | None = None,
    ) -> ContainmentReport:
        data = data or {}
        worker_active = [str(name) for name in data.get("active", [])]  # type: ignore[union-attr]
        inactive = {str(k): str(v) for k, v in dict(data.get("inactive", {})).items()}  # type: ignore[call-overload]
        notes = {str(k): str(v) for k, v in dict(data.get("notes", {})).items()}  # type: ignore[call-overload]
        inactive.update(extra_inactive or {})
        if "active" not in data:
            inactive.setdefault("rlimits", "the worker did not report its layers")
        active = [*APP_LAYERS, *extra_active, *worker_active]
        order = list(LAYERS)
        active.sort(key=lambda name: order.index(name) if name in order else len(order))
        return cls(tuple(active), {k: v for k, v in inactive.items() if k not in active}, notes)

    def rows(self) -> list[tuple[str, bool, str]]:
        """(layer, active, text): what it stops when active, why not when inactive; every known layer once."""
        rows = []
        for name in [*LAYERS, *sorted(set(self.active) - set(LAYERS))]:
            if name in self.active:
                note = self.notes.get(name)
                rows.append((name, True, LAYERS.get(name, "") + (f" [{note}]" if note else "")))
            else:
                rows.append((name, False, self.inactive.get(name, "not available here")))
        return rows

    def to_dict(self) -> dict[str, object]:
        return {"active": list(self.active), "inactive": dict(self.inactive), "notes": dict(self.notes)}


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none). Safe to call in the app: it only asks."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    try:
        return max(int(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1)), 0)
    except (OSError, AttributeError):
        return 0


def platform_summary() -> str:
    """One line about where the worker runs: the layers depend on it."""
    uid = os.getuid() if hasattr(os, "getuid") else -1
    who = "root" if uid == 0 else f"uid {uid}"
    line = f"{platform.system()} {platform.release()} {platform.machine()}, {who}, Python {platform.python_version()}"
    if sys.platform.startswith("linux"):
        line += f", Landlock ABI {landlock_abi()}"
    return line


# --- macOS -----------------------------------------------------------------------------------------------
# NOT TESTED HERE (the project is developed on Linux). Kept small on purpose: a session whose worker does not
# start under this profile is started again without it, and reports "sandbox-exec" inactive with the reason.


def sandbox_exec_available() -> bool:
    return sys.platform == "darwin" and os.access(SANDBOX_EXEC, os.X_OK)


def _sbpl(path: str) -> str:
    return '"' + os.path.realpath(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def sandbox_exec_profile(workdir: str) -> str:
    """A deny-by-default Seatbelt profile: Python and system libraries readable, the session folder writable."""
    import sysconfig

    readable = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.executable)}
    readable.update(sysconfig.get_paths().values())
    readable.update(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages"))
    readable.update(["/usr/lib", "/usr/share", "/System", "/Library/Frameworks", "/private/var/db/timezone"])
    reads = " ".join(f"(subpath {_sbpl(p)})" for p in sorted(readable) if os.path.exists(p))
    work = _sbpl(workdir)
    return f"""(version 1)
(deny default)
(import "system.sb")
(allow process-fork)
(allow process-exec (subpath {_sbpl(sys.base_prefix)}) (subpath {_sbpl(sys.prefix)}))
(allow signal (target same-sandbox))
(allow sysctl-read)
(allow file-read-metadata)
(allow file-read* {reads} (subpath {work}) (literal "/dev/null") (literal "/dev/urandom") (literal "/dev/random"))
(allow file-write* (subpath {work}) (literal "/dev/null"))
(deny network*)
"""
