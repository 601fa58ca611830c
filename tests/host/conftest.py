"""Fixtures for the host tests live in host_support and dhcp_guest (unique module names,
importable by tests)."""

from dhcp_guest import guest  # noqa: F401
from host_support import flavour, isolated_config, netc  # noqa: F401
