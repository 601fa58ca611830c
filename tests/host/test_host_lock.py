"""The state lock: one netc at a time, and no lock file left once no state is left."""

from __future__ import annotations

import os
import threading
import time

from netc.host.lifecycle import Where
from netc.host.state import save_state


def test_lock_file_goes_with_the_state_and_stays_with_it(tmp_path):
    where = Where(state_dir=str(tmp_path))
    with where.locked():
        assert os.path.exists(where.state_file + ".lock")
    assert os.listdir(tmp_path) == []
    with where.locked():
        save_state(where.state_file, None)
        open(where.state_file, "w").close()  # a state now exists: the lock file stays
    assert sorted(os.listdir(tmp_path)) == ["state.json", "state.json.lock"]


def test_a_waiter_never_shares_the_lock_when_the_file_is_removed(tmp_path):
    """A waits on the file B unlinks on release: A must lock the new file, not the old inode."""
    where = Where(state_dir=str(tmp_path))
    holders: list[str] = []
    inside = threading.Lock()  # detects two holders at once
    overlaps: list[str] = []

    def hold(name: str, seconds: float) -> None:
        thread_where = Where(state_dir=str(tmp_path))
        with thread_where.locked():
            if not inside.acquire(blocking=False):
                overlaps.append(name)
                return
            holders.append(name)
            time.sleep(seconds)
            inside.release()

    first = threading.Thread(target=hold, args=("first", 0.3))
    first.start()
    time.sleep(0.05)
    waiters = [threading.Thread(target=hold, args=(f"w{n}", 0.05)) for n in range(4)]
    for thread in waiters:
        thread.start()
    for thread in [first, *waiters]:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert overlaps == [] and len(holders) == 5
    assert os.listdir(tmp_path) == []
