"""What every answer carries, and which names the device answers to.

* Headers on every response: a Content-Security-Policy that lets the page load
  only the device's own scripts, styles and images (no inline script, no other
  site, no framing), ``X-Frame-Options: DENY``, ``X-Content-Type-Options:
  nosniff`` and ``Referrer-Policy: no-referrer``.
* The ``Host`` header must be one of the device's own names or addresses,
  ``localhost``, or a name configured in ``ALLOWED_HOSTS``; anything else is
  ``421 Misdirected Request``.  A web page that rebinds its own DNS name to
  the dowel's address then reaches the dowel with its own name in ``Host``
  and is refused, so it cannot read the athlete's history from a visitor's
  phone.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Iterable, Optional

from flask import Flask, current_app, request

from .errors import ApiError

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Shortest time between two re-reads of the device's addresses (DHCP can move
#: them while the device runs; a flood of strange Hosts must not make it busy).
REFRESH_S = 5.0


def _interface_addresses() -> set:
    """Every address of this machine's interfaces that can be found without a
    library: Linux's interface tables, then what the host name resolves to."""
    found = set()
    try:
        import fcntl
        import struct

        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for _, name in socket.if_nameindex():
                try:
                    packed = fcntl.ioctl(probe.fileno(), 0x8915,      # SIOCGIFADDR
                                         struct.pack("256s", name.encode()[:15]))
                    found.add(socket.inet_ntoa(packed[20:24]))
                except OSError:
                    pass                     # interface without an IPv4 address
        finally:
            probe.close()
    except (ImportError, OSError, AttributeError):
        pass
    try:
        with open("/proc/net/if_inet6") as table:
            for line in table:
                raw = line.split()[0]
                found.add(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    except (OSError, ValueError, IndexError):
        pass
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            for info in socket.getaddrinfo(name, None):
                found.add(info[4][0].split("%")[0])
        except OSError:
            pass
    return found


class HostNames:
    """The names and addresses this device answers to (see the module doc)."""

    def __init__(self, extra: Iterable[str] = (), addresses=_interface_addresses):
        hostname = socket.gethostname().lower()
        self.names = {"localhost", hostname, f"{hostname}.local", socket.getfqdn().lower()}
        self.names.update(n.strip().lower().rstrip(".") for n in extra if n and n.strip())
        self._read_addresses = addresses
        self._lock = threading.Lock()
        self._addresses: set = set()
        self._read_at = float("-inf")
        self._refresh()

    def _refresh(self) -> None:
        addresses = {"127.0.0.1", "::1"}
        addresses.update(self._read_addresses())
        self._addresses = {_normal_ip(a) for a in addresses if _normal_ip(a)}
        self._read_at = time.monotonic()

    def allows(self, host: str) -> bool:
        name = split_host(host)
        if name is None:
            return False
        if name in self.names:
            return True
        ip = _normal_ip(name)
        if ip is None:
            return False
        if ip in self._addresses or ipaddress.ip_address(ip).is_loopback:
            return True
        with self._lock:
            if time.monotonic() - self._read_at >= REFRESH_S:
                self._refresh()
        return ip in self._addresses


def split_host(host: str) -> Optional[str]:
    """The name or address in a ``Host`` header, lower case, without the port."""
    host = host.strip().lower()
    if host.startswith("["):                       # [v6]:port
        end = host.find("]")
        return host[1:end] if end > 0 else None
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".") or None


def _normal_ip(text: str) -> Optional[str]:
    try:
        return str(ipaddress.ip_address(text.split("%")[0]))
    except ValueError:
        return None


def install(app: Flask) -> None:
    """The Host rule (first, before anything else runs) and the headers."""
    app.extensions["dowel_hosts"] = HostNames(app.config.get("ALLOWED_HOSTS") or ())

    @app.before_request
    def _host_is_ours():
        # Without a Host header (HTTP/1.0) there is no name to be misled by.
        host = request.environ.get("HTTP_HOST")
        if host is None:
            return
        if not current_app.extensions["dowel_hosts"].allows(host):
            raise ApiError(421, f"host: this device does not answer to {host[:80]!r}; "
                                "open it by its own name or address", "host")

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
