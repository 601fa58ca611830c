"""Shared pieces of apply / down / migrate: options, the merged program, the report."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from netc.pipeline import Compiled, compile_files, compile_sources
from netc.diagnostics import Diagnostic, NetcError

from .run import Host
from .state import State, load_state, state_path


@dataclass(frozen=True, slots=True)
class Where:
    """Where host commands act and keep their state."""

    netns: str | None = None
    state_dir: str | None = None
    config: str | None = None

    def host(self) -> Host:
        host = Host(self.netns)
        if not host.namespace_exists():
            raise NetcError(Diagnostic(f"network namespace '{self.netns}' does not exist"))
        return host

    @property
    def state_file(self) -> str:
        return state_path(self.state_dir, self.netns)

    def state(self) -> State | None:
        return load_state(self.state_file)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state's lock: one netc at a time changes a host (libvirt has one mutex too).

        Taking it also proves, before anything changes, that the state can be written. The lock
        file goes again when no state is left (after `down`, or an apply that was refused), so a
        host netc no longer manages keeps no file of netc's.
        """
        path = self.state_file + ".lock"
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o755, exist_ok=True)
            fd = _open_locked(path)
        except OSError as err:
            raise NetcError(
                Diagnostic(
                    f"cannot write netc's state: {err.strerror}",
                    hint="run as root, or point --state-dir (NETC_STATE_DIR) somewhere writable; "
                    "nothing was changed",
                    file=path,
                )
            ) from None
        try:
            yield
        finally:
            if not os.path.exists(self.state_file):
                os.unlink(path)  # still holding the lock: a waiter re-checks the inode
            os.close(fd)


def _open_locked(path: str) -> int:
    """Open and flock `path`; retry when the file was unlinked while this process waited."""
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@dataclass(slots=True)
class Report:
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


def read_files(paths: Sequence[str]) -> dict[str, str]:
    """Compile the files as given (diagnostics name them as the user did); key them absolute."""
    compiled = compile_files(paths)
    return {os.path.abspath(name): text for name, text in compiled.sources.items()}


def compile_stored(sources: dict[str, str]) -> Compiled:
    return compile_sources(sorted(sources.items()))
