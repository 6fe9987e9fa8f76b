"""Containment applied inside a worker before any model code runs. Stdlib only, imported by worker.py.

Every layer is applied where the OS allows it and reported by name; one that cannot be applied is reported
inactive with the reason and never fails the session (`containment.py` in the app describes each layer):

  rlimits              memory, CPU time, file size, open files; no core dumps
  process-limit        RLIMIT_NPROC, counted in the session's own user namespace when it has one
  no-new-privileges    setuid programs gain nothing; Landlock and seccomp need it
  network-namespace    a new network namespace (in a new user namespace): only a loopback that is down
  landlock-filesystem  read only Python's files and system libraries, write only the session directory
  landlock-network     TCP bind and connect denied (Landlock ABI >= 4)
  landlock-scope       no signals to, no abstract UNIX sockets of, processes outside the session (ABI >= 6)
  seccomp              no socket(), no leaving the process group, no ptrace, no signals to other processes,
                       no metadata changes, keyrings, io_uring

The order matters: unshare() needs a single-threaded process, and the process limit comes after it so that
it counts the session's own processes. No PID namespace: the worker would have to stay outside it to keep
its pid, and a process whose children go to another PID namespace cannot start threads.
"""

import os
import sys

PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 22, 38
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
NPROC_UID = 65534  # the real uid a root worker takes in its user namespace ("nobody"), see _unshare()

_libc = None


def _c():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _fail(what):
    import ctypes

    code = ctypes.get_errno()
    return f"{what}: {os.strerror(code)} (errno {code})"


# --- rlimits ---------------------------------------------------------------------------------------------


def apply_limits(limits):
    """Set the requested rlimits; returns the ones the OS refused (RLIMIT_AS on macOS, for one)."""
    try:
        import resource
    except ImportError:  # not on this platform; the parent's wall-clock timeout still applies
        return ["resource module missing"]
    table = {
        "memory_bytes": "RLIMIT_AS",
        "cpu_seconds": "RLIMIT_CPU",
        "file_bytes": "RLIMIT_FSIZE",
        "open_files": "RLIMIT_NOFILE",
        "core_bytes": "RLIMIT_CORE",
    }
    refused = []
    for key, name in table.items():
        value = limits.get(key, 0 if key == "core_bytes" else None)  # no core files in the session dir
        which = getattr(resource, name, None)
        if value is None or which is None:
            continue
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError) as exc:
            refused.append(f"{name} ({exc})")
    return refused


def _user_tasks(uid):
    """Tasks (processes and threads) of `uid` now: what RLIMIT_NPROC counts outside a user namespace."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                with open(f"/proc/{name}/stat", "rb") as f:
                    count += int(f.read().rsplit(b")", 1)[1].split()[17])  # num_threads
        except (OSError, ValueError, IndexError):
            continue
    return count


def _process_limit(limit, own_user_ns, notes):
    import resource

    if limit is None:
        return "not requested"
    if not sys.platform.startswith("linux"):
        return "not applied: RLIMIT_NPROC would count every process of the user"
    if own_user_ns:
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    else:  # counted over all of the user's processes: leave room for what already runs
        resource.setrlimit(resource.RLIMIT_NPROC, (_user_tasks(os.getuid()) + limit,) * 2)
        notes["process-limit"] = f"counted over all of the user's processes (+{limit} for this session)"
    if os.getuid() == 0:
        return "set, but the kernel does not enforce RLIMIT_NPROC for root"
    return None


# --- namespaces ------------------------------------------------------------------------------------------


def _unshare():
    uid, euid, egid = os.getuid(), os.geteuid(), os.getegid()  # before: unmapped, they read as 65534
    if uid == 0:
        # RLIMIT_NPROC exempts a process whose *real* uid is root. Give the worker another real uid, keeping the
        # effective uid (file access, still under Landlock): then the limit counts, also when the app is root.
        os.setresuid(NPROC_UID, 0, 0)
    if _c().unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        reason = _fail("unshare(user, net)")
        if uid == 0:
            os.setresuid(0, 0, 0)
        return reason
    try:  # map our effective ids to themselves, so that the code sees its own uid, not 65534
        for name, text in (("setgroups", "deny"), ("uid_map", f"{euid} {euid} 1"), ("gid_map", f"{egid} {egid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError:
        pass
    return None


# --- Landlock --------------------------------------------------------------------------------------------

LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1, 2, 4, 8
LL_TRUNCATE, LL_IOCTL_DEV = 1 << 14, 1 << 15
LL_FILE_RIGHTS = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV
LL_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}  # ABI >= 5: (1 << 16) - 1
LL_NET_TCP = 1 | 2  # bind, connect
LL_SCOPES = 1 | 2  # abstract UNIX sockets, signals


def landlock_abi():
    abi = _c().syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(abi, 0)


_roots = None


def prepare():
    """Work every session's containment repeats, done once in the fork server (children inherit it)."""
    _c()
    _read_roots()


