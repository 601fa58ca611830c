"""Fixtures for the host tests live in host_support (a unique module name, importable by tests)."""

from host_support import isolated_config, netc  # noqa: F401
