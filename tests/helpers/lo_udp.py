#!/usr/bin/env python3
"""Known loopback traffic for netmon's durability tests (tests/durable.rs).

  lo_udp.py SIZE COUNT   -> sends COUNT UDP datagrams of SIZE payload bytes
                            from 127.0.0.1 to a socket on 127.0.0.1 and reads
                            each one back before the next (so none is dropped),
                            then prints "udp <count> <payload bytes>".

Each datagram is one IPv4 packet of 20 + 8 + SIZE bytes (RFC 791, RFC 768)
that passes the output hook and then the input hook of the namespace it runs
in. Bounded: COUNT datagrams, 5 s socket timeout.
"""
import socket
import sys


def main(size, count):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5.0)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    payload = b"d" * size
    n = total = 0
    for _ in range(count):
        tx.sendto(payload, rx.getsockname())
        data = rx.recv(65535)
        n += 1
        total += len(data)
    print("udp %d %d" % (n, total), flush=True)
    return 0 if n == count and total == count * size else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
