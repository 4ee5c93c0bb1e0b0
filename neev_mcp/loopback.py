"""One answer to "is this host this machine?", for every place that allows plain HTTP or no auth only locally."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """`localhost`, `127.0.0.0/8` and `::1` (brackets allowed, as in URLs)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
