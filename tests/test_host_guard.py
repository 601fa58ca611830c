"""The session guard: tests cannot reach the host's netc config or state, and would be caught."""

from __future__ import annotations

import os

import host_guard
from netc.host.config import load_config
from netc.host.state import state_path


def test_default_paths_point_away_from_the_host():
    assert not state_path(None, None).startswith("/var/lib/netc")
    assert not load_config().path.startswith("/etc/netc")


def test_snapshot_sees_a_new_file_and_a_changed_one(tmp_path):
    watched = tmp_path / "netc"
    before = host_guard.snapshot([str(watched)])
    assert before == {str(watched): None}
    watched.mkdir()
    (watched / "state.json").write_text("{}")
    appeared = host_guard.snapshot([str(watched)])
    assert host_guard.changes(before, appeared) == [
        f"appeared: {watched}",
        f"appeared: {watched / 'state.json'}",
    ]
    os.utime(watched / "state.json", ns=(1, 1))
    assert host_guard.changes(appeared, host_guard.snapshot([str(watched)])) == [
        f"changed: {watched / 'state.json'}"
    ]
