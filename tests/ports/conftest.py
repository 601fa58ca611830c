"""The kernel topology fixtures, shared with tests/kernel."""

from kernel.conftest import make_topology  # noqa: F401
