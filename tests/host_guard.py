"""Keep the test run away from the machine's own netc: its config, state and runtime paths.

Tests point `NETC_CONFIG` and `NETC_STATE_DIR` at their own temporary files; a test that forgets
(or undoes its monkeypatching) would read the host's `/etc/netc/netc.conf` or write
`/var/lib/netc`. So the whole session runs with both variables aimed at a scratch directory,
and the paths are snapshotted before and after: anything that appeared or changed fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

HOST_PATHS = ("/etc/netc", "/var/lib/netc", "/run/netc")


def snapshot(paths: Iterable[str] = HOST_PATHS) -> dict[str, tuple[str, int] | None]:
    """Every file and directory under `paths` with its kind and mtime; None for a missing path."""
    found: dict[str, tuple[str, int] | None] = {}
    for top in paths:
        if not os.path.lexists(top):
            found[top] = None
            continue
        found[top] = _entry(top)
        for directory, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(directory, name)
                found[path] = _entry(path)
    return found


def _entry(path: str) -> tuple[str, int]:
    info = os.lstat(path)
    kind = "dir" if os.path.isdir(path) and not os.path.islink(path) else "file"
    return kind, info.st_mtime_ns


def changes(before: dict, after: dict) -> list[str]:
    """What differs between two snapshots, one line per path."""
    lines = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            lines.append(f"appeared: {path}")
        elif new is None:
            lines.append(f"vanished: {path}")
        else:
            lines.append(f"changed: {path}")
    return lines
