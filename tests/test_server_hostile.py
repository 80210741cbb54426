"""Hostile input on the real app: every answer is a 4xx JSON error naming the field, nothing is
queued, and nothing is logged at ERROR or with a traceback (issue 12, items 6, 7 and 9)."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import gzip
import io
import logging
import struct
import wave
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import server.routes
from server.app import create_app
from server.config import Config
from server.routes import UPLOADS_AT_ONCE

ZEROS_400 = "1" + "0" * 400
JSON = "application/json"
KIND = "multipart/form-data; boundary=XyZ"
Caplog = pytest.LogCaptureFixture


@pytest.fixture(autouse=True)
def _info_logs(caplog: Caplog) -> None:
    caplog.set_level(logging.INFO)


def assert_quiet(caplog: Caplog) -> None:
    """No ERROR, no traceback, nothing "internal" in the log since the test began."""
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]
    assert "Traceback" not in caplog.text
    assert "-> 500" not in caplog.text


async def jobs(client: Any) -> list[dict[str, Any]]:
    resp = await client.get("/api/jobs")
    assert resp.status == 200
    listed: list[dict[str, Any]] = (await resp.json())["jobs"]
    return listed


async def assert_refused(resp: Any, field: str, status: int = 400) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/json")
    error: dict[str, Any] = await resp.json()
    assert error["status"] == status
    assert error.get("field") == field, error
    assert error["error"].startswith(field)
    return error


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (nothing behind it is ever decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


# --- the video request: numbers, depth, NUL bytes, lone surrogates ------------------------------

HOSTILE_JSON: list[tuple[str, str]] = [
    # numbers of any size
    ('{"topic": "x", "fps": %s}' % ZEROS_400, "fps"),
    ('{"topic": "x", "fps": -%s}' % ZEROS_400, "fps"),
    ('{"topic": "x", "fps": %s}' % ("9" * 5000), "fps"),  # past Python's own 4300-digit limit
    ('{"topic": "x", "num_scenes": %s}' % ZEROS_400, "num_scenes"),
    ('{"topic": "x", "seed": %s}' % ZEROS_400, "seed"),
    ('{"topic": "x", "duration": %s}' % ZEROS_400, "duration"),
    ('{"topic": "x", "duration": 1e400}', "duration"),
    ('{"topic": "x", "duration": -1e400}', "duration"),
    ('{"topic": "x", "duration": NaN}', "duration"),
    ('{"topic": "x", "num_scenes": 1e400}', "num_scenes"),
    ('{"topic": "x", "seed": 99999999999999999999}', "seed"),
    ('{"topic": %s}' % ZEROS_400, "topic"),
    ('{"topic": "x", "captions": %s}' % ZEROS_400, "captions"),
    ('{"topic": "x", "stock_keywords": [%s]}' % ZEROS_400, "stock_keywords[0]"),
    ('{"topic": "x", "characters": [{"name": %s}]}' % ZEROS_400, "characters[0].name"),
    (ZEROS_400, "body"),
    # JSON of any depth
    ("[" * 3000 + "]" * 3000, "body"),
    ('{"a":' * 3000 + "1" + "}" * 3000, "body"),
    ('{"topic": "x", "extra": ' + "[" * 3000 + "]" * 3000 + "}", "body"),
    ('{"topic": "x", "characters": ' + "[" * 40 + "]" * 40 + "}", "body"),
    ("[" * 100_000, "body"),  # unbalanced as well as deep
    # NUL bytes, control characters and lone surrogates in every string and path field
    ('{"topic": "a \\ud800 b"}', "topic"),
    ('{"topic": "a \\udfff"}', "topic"),
    ('{"topic": "a\\u0000b"}', "topic"),
    ('{"topic": "red \\u001b[31m alert"}', "topic"),
    ('{"topic": "x", "music": "/tmp/a\\u0000.mp3"}', "music"),
    ('{"topic": "x", "music": "/tmp/\\ud800.mp3"}', "music"),
    ('{"topic": "x", "music": "/tmp/a\\nb.mp3"}', "music"),
    (
        '{"topic": "x", "image_mode": "manual_only", "manual_image_paths": ["/tmp/\\ud800.png"]}',
        "manual_image_paths[0]",
    ),
    (
        '{"topic": "x", "image_mode": "manual_only", "manual_image_paths": ["/tmp/a\\u0000.png"]}',
        "manual_image_paths[0]",
    ),
    ('{"topic": "x", "manual_image_paths": ["ok", "/x/\\udc80"]}', "manual_image_paths[1]"),
    ('{"topic": "x", "stock_keywords": ["sea", "\\ud83d"]}', "stock_keywords[1]"),
    ('{"topic": "x", "stock_keywords": ["s\\u0000a"]}', "stock_keywords[0]"),
    ('{"topic": "x", "characters": [{"name": "\\ud800"}]}', "characters[0].name"),
    ('{"topic": "x", "characters": [{"name": "A", "description": "b\\u0000"}]}', "characters[0].description"),
    ('{"topic": "x", "characters": [{"name": "A\\nB"}]}', "characters[0].name"),
    ('{"topic": "x", "story_type": "horror\\ud800"}', "story_type"),
    ('{"topic": "x", "image_style": "\\u0000"}', "image_style"),
    ('{"topic": "x", "voice_id": "deep\\udbff"}', "voice_id"),
    ('{"topic": "x", "pacing": "fast\\u0000"}', "pacing"),
    ('{"topic": "x", "aspect_ratio": "\\ud800"}', "aspect_ratio"),
]


async def test_hostile_json_is_a_400_naming_the_field(client: Any, caplog: Caplog) -> None:
    # One app for every case (an app per case costs a second each on 2 cores); each case says
    # which it is when it fails.
    cases = [(raw.encode(), field) for raw, field in HOSTILE_JSON] + [
        (b'{"topic": "\xff\xfe"}', "body"),  # not UTF-8
        (b'{"topic": "\xed\xa0\x80"}', "topic"),  # a surrogate encoded as UTF-8 bytes
        (b"", "body"),
        (b"\x00", "body"),
        (b'"just a string"', "body"),
    ]
    for raw, field in cases:
        resp = await client.post("/api/generate-video", data=raw, headers={"Content-Type": JSON})
        try:
            await assert_refused(resp, field)
        except AssertionError as exc:
            raise AssertionError(f"{raw[:80]!r}: {exc}") from None
    assert await jobs(client) == []
    assert (await client.get("/health")).status == 200
    assert_quiet(caplog)


async def test_large_but_sane_numbers_and_unicode_still_work(client: Any) -> None:
    # The refusals above must not catch honest input: emoji (a surrogate *pair* in JSON), accents.
    resp = await client.post(
        "/api/generate-video",
        data='{"topic": "Caf\\u00e9 \\ud83d\\udc7b ghost", "seed": 4294967295, "duration": 0.25}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 200, await resp.text()
    job = await (await client.get(f"/api/jobs/{(await resp.json())['job_id']}")).json()
    assert job["spec"]["topic"] == "Café 👻 ghost" and job["spec"]["seed"] == 4294967295


# --- bodies that arrive in pieces ---------------------------------------------------------------


async def raw_http(client: Any, head: bytes, pieces: list[bytes], pause: float = 0.3) -> tuple[int, bytes]:
    """Sends ``head`` then each piece after a pause, on one socket; returns (status, body)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head)
        await writer.drain()
        for piece in pieces:
            await asyncio.sleep(pause)
            writer.write(piece)
            await writer.drain()
    except ConnectionError:
        pass  # the server answered (413) and closed before everything was sent
    try:
        return await asyncio.wait_for(read_response(reader), 20)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with a Content-Length (all of ours have one)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    pairs = (line.partition(":") for line in lines[1:] if line)
    headers = {k.strip().lower(): v.strip() for k, _, v in pairs}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split(" ", 2)[1]), body


