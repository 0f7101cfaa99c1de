#!/usr/bin/env python3
"""Usage: soak_load.py HTTP_PORT RTMP_PORT WORKERS SECONDS [PAUSE_MS]. Keeps N connections churning through a MonaServer for S seconds: each worker in turn opens an HTTP
keep-alive connection and GETs /hello.txt twice, upgrades a WebSocket and calls client:echo, or does an
RTMP handshake and connect; then closes, rests a random time up to PAUSE_MS (default 50) and starts again. Prints one line of counts at the end; exits 1
when any exchange failed (wrong answer, refused, time-out)."""
import asyncio
import os
import random
import struct
import sys
import time


async def read_until(reader, marker: bytes, limit: int = 1 << 20) -> bytes:
    data = b""
    while marker not in data:
        chunk = await reader.read(65536)
        if not chunk or len(data) > limit:
            raise IOError(f"closed or too long before {marker!r}")
        data += chunk
    return data


async def http(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(2):
            writer.write(b"GET /hello.txt HTTP/1.1\r\nHost: soak\r\n\r\n")
            answer = await read_until(reader, b"hello\n")
            if not answer.startswith(b"HTTP/1.1 200"):
                raise IOError(f"HTTP answer {answer[:30]!r}")
    finally:
        writer.close()


def ws_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


async def websocket(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = await read_until(reader, b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise IOError(f"upgrade answer {head[:30]!r}")
        writer.write(ws_frame('["echo",7,"soak"]'))
        await read_until(reader, b'[7,"soak"]')
        writer.write(bytes([0x88, 0x82]) + b"\0\0\0\0" + b"\x03\xe8")
    finally:
        writer.close()


def amf0_string(text: str) -> bytes:
    raw = text.encode()
    return b"\x02" + struct.pack(">H", len(raw)) + raw


def rtmp_connect(port: int) -> bytes:
    body = amf0_string("connect") + b"\x00" + struct.pack(">d", 1.0) + b"\x03"
    for key, value in (("app", "live"), ("tcUrl", f"rtmp://127.0.0.1:{port}/live")):
        body += struct.pack(">H", len(key)) + key.encode() + amf0_string(value)
    body += b"\x00\x00\x09"
    assert len(body) <= 128
    return b"\x03" + b"\0\0\0" + struct.pack(">I", len(body))[1:] + b"\x14" + b"\0\0\0\0" + body


async def rtmp(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        c1 = b"\0" * 8 + os.urandom(1528)
        writer.write(b"\x03" + c1)
        s = await reader.readexactly(1 + 2 * 1536)
        writer.write(s[1:1537])
        writer.write(rtmp_connect(port))
        await read_until(reader, b"_result")
    finally:
        writer.close()


async def worker(index: int, ports, deadline: float, counts: dict, pause: float) -> None:
    kinds = [("http", http, ports[0]), ("ws", websocket, ports[0]), ("rtmp", rtmp, ports[1])]
    turn = index
    while time.monotonic() < deadline:
        name, exchange, port = kinds[turn % 3]
        turn += 1
        try:
            await asyncio.wait_for(exchange(port), 30)
            counts[name] += 1
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            counts["errors"] += 1
            counts.setdefault("first_error", f"{name}: {error!r}")
        await asyncio.sleep(random.uniform(0, pause))


async def main() -> int:
    http_port, rtmp_port, workers, seconds = (int(value) for value in sys.argv[1:5])
    pause = float(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.05
    counts = {"http": 0, "ws": 0, "rtmp": 0, "errors": 0}
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(worker(i, (http_port, rtmp_port), deadline, counts, pause) for i in range(workers)))
    first = counts.pop("first_error", "")
    print(" ".join(f"{key}={value}" for key, value in counts.items()) + (f" first_error={first!r}" if first else ""),
          flush=True)
    return 1 if counts["errors"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