def _read_roots():
    """What Python, numpy and sympy need to read (lazy imports included), and nothing of the user's."""
    global _roots
    if _roots is not None:
        return _roots
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.realpath(sys.executable)}
    roots.update(p for p in sysconfig.get_paths().values())
    # site-packages only: a project folder added by a .pth file (an editable install) stays unreadable
    roots.update(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages"))
    roots.update(["/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32", "/usr/local/lib"])
    roots.update(["/usr/share/zoneinfo", "/etc/localtime", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"])
    roots.update(["/sys/devices/system/cpu", "/proc/cpuinfo", "/proc/meminfo"])
    _roots = sorted(roots)
    return _roots


def _landlock(workdir, abi, active, inactive):
    import ctypes

    libc = _c()
    fs = LL_FS_BY_ABI.get(abi, (1 << 16) - 1)
    attr = (ctypes.c_uint64 * 3)(fs, LL_NET_TCP if abi >= 4 else 0, LL_SCOPES if abi >= 6 else 0)
    ruleset = libc.syscall(444, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        return _fail("landlock_create_ruleset")

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    def allow(path, rights):
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # not on this system
        try:
            if not os.path.isdir(path):
                rights &= LL_FILE_RIGHTS
            rule = PathBeneath(rights & fs, fd)
            if libc.syscall(445, ruleset, 1, ctypes.byref(rule), 0) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), f"landlock_add_rule({path})")
        finally:
            os.close(fd)

    try:
        for root in [*_read_roots(), f"/proc/{os.getpid()}"]:  # /proc/self: this worker, not its parent
            allow(root, LL_EXECUTE | LL_READ_FILE | LL_READ_DIR)
        for dev in ("/dev/null", "/dev/zero", "/dev/full"):
            allow(dev, LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV)
        for dev in ("/dev/urandom", "/dev/random"):
            allow(dev, LL_READ_FILE)
        allow(workdir, fs)
        if libc.syscall(446, ruleset, 0) != 0:  # landlock_restrict_self
            return _fail("landlock_restrict_self")
    except OSError as exc:  # nothing is restricted yet: report it and go on without
        return f"{exc.strerror}: {exc.filename}"
    finally:
        os.close(ruleset)
    active.append("landlock-filesystem")
    for name, minimum in (("landlock-network", 4), ("landlock-scope", 6)):
        if abi >= minimum:
            active.append(name)
        else:
            inactive[name] = f"needs Landlock ABI {minimum}; this kernel has {abi}"
    return None


# --- seccomp ---------------------------------------------------------------------------------------------

EPERM = 1
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | EPERM
# name: (x86_64, aarch64); None where the architecture has no such call
DENIED = {
    "socket": (41, 198),  # no new sockets of any family: pathname UNIX sockets (Docker, D-Bus) too
    "setsid": (112, 157),  # nothing the code starts can leave the group the app kills as a whole
    "setpgid": (109, 154),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "pidfd_getfd": (438, 438),
    "pidfd_send_signal": (424, 424),
    "tkill": (200, 130),
    "keyctl": (250, 219),  # the user's keyrings may hold secrets
    "add_key": (248, 217),
    "request_key": (249, 218),
    "io_uring_setup": (425, 425),  # io_uring can open sockets without socket()
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "open_by_handle_at": (304, 265),
    # Landlock does not cover metadata: without these, chmod/chown/utime would reach the user's files
    "chmod": (90, None),
    "fchmod": (91, 52),
    "fchmodat": (268, 53),
    "fchmodat2": (452, 452),
    "chown": (92, None),
    "fchown": (93, 55),
    "lchown": (94, None),
    "fchownat": (260, 54),
    "utime": (132, None),
    "utimes": (235, None),
    "futimesat": (261, None),
    "utimensat": (280, 88),
    "setxattr": (188, 5),
    "lsetxattr": (189, 6),
    "fsetxattr": (190, 7),
    "removexattr": (197, 14),
    "lremovexattr": (198, 15),
    "fremovexattr": (199, 16),
    "setxattrat": (463, 463),
    "removexattrat": (466, 466),
}
SIGNALS = {"kill": (62, 129), "tgkill": (234, 131), "rt_sigqueueinfo": (129, 138), "rt_tgsigqueueinfo": (297, 240)}
ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}


def seccomp_program(machine, pid):
    """The BPF filter as (code, jt, jf, k) tuples: the calls above fail with EPERM; signals may only go to this
    process (kill: itself, its group) — other processes of the user, the app included, are out of reach."""
    column, audit_arch = ARCHES[machine]
    ld = lambda offset: (0x20, 0, 0, offset)  # noqa: E731 - BPF_LD|BPF_W|BPF_ABS
    jeq = lambda k, jt, jf: (0x15, jt, jf, k & 0xFFFFFFFF)  # noqa: E731
    ret = lambda k: (0x06, 0, 0, k)  # noqa: E731
    prog = [ld(4), jeq(audit_arch, 1, 0), ret(RET_EPERM), ld(0)]  # another ABI (int 0x80) gets nothing
    if machine == "x86_64":
        prog += [(0x35, 0, 1, 0x40000000), ret(RET_EPERM)]  # x32 system calls
    for numbers in DENIED.values():
        if numbers[column] is not None:
            prog += [jeq(numbers[column], 0, 1), ret(RET_EPERM)]
    kill_nr = SIGNALS["kill"][column]
    prog += [jeq(kill_nr, 0, 6), ld(16), jeq(pid, 3, 0), jeq(0, 2, 0), jeq(-pid, 1, 0), ret(RET_EPERM), ret(RET_ALLOW)]
    for name in ("tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):  # the thread group is the first argument
        prog += [jeq(SIGNALS[name][column], 0, 4), ld(16), jeq(pid, 1, 0), ret(RET_EPERM), ret(RET_ALLOW)]
    return prog + [ret(RET_ALLOW)]


def _seccomp():
    import ctypes
    import platform

    machine = platform.machine().lower().replace("arm64", "aarch64")
    if machine not in ARCHES or sys.byteorder != "little":
        return f"no filter for this architecture ({machine})"
    prog = seccomp_program(machine, os.getpid())

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(prog))(*[Filter(*ins) for ins in prog])
    program = Program(len(prog), filters)
    if _c().prctl(PR_SET_SECCOMP, 2, ctypes.byref(program), 0, 0) != 0:  # SECCOMP_MODE_FILTER
        return _fail("prctl(PR_SET_SECCOMP)")
    return None


# --- all together ----------------------------------------------------------------------------------------


def apply_containment(request, inactive=None, notes=None):
    """Apply every layer the request asks for; return the names of the layers now active. Reasons for the
    inactive ones go into `inactive`, caveats of active ones into `notes` (both name -> text)."""
    inactive = {} if inactive is None else inactive
    notes = {} if notes is None else notes
    options = request.get("containment") or {}
    limits = request.get("limits") or {}
    workdir = os.path.realpath(request.get("workdir") or os.getcwd())
    active = []

    def run(name, step, *args):
        try:
            reason = step(*args)
        except Exception as exc:  # noqa: BLE001 - a layer that cannot be applied is reported, never fatal
            reason = f"{type(exc).__name__}: {exc}"
        if reason is None:
            active.append(name)
        else:
            inactive[name] = reason
        return reason is None

    refused = apply_limits(limits)
    active.append("rlimits")
    if refused:
        notes["rlimits"] = "refused here: " + ", ".join(refused)
    linux = sys.platform.startswith("linux")
    layers = ("no-new-privileges", "network-namespace", "landlock-filesystem", "landlock-network", "landlock-scope")
    if not linux:
        inactive.update({name: "Linux only" for name in (*layers, "seccomp")})
        run("process-limit", _process_limit, limits.get("processes"), False, notes)
        return active

    def wanted(key, *names):
        if options.get(key, True):
            return True
        inactive.update({name: "turned off for this session" for name in names})
        return False

    run("no-new-privileges", lambda: None if _c().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 else _fail("prctl"))
    own_user_ns = False
    if wanted("namespaces", "network-namespace"):
        own_user_ns = run("network-namespace", _unshare)
    run("process-limit", _process_limit, limits.get("processes"), own_user_ns, notes)
    if wanted("landlock", "landlock-filesystem"):
        abi = landlock_abi()
        if abi < 1:
            inactive["landlock-filesystem"] = "the kernel has no Landlock (or it is not enabled at boot)"
        else:
            reason = _landlock(workdir, abi, active, inactive)
            if reason is not None:
                inactive["landlock-filesystem"] = reason
    for name in ("landlock-network", "landlock-scope"):
        if name not in active:
            inactive.setdefault(name, inactive.get("landlock-filesystem", "needs Landlock"))
    if wanted("seccomp", "seccomp"):
        run("seccomp", _seccomp)
    return active


def contain(request, protocol, requests):
    """Apply the layers, keep cell-forked children off the channel, then tell the app which layers are active
    (the line before "ready")."""
    import json

    inactive, notes = {}, {}
    active = apply_containment(request, inactive, notes)
    detach_forked_children([protocol.fileno(), requests.fileno()])
    line = {"containment": {"active": active, "inactive": inactive, "notes": notes}}
    protocol.write(json.dumps(line) + "\n")
    protocol.flush()


def detach_forked_children(fds):
    """A cell's os.fork() children must not answer on the session's channel (they share it): point its
    descriptors at /dev/null in every child, so a child that finishes the cell reads end of file and exits."""

    def in_child():
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in fds:
            try:
                os.dup2(devnull, fd)
            except OSError:
                pass
        os.close(devnull)

    os.register_at_fork(after_in_child=in_child)
