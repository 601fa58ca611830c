"""Replacing a file netc owns in one rename: a crash or a reader sees the old file or the new.

The one writer for the host's files (state, the libvirt record, `.net` files adopt writes, the
hook, dnsmasq configs, systemd units): the text goes to a temporary file in the same directory,
is flushed to disk and renamed over the target.
"""

from __future__ import annotations

import os
import tempfile


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` (its directory is created if missing), permission `mode`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".netc-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
