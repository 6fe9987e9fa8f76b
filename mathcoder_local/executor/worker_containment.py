"""Containment applied inside a worker before any model code runs: rlimits (and, where the OS allows,
more layers). Imported by worker.py (stdlib only, never the app).
"""


def apply_limits(limits):
    try:
        import resource
    except ImportError:  # not on this platform; the parent's wall-clock timeout still applies
        return
    table = {
        "memory_bytes": "RLIMIT_AS",
        "cpu_seconds": "RLIMIT_CPU",
        "file_bytes": "RLIMIT_FSIZE",
        "open_files": "RLIMIT_NOFILE",
    }
    for key, name in table.items():
        value = limits.get(key)
        which = getattr(resource, name, None)
        if value is None or which is None:
            continue
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass  # e.g. RLIMIT_AS on macOS; the rest still hold


def apply_containment(request):
    """Apply every layer the request asks for; return the names of the layers now active."""
    apply_limits(request.get("limits", {}))
    return ["rlimits"]