def http_head(path: str, content_type: str, length: int | None, port: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: localhost:{port}", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(*pieces: bytes) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]


async def test_body_in_two_tcp_pieces_is_read_whole(client: Any, caplog: Caplog) -> None:
    body = b'{"topic": "The Vanishing Lighthouse", "duration": 0.25, "num_scenes": 3}'
    head = http_head("/api/generate-video", "application/json", len(body), client.port)
    status, answer = await raw_http(client, head, [body[:20], body[20:]])
    assert status == 200, answer
    assert b'"job_id"' in answer
    # Chunked transfer encoding, in pieces, too.
    head = http_head("/api/generate-video", "application/json", None, client.port)
    status, answer = await raw_http(client, head, chunked(body[:7], body[7:40], body[40:]))
    assert status == 200, answer
    assert len(await jobs(client)) == 2
    assert_quiet(caplog)


async def test_body_past_the_limit_in_pieces_is_413(
    client: Any, config: Config, caplog: Caplog
) -> None:
    third = b"x" * (config.max_body_bytes // 3 + 10)
    head = http_head("/api/generate-video", "application/json", None, client.port)
    status, answer = await raw_http(client, head, chunked(b'{"topic": "', third, third, third, b'"}'), 0.1)
    assert status == 413 and b'"field": "body"' in answer
    # A Content-Length over the limit is refused before a byte of the body is read.
    head = http_head("/api/generate-video", "application/json", config.max_body_bytes + 1, client.port)
    status, answer = await raw_http(client, head, [])
    assert status == 413 and b'"field": "body"' in answer
    assert await jobs(client) == []
    assert_quiet(caplog)


async def test_client_hanging_up_mid_body_is_quiet(client: Any, caplog: Caplog) -> None:
    for path in ("/api/generate-video", "/api/upload"):
        kind = "application/json" if path.endswith("video") else "multipart/form-data; boundary=b"
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(http_head(path, kind, 5000, client.port) + b'{"topic": "cut')
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        await asyncio.sleep(0.3)
    assert await jobs(client) == []
    assert_quiet(caplog)


async def test_compressed_and_malformed_http_is_bounded_and_quiet(client: Any, caplog: Caplog) -> None:
    def head(length: int, extra: str) -> bytes:
        return http_head("/api/generate-video", JSON, length, client.port).replace(
            b"Connection: close", f"{extra}\r\nConnection: close".encode()
        )

    # A gzip bomb (300 KB that inflates to 300 MB) stops at the 1 MB limit, after decompression.
    bomb = gzip.compress(b'{"topic": "' + b"a" * (300 * 1024 * 1024) + b'"}', 9)
    status, answer = await raw_http(client, head(len(bomb), "Content-Encoding: gzip"), [bomb])
    assert status == 413 and b'"field": "body"' in answer
    # A body that claims gzip but is not: 400 naming the body.
    status, answer = await raw_http(client, head(5, "Content-Encoding: gzip"), [b"xxxxx"])
    assert status == 400 and b'"field": "body"' in answer
    # Malformed HTTP that aiohttp answers below the app: a 400 all the same, and one INFO line.
    status, _ = await raw_http(client, head(2, "X-Big: " + "a" * 20_000), [b"{}"])
    assert status == 400
    # Broken chunked framing: aiohttp leaves the handler waiting for a body that never comes; it
    # ends, quietly, when the client goes (or after BODY_IDLE_S, below).
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(http_head("/api/generate-video", JSON, None, client.port) + b"zz\r\n{}\r\n0\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    # An honest gzip body still works.
    small = gzip.compress(b'{"topic": "zipped", "duration": 0.25}')
    status, answer = await raw_http(client, head(len(small), "Content-Encoding: gzip"), [small])
    assert status == 200, answer
    assert len(await jobs(client)) == 1
    assert_quiet(caplog)


async def test_a_body_that_stops_arriving_is_408(
    client: Any, config: Config, caplog: Caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.routes, "BODY_IDLE_S", 0.5)
    body = b'{"topic": "never finished"}'
    head = http_head("/api/generate-video", JSON, len(body), client.port)
    status, answer = await raw_http(client, head, [body[:10]])
    assert status == 408 and b'"field": "body"' in answer
    # A stalled upload gives its slot back: the next ones go through.
    form = multipart(png_bytes())
    head = http_head("/api/upload", KIND, len(form), client.port)
    for _ in range(UPLOADS_AT_ONCE + 1):
        status, answer = await raw_http(client, head, [form[:100]])
        assert status == 408 and b'"field": "file"' in answer
    resp = await client.post("/api/upload", data=form, headers={"Content-Type": KIND})
    assert resp.status == 201
    assert await jobs(client) == []
    assert_quiet(caplog)


async def test_hostile_header_bytes(client: Any, caplog: Caplog) -> None:
    async def get(path: str, header: bytes) -> int:
        reader, writer = await asyncio.open_connection(client.host, client.port)
        host = b"Host: localhost\r\n" if not header.startswith(b"Host:") else b""
        request = b"GET " + path.encode() + b" HTTP/1.1\r\n" + host + header
        writer.write(request + b"\r\nConnection: close\r\n\r\n")
        await writer.drain()
        try:
            return (await asyncio.wait_for(read_response(reader), 20))[0]
        finally:
            writer.close()

    odd = (b"Origin: http://\xff\xfe", b"Host: \xed\xa0\x80", b"Referer: \xff", b"Sec-Fetch-Site: \xff")
    for header in odd:
        assert await get("/api/progress", header) in (200, 400, 403)
        assert await get("/api/video/missing.mp4", header) in (400, 403, 404)
    assert await get("/api/video/missing.mp4", b"Sec-Fetch-Site: cross-site\r\nReferer: \xff") == 403
    assert_quiet(caplog)


# --- other endpoints and query strings ----------------------------------------------------------


async def test_cancel_refuses_hostile_bodies_and_ids(client: Any, caplog: Caplog) -> None:
    url = "/api/jobs/0123456789abcdef/cancel"
    resp = await client.post(url, data=b"[" * 5000, headers={"Content-Type": "application/json"})
    await assert_refused(resp, "body")
    resp = await client.post(url, data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    await assert_refused(resp, "body", 413)
    resp = await client.post(url, data=b"{}", headers={"Content-Type": "text/plain"})
    await assert_refused(resp, "Content-Type", 415)
    for bad in ("%00", "a%0Ab", "%ED%A0%80", "x" * 5000, "..%2F..%2Fetc"):
        await assert_refused(await client.post(f"/api/jobs/{bad}/cancel"), "job_id")
    resp = await client.post(url)
    assert resp.status == 404
    assert (await resp.json())["error"] == "No job with id '0123456789abcdef'"
    assert await jobs(client) == []
    assert_quiet(caplog)


@pytest.mark.parametrize("bad", ["%00", "a%0Ab", "%0D%0A", "%ED%A0%80", "%FF", "x" * 5000, "a%2Fb", "'"])
async def test_hostile_job_ids_in_query_and_path(client: Any, caplog: Caplog, bad: str) -> None:
    await assert_refused(await client.get(f"/api/progress?job_id={bad}"), "job_id")
    for resp in (await client.get(f"/api/jobs/{bad}"), await client.delete(f"/api/jobs/{bad}")):
        assert resp.status in (400, 404) and "error" in await resp.json()  # 404: "/" splits the path
    assert await jobs(client) == []
    assert_quiet(caplog)


async def test_unknown_job_id_keeps_its_404_reason(client: Any) -> None:
    for path in ("/api/progress?job_id=abc", "/api/jobs/abc"):
        resp = await client.get(path)
        assert resp.status == 404
        assert (await resp.json())["error"] == "No job with id 'abc'"
    resp = await client.get("/api/video/nothing_here.mp4")
    assert resp.status == 404
    assert (await resp.json())["error"] == "No video named 'nothing_here.mp4'"
    resp = await client.get("/api/nowhere")
    assert (await resp.json())["error"] == "No such endpoint or file: /api/nowhere"
    # An empty job_id is no job_id: the most recent job (idle here), as before.
    assert await (await client.get("/api/progress?job_id=")).json() == {"status": "idle", "progress": 0}


@pytest.mark.parametrize("bad", ["%00", "1e400", "9" * 5000, "%ED%A0%80", "-"])
async def test_hostile_limit_query(client: Any, caplog: Caplog, bad: str) -> None:
    await assert_refused(await client.get(f"/api/jobs?limit={bad}"), "limit")
    assert_quiet(caplog)


@pytest.mark.parametrize(
    "name", ["%00.mp4", "%ED%A0%80.mp4", "a%0Ab.mp4", "x" * 3000 + ".mp4", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"]
)
async def test_hostile_video_names(client: Any, caplog: Caplog, name: str) -> None:
    resp = await client.get(f"/api/video/{name}")
    assert resp.status == 404 and (await resp.json())["error"].startswith("No video named")
    assert_quiet(caplog)


async def test_hostile_range_headers(client: Any, config: Config, caplog: Caplog) -> None:
    config.videos_dir.mkdir(parents=True, exist_ok=True)
    (config.videos_dir / "v.mp4").write_bytes(b"\x00" * 1000)
    for rng in ("bytes=abc", "bytes=99999999999999999999999999-", "bytes=5-1", "bytes=-0", "x" * 4000):
        resp = await client.get("/api/video/v.mp4", headers={"Range": rng})
        assert resp.status in (200, 206, 416), (rng, resp.status)
    assert_quiet(caplog)


# --- uploads ------------------------------------------------------------------------------------


def multipart(data: bytes, filename: str = "pic.png", boundary: str = "XyZ") -> bytes:
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return head.encode("utf-8", "surrogateescape") + data + f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize(
    ("content_type", "body", "field", "status"),
    [
        ("multipart/form-data", multipart(png_bytes()), "Content-Type", 400),
        ("multipart/form-data; boundary=", multipart(png_bytes()), "Content-Type", 400),
        (
            "multipart/form-data; boundary=" + "b" * 71,
            multipart(png_bytes(), boundary="b" * 71),
            "Content-Type",
            400,
        ),
        ("multipart/mixed; boundary=XyZ", multipart(png_bytes()), "Content-Type", 415),
        (KIND, b"no boundary anywhere in here", "file", 400),
        (KIND, multipart(png_bytes())[:60], "file", 400),
        (KIND, b"--XyZ\r\n" + b"X" * 200_000 + b"\r\n\r\n", "file", 400),
        (KIND, b"--XyZ--\r\n", "file", 400),
        (KIND, multipart(png_header_only(32, 50_000)), "file", 400),
        (KIND, multipart(png_header_only(50_000, 32)), "file", 400),
        (KIND, multipart(png_header_only(10_000, 6_000)), "file", 400),
        (KIND, multipart(png_header_only(60_000, 60_000)), "file", 400),
        (KIND, multipart(png_bytes((8, 8))), "file", 400),
        (KIND, multipart(png_bytes(), filename="\udcff\u00e9\t.png"), "file", 201),
    ],
)
async def test_hostile_uploads(
    client: Any,
    config: Config,
    caplog: Caplog,
    content_type: str,
    body: bytes,
    field: str,
    status: int,
) -> None:
    resp = await client.post("/api/upload", data=body, headers={"Content-Type": content_type})
    if status == 201:
        assert resp.status == 201, await resp.text()
        stored = Path((await resp.json())["path"])
        assert stored.parent == config.upload_dir.resolve() and stored.name.isascii()
    else:
        error = await assert_refused(resp, field, status)
        if b"50000" in body:
            assert "aspect ratio" in error["error"]
    leftovers = [p.name for p in config.upload_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert await jobs(client) == []
    assert_quiet(caplog)


@pytest.fixture
async def small_upload_client(aiohttp_client: Any, config: Config) -> Any:
    return await aiohttp_client(create_app(dataclasses.replace(config, max_upload_bytes=256 * 1024)))


async def test_upload_past_the_limit_is_413_streamed_or_declared(
    small_upload_client: Any, config: Config, caplog: Caplog
) -> None:
    client = small_upload_client
    kind = KIND
    head = http_head("/api/upload", kind, None, client.port)
    start = multipart(b"")[: -len(b"\r\n--XyZ--\r\n")]
    status, answer = await raw_http(client, head, chunked(start, *[b"\x00" * 100_000] * 4), 0.05)
    assert status == 413 and b'"field": "file"' in answer
    head = http_head("/api/upload", kind, 10 * 1024 * 1024, client.port)
    status, answer = await raw_http(client, head, [])
    assert status == 413 and b'"field": "file"' in answer
    assert [p for p in config.upload_dir.iterdir()] == []
    assert_quiet(caplog)


async def test_uploads_stream_to_disk_and_are_bounded_at_once(
    client: Any, config: Config, caplog: Caplog
) -> None:
    picture = png_bytes((640, 480))
    form = multipart(picture + b"\x00" * (2 * 1024 * 1024))  # PNG ignores what follows IEND
    cut = len(form) - 1000
    stalled = []
    for _ in range(UPLOADS_AT_ONCE):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        head = http_head("/api/upload", KIND, len(form), client.port)
        writer.write(head + form[:cut])
        await writer.drain()
        stalled.append((reader, writer))
    # Each stalled upload is on disk (a .part file in the upload folder), not in memory.
    for _ in range(50):
        parts = sorted(config.upload_dir.glob(".upload*")) if config.upload_dir.exists() else []
        if len(parts) == UPLOADS_AT_ONCE and all(p.stat().st_size > 1024 * 1024 for p in parts):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"uploads were not streamed to disk: {parts}")
    # One more at once is refused, clearly, at once.
    resp = await client.post(
        "/api/upload", data=multipart(picture), headers={"Content-Type": KIND}
    )
    error = await assert_refused(resp, "file", 429)
    assert str(UPLOADS_AT_ONCE) in error["error"]
    # The stalled ones finish and are stored; then the gate is open again.
    for reader, writer in stalled:
        writer.write(form[cut:])
        await writer.drain()
    for reader, writer in stalled:
        status, answer = await asyncio.wait_for(read_response(reader), 20)
        assert status == 201, answer[:300]
        writer.close()
    resp = await client.post(
        "/api/upload", data=multipart(picture), headers={"Content-Type": KIND}
    )
    assert resp.status == 201
    assert not list(config.upload_dir.glob(".*"))
    assert len(list(config.upload_dir.iterdir())) == UPLOADS_AT_ONCE + 1
    assert_quiet(caplog)


async def test_upload_folder_that_will_not_take_the_file_is_507_not_500(
    client: Any, config: Config, tmp_path: Path, caplog: Caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a "folder" that is a file: mkdir/open fail with an OSError
    monkeypatch.setattr(server.routes, "part_path", lambda final: blocker / "sub" / ".upload.part-x")
    resp = await client.post("/api/upload", data=multipart(png_bytes()), headers={"Content-Type": KIND})
    error = await assert_refused(resp, "file", 507)
    assert "could not be stored" in error["error"]
    full = server.routes._not_stored(config, OSError(errno.ENOSPC, "No space left on device"))
    assert full.status == 507 and "the disk is full" in full.message and "MB free" in full.message
    assert_quiet(caplog)


# --- images and music named in the request ------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "words"),
    [((32, 50_000), "aspect ratio"), ((10_000, 6_000), "megapixels"), ((8, 8), "only 8x8")],
)
async def test_manual_images_refused_from_their_header(
    client: Any,
    tmp_path: Path,
    caplog: Caplog,
    size: tuple[int, int],
    words: str,
) -> None:
    path = tmp_path / "strip.png"
    path.write_bytes(png_header_only(*size) if size != (8, 8) else png_bytes(size))
    body = {"topic": "x", "image_mode": "manual_only", "manual_image_paths": [str(path)]}
    error = await assert_refused(await client.post("/api/generate-video", json=body), "manual_image_paths[0]")
    assert words in error["error"]
    assert await jobs(client) == []
    assert_quiet(caplog)


def write_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return path


async def test_music_must_be_audio(client: Any, tmp_path: Path, caplog: Caplog) -> None:
    fake = tmp_path / "song.mp3"
    fake.write_bytes(png_bytes())
    (tmp_path / "empty.wav").write_bytes(b"")
    cases = ((fake, "does not start like audio"), (tmp_path / "empty.wav", "empty"), (tmp_path, "audio file"))
    for music, words in cases:
        resp = await client.post("/api/generate-video", json={"topic": "x", "music": str(music)})
        error = await assert_refused(resp, "music")
        assert words in error["error"]
    assert await jobs(client) == []
    song = write_wav(tmp_path / "song.wav")
    resp = await client.post("/api/generate-video", json={"topic": "x", "music": str(song), "duration": 0.25})
    assert resp.status == 200, await resp.text()
    assert_quiet(caplog)
