"""netc: compile virtual-network firewalls to nftables and iptables, and prove both equivalent."""

__version__ = "0.1.0"
