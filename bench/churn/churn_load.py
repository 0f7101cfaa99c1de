#!/usr/bin/env python3
"""Opens N keep-alive HTTP connections to 127.0.0.1:PORT, each making one GET of PATH and reading its
answer; prints "ready <seconds>" and waits for a line on stdin; then closes every connection at once
and prints "closed". Exits 1 when a connection fails or an answer is not a 200."""
import selectors
import socket
import sys
import time


def main() -> int:
    port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    selector = selectors.DefaultSelector()
    sockets = []
    started = time.monotonic()
    waiting = 0
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(request)
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ, bytearray())
        sockets.append(s)
        waiting += 1
        # keep at most 512 answers outstanding, so the server's accept queue never overflows
        while waiting > 512 or (len(sockets) == count and waiting > 0):
            waiting -= drain(selector, started)
    print(f"ready {time.monotonic() - started:.2f}", flush=True)
    sys.stdin.readline()
    for s in sockets:
        s.close()
    print("closed", flush=True)
    return 0


def drain(selector, started) -> int:
    """Reads what arrived; returns how many connections got their whole answer head."""
    done = 0
    if time.monotonic() - started > 120:
        raise SystemExit("churn_load: time-out waiting for answers")
    for key, _ in selector.select(timeout=5):
        data = key.fileobj.recv(65536)
        if not data:
            raise SystemExit("churn_load: a connection was closed by the server")
        key.data.extend(data)
        if b"\r\n\r\n" in key.data:
            if not key.data.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"churn_load: unexpected answer {bytes(key.data[:40])!r}")
            selector.unregister(key.fileobj)
            done += 1
    return done


if __name__ == "__main__":
    sys.exit(main())
