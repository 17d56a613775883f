#!/usr/bin/env python3
"""Bounded traffic generator for netmon's namespace tests.

Every mode ends by itself: fixed counts, socket timeouts, one connection.
Prints one line of results on stdout so the Rust test can check delivery.

  udp-recv BIND PORT COUNT TIMEOUT   -> prints "READY", then "udp <n> <payload bytes>"
  udp-send SRC DST PORT SIZE COUNT   -> sends COUNT datagrams of SIZE bytes from SRC
                                        (DST may be a broadcast address)
  udp-pace SRC DST PORT SIZE RATE SECONDS
                                     -> sends RATE datagrams of SIZE bytes a second for
                                        SECONDS (RATE * SECONDS in all), each at its own
                                        deadline from the start, so a late wake-up is
                                        caught up and every second carries RATE
  tcp-recv BIND PORT TIMEOUT         -> prints "READY", accepts one connection, reads to EOF,
                                        prints "tcp <payload bytes>", closes
  tcp-send SRC DST PORT SIZE TIMEOUT -> connects from SRC, sends SIZE bytes, half-closes,
                                        waits for the peer's close
"""
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_recv(bind, port, count, timeout):
    s = socket.socket(family(bind), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((bind, int(port)))
    s.settimeout(float(timeout))
    print("READY", flush=True)
    n = total = 0
    try:
        while n < int(count):
            data = s.recv(65535)
            n += 1
            total += len(data)
    except socket.timeout:
        pass
    print("udp %d %d" % (n, total), flush=True)
    return 0 if n == int(count) else 1


def udp_send(src, dst, port, size, count):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    if family(dst) == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind((src, 0))
    payload = b"u" * int(size)
    for _ in range(int(count)):
        s.sendto(payload, (dst, int(port)))
    return 0


def udp_pace(src, dst, port, size, rate, seconds):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.bind((src, 0))
    payload = b"p" * int(size)
    gap = 1.0 / int(rate)
    start = time.monotonic()
    for i in range(int(rate) * int(seconds)):
        delay = start + i * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.sendto(payload, (dst, int(port)))
    return 0


def tcp_recv(bind, port, timeout):
    s = socket.socket(family(bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, int(port)))
    s.listen(1)
    s.settimeout(float(timeout))
    print("READY", flush=True)
    c, _ = s.accept()
    c.settimeout(float(timeout))
    total = 0
    while True:
        data = c.recv(65536)
        if not data:
            break
        total += len(data)
    c.close()
    s.close()
    print("tcp %d" % total, flush=True)
    return 0


def tcp_send(src, dst, port, size, timeout):
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    s.bind((src, 0))
    s.connect((dst, int(port)))
    s.sendall(b"t" * int(size))
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
    return 0


MODES = {
    "udp-recv": (udp_recv, 4),
    "udp-send": (udp_send, 5),
    "udp-pace": (udp_pace, 6),
    "tcp-recv": (tcp_recv, 3),
    "tcp-send": (tcp_send, 5),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in MODES:
        sys.stderr.write(__doc__)
        return 2
    fn, nargs = MODES[argv[1]]
    if len(argv) != 2 + nargs:
        sys.stderr.write(__doc__)
        return 2
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
