"""tests/netguard.py blocks non-loopback connections (before any packet leaves) and allows loopback."""
from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.netguard import Guard, NetworkBlocked, is_loopback, no_network
from tests.netguard import offline  # noqa: F401  (the fixture)

TEST_NET = "203.0.113.1"  # RFC 5737 TEST-NET-3: never routed


def test_blocks_a_non_loopback_connect_immediately() -> None:
    with no_network(strict=False) as guard:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        t0 = time.monotonic()
        with pytest.raises(NetworkBlocked, match="203.0.113.1"):
            s.connect((TEST_NET, 80))
        assert time.monotonic() - t0 < 0.5  # refused by us, not by a timeout
        with pytest.raises(NetworkBlocked):
            s.connect_ex((TEST_NET, 443))
        s.close()
        with pytest.raises(NetworkBlocked):
            socket.create_connection((TEST_NET, 80), timeout=5)
        with pytest.raises(NetworkBlocked):
            socket.getaddrinfo("huggingface.co", 443)
        with pytest.raises(urllib.error.URLError) as info:  # urllib wraps the OSError
            # no proxy: the request itself must be what gets blocked
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            direct.open("http://example.com/", timeout=5)
        assert isinstance(info.value.reason, NetworkBlocked)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with pytest.raises(NetworkBlocked):
            u.sendto(b"q", ("8.8.8.8", 53))
        u.close()
    assert len(guard.attempts) == 6
    assert isinstance(NetworkBlocked("x"), OSError)  # code that handles "offline" still sees an OSError
    # everything is restored afterwards
    assert socket.getaddrinfo("127.0.0.1", 80)


def test_strict_mode_fails_even_when_the_error_was_swallowed() -> None:
    with pytest.raises(AssertionError, match="network access was attempted"):
        with no_network():
            try:
                socket.create_connection((TEST_NET, 80), timeout=1)
            except OSError:
                pass  # a library "handling" being offline must not hide the attempt


def test_loopback_is_allowed(offline: Guard) -> None:  # noqa: F811
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        port = server.server_address[1]
        for host in ("127.0.0.1", "localhost"):
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"http://{host}:{port}/", timeout=5) as resp:
                assert resp.read() == b"hi"
    finally:
        server.shutdown()
        server.server_close()
    assert offline.attempts == []


def test_is_loopback() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "::ffff:127.0.0.1", b"127.0.0.1",
                 None):
        assert is_loopback(host), host
    for host in ("203.0.113.1", "10.0.0.1", "huggingface.co", "0.0.0.1", "::ffff:8.8.8.8"):
        assert not is_loopback(host), host
