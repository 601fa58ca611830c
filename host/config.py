"""`/etc/netc/netc.conf`: which firewall backend netc uses, like libvirt's `network.conf`.

    # /etc/netc/netc.conf
    firewall_backend = "nftables"     # or "iptables"; unset: auto-detect, nft first

The file is TOML (libvirt's `key = "value"` lines already are). `--config PATH` or the
`NETC_CONFIG` environment variable point elsewhere; the default file may be missing (all
defaults), a file named explicitly must exist.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError

DEFAULT_PATH = "/etc/netc/netc.conf"
ENV = "NETC_CONFIG"
BACKENDS = ("nftables", "iptables")
_ALIASES = {"nft": "nftables", "nftables": "nftables", "iptables": "iptables"}


@dataclass(frozen=True, slots=True)
class Config:
    firewall_backend: str | None  # "nftables", "iptables" or None (auto-detect)
    path: str | None  # the file read, None when the default file does not exist


def backend_name(value: str, where: str) -> str:
    """Canonical backend name for "nft"/"nftables"/"iptables"; NetcError otherwise."""
    try:
        return _ALIASES[value]
    except KeyError:
        raise NetcError(
            Diagnostic(
                f"unknown firewall backend '{value}'",
                hint='use "nftables" or "iptables"',
                file=where,
            )
        ) from None


def load_config(path: str | None = None) -> Config:
    explicit = path or os.environ.get(ENV) or None
    chosen = explicit or DEFAULT_PATH
    try:
        with open(chosen, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise NetcError(Diagnostic("config file not found", file=chosen)) from None
        return Config(None, None)
    except OSError as err:
        raise NetcError(Diagnostic(f"cannot read config: {err.strerror}", file=chosen)) from None
    except tomllib.TOMLDecodeError as err:
        raise NetcError(
            Diagnostic(
                f"bad config: {err}",
                hint='write lines like: firewall_backend = "nftables"',
                file=chosen,
            )
        ) from None
    unknown = sorted(set(data) - {"firewall_backend"})
    if unknown:
        raise NetcError(
            Diagnostic(
                f"unknown setting '{unknown[0]}'", hint="known: firewall_backend", file=chosen
            )
        )
    value = data.get("firewall_backend")
    if value is not None and not isinstance(value, str):
        raise NetcError(Diagnostic("firewall_backend must be a string", file=chosen))
    return Config(backend_name(value, chosen) if value else None, chosen)
