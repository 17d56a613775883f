#!/usr/bin/env python3
"""Bounded TCP streams for netmon's block tests: a transfer that is running
when a block lands, watched from the receiving side.

Every mode ends by itself: accept and connect time out, a send that makes
no progress for 5 s ends the sender, an idle receiver gives up.

  serve BIND PORT BYTES SECONDS   -> prints "READY", accepts one connection, sends BYTES in
                                     1000-byte chunks spread evenly over SECONDS (0: as fast as
                                     it goes), closes, prints "sent <bytes>"
  fetch SRC DST PORT IDLE FILE    -> connects from SRC, reads until EOF or IDLE seconds without
                                     data, keeping the running total in FILE (replaced
                                     atomically; never more than 20 ms behind), prints
                                     "got <bytes>"
"""
import os
import socket
import sys
import time

CHUNK = 1000
TICK = 0.02


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(bind, port, nbytes, seconds):
    s = socket.socket(family(bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, int(port)))
    s.listen(1)
    s.settimeout(10)
    print("READY", flush=True)
    c, _ = s.accept()
    c.settimeout(5)
    total, nbytes, seconds = 0, int(nbytes), float(seconds)
    start = time.monotonic()
    try:
        while total < nbytes:
            n = min(CHUNK, nbytes - total)
            c.sendall(b"s" * n)
            total += n
            if seconds > 0:
                due = start + seconds * total / nbytes
                time.sleep(max(0.0, due - time.monotonic()))
    except OSError:
        pass
    c.close()
    s.close()
    print("sent %d" % total, flush=True)
    return 0


def save(path, total):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % total)
    os.replace(tmp, path)


def fetch(src, dst, port, idle, path):
    total = saved = 0
    save(path, total)
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    try:
        s.connect((dst, int(port)))
        # Short waits, so FILE is never more than TICK behind what arrived.
        s.settimeout(TICK)
        quiet = 0.0
        last = time.monotonic()
        while quiet < float(idle):
            try:
                data = s.recv(65536)
            except socket.timeout:
                quiet += TICK
                data = None
            if data == b"":
                break
            if data:
                total += len(data)
                quiet = 0.0
            now = time.monotonic()
            if total != saved and (data is None or now - last >= TICK):
                save(path, total)
                saved, last = total, now
    except OSError:
        pass
    s.close()
    save(path, total)
    print("got %d" % total, flush=True)
    return 0


MODES = {
    "serve": (serve, 4),
    "fetch": (fetch, 5),
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
