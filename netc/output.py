"""Writing results: stdout, or a file replaced atomically so a failure never leaves half of one."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from netc.diagnostics import Diagnostic, NetcError


def write_output(text: str, path: str | None) -> None:
    """Print `text`, or replace the regular file `path` with it in one rename.

    The text goes to a temporary file beside the target, is flushed to disk and renamed over
    it, so a reader (or a crash) sees the old file or the new one, never a mix. Only regular
    files are written: a device node (`-o /dev/null`), a FIFO or a directory is refused, and so
    is a symbolic link (renaming over it would replace the link, and resolving it first would
    let a link planted in a shared directory redirect root's write). The new file keeps the old
    one's permission bits, or gets the usual umask-based ones (mkstemp alone gives 0600). A
    SIGTERM, SIGHUP or SIGINT while writing removes the temporary file (SIGKILL cannot be
    caught: the file is then `.netc-*` beside the target, as small as the text). Problems are
    bad usage (exit 2), not a crash.
    """
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    import tempfile  # only for -o: keeps it off start-up when printing to stdout

    _check_target(path)
    target = os.path.abspath(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".netc-", dir=os.path.dirname(target))
    except OSError as err:
        raise _cannot(path, err.strerror or str(err)) from None
    try:
        with _removed_on_signals(tmp), os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(tmp, _mode_for(target))
            os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            raise _cannot(path, err.strerror or str(err)) from None
        raise


def _check_target(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise _cannot(path, err.strerror or str(err)) from None
    if stat.S_ISLNK(info.st_mode):
        raise _cannot(path, "is a symbolic link; give the path of the file itself")
    if stat.S_ISDIR(info.st_mode):
        raise _cannot(path, "is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise _cannot(path, "is not a regular file (a device, FIFO or socket)")


@contextmanager
def _removed_on_signals(tmp: str) -> Iterator[None]:
    """While writing: a terminating signal removes `tmp`, then ends netc as the signal would."""
    import signal  # only for -o, like tempfile
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _mode_for(target: str) -> int:
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _cannot(path: str, why: str) -> NetcError:
    return NetcError(Diagnostic(f"cannot write output: {why}", None, None, file=path))
