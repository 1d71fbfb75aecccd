"""Loopback-only guard, loaded into the app's interpreter by the twin (it is first on the app's PYTHONPATH).

The twin promises that the app reaches nothing but the twin's loopback proxy. Proxies are set, so a correct
run never needs this; if a library ignored them, this refuses the connection (and any DNS lookup) instead of
letting traffic leave the machine, and says so on stderr, which the twin's tests look for. It changes no
behaviour of the app itself.
"""

import ipaddress
import socket
import sys
from typing import Any

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo
_lookups = {name: getattr(socket, name) for name in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr")}


def _is_loopback(host: object) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return str(host).lower() == "localhost"


def _refuse(what: object) -> ConnectionRefusedError:
    print(f"twin-guard: refused a connection to {what!r}: only loopback is allowed", file=sys.stderr, flush=True)
    return ConnectionRefusedError(111, f"twin-guard: {what!r} is not loopback")


def _checked(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise _refuse(address)


def connect(self: socket.socket, address: Any) -> None:
    _checked(self, address)
    return _connect(self, address)


def connect_ex(self: socket.socket, address: Any) -> int:
    _checked(self, address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):  # same signature as socket.getaddrinfo
    if host is not None and not _is_loopback(host):
        raise _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


def _guarded_lookup(name: str):
    def lookup(host, *args, **kwargs):
        if not _is_loopback(host):
            raise _refuse(host)
        return _lookups[name](host, *args, **kwargs)

    return lookup


for _name in _lookups:
    setattr(socket, _name, _guarded_lookup(_name))
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
