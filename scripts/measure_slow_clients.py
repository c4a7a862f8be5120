#!/usr/bin/env python3
"""Measures how long a running Snake Arena server holds slow and idle clients.

Usage: scripts/measure_slow_clients.py HOST:PORT SERVER_PID [IDLE_CONNECTIONS]

Prints, for the server's configured limits: how long a client that sends its headers a byte
every half second is held, how long a client that sends its body that way is held (and what it
is answered), how long a silent connection is held, how long a keep-alive connection is held
after its answer, and, after opening IDLE_CONNECTIONS (default
1100) silent connections at once, how many of them the server holds (its open sockets, read from
/proc/SERVER_PID/fd) and when one more client is answered.
"""

import os
import socket
import sys
import threading
import time


def connect(address):
    host, port = address.rsplit(":", 1)
    return socket.create_connection((host, int(port)))


def dribble_then_wait_for_close(address, head, dribble_byte):
    """Sends `head`, then `dribble_byte` every 0.5 s; returns (seconds held, what was received)."""
    stream = connect(address)
    started = time.monotonic()
    received = bytearray()
    closed = threading.Event()

    def read():
        while True:
            try:
                chunk = stream.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            received.extend(chunk)
        closed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stream.sendall(head)
    while not closed.wait(0.5):
        try:
            stream.send(dribble_byte)
        except OSError:
            closed.wait(5)
            break
    held = time.monotonic() - started
    stream.close()
    return held, bytes(received)


def first_line(received):
    return received.split(b"\r\n", 1)[0].decode() if received else "(nothing, closed)"


def open_sockets(pid):
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def main():
    address, pid = sys.argv[1], int(sys.argv[2])
    idle_connections = int(sys.argv[3]) if len(sys.argv) > 3 else 1100

    held, received = dribble_then_wait_for_close(
        address, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a"
    )
    print(f"slow headers (a byte every 0.5 s): held {held:.1f} s, answered {first_line(received)}")

    held, received = dribble_then_wait_for_close(
        address,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 60\r\n\r\n",
        b" ",
    )
    print(f"slow body (a byte every 0.5 s): held {held:.1f} s, answered {first_line(received)}")

    stream = connect(address)
    started = time.monotonic()
    stream.recv(1)
    print(f"silent connection: held {time.monotonic() - started:.1f} s")
    stream.close()

    stream = connect(address)
    stream.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = stream.recv(65536)
    started = time.monotonic()
    while stream.recv(65536):
        pass
    print(
        f"keep-alive connection after its answer ({first_line(answer)}): "
        f"held {time.monotonic() - started:.1f} s"
    )
    stream.close()

    baseline = open_sockets(pid)
    opening = time.monotonic()
    idle = [connect(address) for _ in range(idle_connections)]
    opened = time.monotonic() - opening
    time.sleep(1)
    held_sockets = open_sockets(pid) - baseline
    print(
        f"{idle_connections} silent connections opened in {opened:.1f} s: "
        f"the server holds {held_sockets}"
    )
    late = connect(address)
    late.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = late.recv(65536)
    print(
        f"one more client is answered {first_line(answer)} "
        f"{time.monotonic() - opening:.1f} s after the first silent connection opened"
    )
    for stream in idle + [late]:
        stream.close()


if __name__ == "__main__":
    main()
