"""Forbid network access to anything but loopback, for tests that prove "no network at run time".

    from tests.netguard import no_network

    def test_job_is_offline(tmp_path):
        with no_network() as guard:
            run_the_job(...)
        assert guard.attempts == []          # also checked on exit (strict=True)

or as a fixture: ``from tests.netguard import offline`` in a test module, then take ``offline``
as an argument.

Patched while active: ``socket.socket.connect`` / ``connect_ex`` / ``sendto``,
``socket.create_connection``, ``socket.getaddrinfo`` and ``socket.gethostbyname``. A blocked
call raises ``NetworkBlocked`` (an OSError, as on an air-gapped machine) before any packet is
sent, and is recorded in ``guard.attempts`` so that code which swallows OSError cannot hide it.
Loopback (127.0.0.0/8, ::1, localhost) and Unix sockets are allowed.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest


class NetworkBlocked(OSError):
    """A connection to a non-loopback host was attempted while no_network() was active."""


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: Any) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard, used for binding
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


@dataclass
class Guard:
    strict: bool = True
    attempts: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def block(self, what: str) -> NetworkBlocked:
        with self._lock:
            self.attempts.append(what)
        return NetworkBlocked(f"network access blocked by tests/netguard.py: {what}")


def _address_host(family: int, address: Any) -> Any:
    if family == getattr(socket, "AF_UNIX", object()):
        return "localhost"
    if isinstance(address, tuple) and address:
        return address[0]
    return address


@contextmanager
def no_network(*, strict: bool = True) -> Iterator[Guard]:
    """While active, any non-loopback connection attempt raises NetworkBlocked. With ``strict``
    (default) leaving the block raises AssertionError if any attempt was made, even a swallowed one."""
    guard = Guard(strict)
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_sendto = socket.socket.sendto
    orig_create_connection = socket.create_connection
    orig_getaddrinfo = socket.getaddrinfo
    orig_gethostbyname = socket.gethostbyname

    def connect(self: socket.socket, address: Any) -> None:
        if not is_loopback(_address_host(self.family, address)):
            raise guard.block(f"connect to {address!r}")
        return orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not is_loopback(_address_host(self.family, address)):
            raise guard.block(f"connect_ex to {address!r}")
        return orig_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1]
        if not is_loopback(_address_host(self.family, address)):
            raise guard.block(f"sendto {address!r}")
        return orig_sendto(self, data, *args)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not is_loopback(address[0]):
            raise guard.block(f"create_connection to {address!r}")
        return orig_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise guard.block(f"getaddrinfo({host!r})")
        return orig_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not is_loopback(host):
            raise guard.block(f"gethostbyname({host!r})")
        return orig_gethostbyname(host)

    patches: list[tuple[Any, str, Any]] = [
        (socket.socket, "connect", connect), (socket.socket, "connect_ex", connect_ex),
        (socket.socket, "sendto", sendto), (socket, "create_connection", create_connection),
        (socket, "getaddrinfo", getaddrinfo), (socket, "gethostbyname", gethostbyname),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, new in patches:
        setattr(obj, name, new)
    try:
        yield guard
    finally:
        for obj, name, old in saved:
            setattr(obj, name, old)
    if guard.strict and guard.attempts:
        raise AssertionError("network access was attempted while forbidden: " + "; ".join(guard.attempts))


@pytest.fixture
def offline() -> Iterator[Guard]:
    """The whole test runs under no_network(strict=True)."""
    with no_network() as guard:
        yield guard
