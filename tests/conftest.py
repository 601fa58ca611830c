"""Session-wide setup: the shared namespace fixture, and the guard for the host's netc paths."""

from __future__ import annotations

import os
import shutil
import tempfile

import host_guard
from kernel_support import scratch_ns  # noqa: F401  (fixture shared by every test module)

_before: dict = {}
_scratch: list[str] = []


def pytest_configure(config) -> None:
    """Aim the default config and state paths at a scratch directory before any test runs."""
    scratch = tempfile.mkdtemp(prefix="netc-session-")
    _scratch.append(scratch)
    config_file = os.path.join(scratch, "netc.conf")
    with open(config_file, "w", encoding="utf-8") as handle:
        handle.write("# the test session's config: empty, so backends are auto-detected\n")
    os.environ["NETC_CONFIG"] = config_file
    os.environ["NETC_STATE_DIR"] = os.path.join(scratch, "state")
    _before.update(host_guard.snapshot())


def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the run when a test created or changed anything under the host's netc paths."""
    for scratch in _scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    changed = host_guard.changes(_before, host_guard.snapshot())
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "tests touched the host's netc paths:\n  " + "\n  ".join(changed) + "\n"
        if reporter is not None:
            reporter.write_line(text, red=True)
        session.exitstatus = 1
