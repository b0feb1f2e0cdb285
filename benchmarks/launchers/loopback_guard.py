"""Reject every network connection that does not go to this machine's loopback address.

The launchers import this before the anchor's code, so an anchor that would reach Asana's real
hosts (token refresh, telemetry, a host setting we missed) fails with ``ConnectionRefusedError``
naming the address instead of sending anything off the machine.
"""

from __future__ import annotations

import ipaddress
import socket

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(address: object) -> None:
    # AF_UNIX addresses are paths (str or bytes) and stay on the machine.
    if isinstance(address, str | bytes):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback(host):
        raise ConnectionRefusedError(f"loopback guard: connection to {host!r} rejected: only loopback addresses are allowed")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _original_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host if isinstance(host, str) else host.decode()):
        raise socket.gaierror(socket.EAI_NONAME, f"loopback guard: lookup of {host!r} rejected: only loopback names are allowed")
    return _original_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
