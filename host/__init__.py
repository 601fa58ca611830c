"""Putting compiled networks on a host and taking them away again (`netc apply/down/...`).

    lifecycle.py  where (netns, state dir, config), the lock, the report
    config.py     /etc/netc/netc.conf: firewall_backend, like libvirt's network.conf
    state.py      the JSON state file: what was applied, what netc created
    run.py        running nft/iptables/sysctl, on the host or in a network namespace
    links.py      bridges and addresses through pyroute2
    forwarding.py ip_forward and IPv6 forwarding, restored on down
    backends.py   nftables and iptables with one face: install, remove, listing
    iptables_save.py  reading iptables-save, removal generated from the live ruleset
    libvirt_chains.py  removing libvirt's LIBVIRT_* rules for netc's bridges (chains: once unused)
    libvirt_nft.py     removing libvirt's `libvirt_network` nft rules for them, by handle
    libvirt_leftovers.py  either's live rules for netc's bridges, for status/doctor/apply
    leftovers.py       the record both libvirt backend modules build for them
    nft_json.py        `nft -j` listings as (kind, body) pairs
    apply.py, down.py, status.py, migrate.py, doctor.py  the commands' work

Nothing here is imported by `netc compile`; pyroute2 is imported only inside links.py's
functions.
"""
