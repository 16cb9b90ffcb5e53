"""Who the client is when a proxy stands in between: `X-Forwarded-For`, believed only from
`[server] trusted_proxies`.

    peer = client_peer(trusted, "10.0.3.4:51234", "203.0.113.7, 10.0.2.9")   # -> "203.0.113.7:0"

Behind an ingress every request arrives from the ingress's address, so without this the login
throttle (which keys on user, address and user at an address) would lump every user into one
address and the audit log would name the ingress. The header is read only when the TCP peer itself
is in a trusted network (a client must not pick its own address), and walked from the right as
nginx's `real_ip_recursive` does: each trusted proxy appends the address it saw, so the right-most
address that is not a trusted proxy is the client. A hop that is not an address (only a client
could have written it, left of what the proxies appended) ends the walk at the peer's word: the
address the last trusted hop saw, or the peer itself. No trusted proxies (the default): the TCP
peer, exactly as without this module.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def trusted_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """The config's CIDRs (already checked at load: see adhoc.config)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_peer(trusted: tuple[str, ...], peer: str, forwarded_for: str | None) -> str:
    """`peer` ("host:port") unless it is a trusted proxy that says whom it forwards for; then that
    client as "host:0" (the port the proxy saw is not known)."""
    if not trusted or not forwarded_for:
        return peer
    networks = trusted_networks(trusted)
    host = _address(peer.rsplit(":", 1)[0].strip("[]"))
    if host is None or not _trusted(host, networks):
        return peer
    client = host
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, networks):
            break
    return peer if client == host else f"{client}:0"
