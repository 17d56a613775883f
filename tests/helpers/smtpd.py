#!/usr/bin/env python3
"""Test SMTP server for netmon's tests (aiosmtpd), loopback only.

serve (default):
  smtpd.py --port 0 --maildir DIR [--user U --password P] [--auth-required]
           [--reject-rcpt SUBSTRING] [--defer-rcpt SUBSTRING]
           [--defer-rcpt-once SUBSTRING] [--tempfail-data N]
           [--lifetime SECONDS] [--log-connections] [--silent]
  Listens on 127.0.0.1 (never another address), prints the chosen port on
  stdout, saves each message as DIR/NNN.eml (the unstuffed DATA bytes) plus
  DIR/NNN.env (MAIL FROM, then one RCPT per line) and DIR/NNN.helo (the
  client's EHLO/HELO name), appends AUTH attempts to DIR/auth.log as
  "MECHANISM ok|fail", appends each refused recipient (--reject-rcpt: 550)
  to DIR/rejected.log and each deferred one (--defer-rcpt: 450 every time;
  --defer-rcpt-once: 450 the first time that address is given, accepted
  later, as greylisting does) to DIR/deferred.log, answers the first N
  messages' end of data with 451 without saving them (--tempfail-data N),
  appends "connect" to DIR/connections.log for every TCP connection
  accepted (--log-connections: proves that a client never even
  connected), and exits when stdin closes or after --lifetime seconds,
  whichever comes first. --silent: no SMTP at all; accept connections,
  log them to DIR/connections.log and never answer (a hung server).

parse FILE:
  Parses a saved message with Python's email package (an implementation
  independent of netmon's) and writes FILE.headers ("Name: decoded value"
  per line), FILE.parts (one content type per line) and FILE.partN (the
  decoded payload of each leaf part).
"""
import argparse
import asyncio
import email
import email.header
import email.policy
import os
import sys

HOST = "127.0.0.1"


def parse(path):
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.compat32)
    with open(path + ".headers", "w", encoding="utf-8") as out:
        for name, value in msg.items():
            decoded = str(email.header.make_header(email.header.decode_header(value)))
            # Unfolding (RFC 5322 2.2.3): a folded value is one line.
            decoded = decoded.replace("\r\n", "").replace("\n", "")
            out.write(name + ": " + decoded + "\n")
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    with open(path + ".parts", "w", encoding="utf-8") as out:
        out.write(msg.get_content_type() + "\n")
        for p in leaves:
            out.write(p.get_content_type() + " " + str(p.get_content_charset()) + " "
                      + str(p.get("Content-Transfer-Encoding")) + "\n")
    for i, p in enumerate(leaves):
        with open(path + ".part" + str(i), "wb") as out:
            out.write(p.get_payload(decode=True))


class Handler:
    def __init__(self, maildir, reject, tempfail, defer, defer_once):
        self.maildir = maildir
        self.reject = reject
        self.tempfail = tempfail
        self.defer = defer
        self.defer_once = defer_once
        self.deferred = set()
        self.count = 0

    def log(self, name, line):
        with open(os.path.join(self.maildir, name), "a") as f:
            f.write(line + "\n")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject in address:
            self.log("rejected.log", address)
            return "550 5.1.1 <" + address + ">: no such user"
        once = self.defer_once and self.defer_once in address
        if (self.defer and self.defer in address) or (once and address not in self.deferred):
            self.deferred.add(address)
            self.log("deferred.log", address)
            return "450 4.2.0 <" + address + ">: greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 try again later"
        self.count += 1
        base = os.path.join(self.maildir, "%03d" % self.count)
        # Write under a temporary name, then rename: a test that sees the
        # .eml file sees all of it.
        with open(base + ".env.tmp", "w") as f:
            f.write(envelope.mail_from + "\n")
            for r in envelope.rcpt_tos:
                f.write(r + "\n")
        os.rename(base + ".env.tmp", base + ".env")
        with open(base + ".helo", "w") as f:
            f.write(str(session.host_name) + "\n")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued as " + str(self.count)


def make_authenticator(maildir, user, password):
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (user is not None
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        with open(os.path.join(maildir, "auth.log"), "a") as f:
            f.write(mechanism + (" ok\n" if ok else " fail\n"))
        return AuthResult(success=ok, handled=False)

    return authenticator


class Silent(asyncio.Protocol):
    """Takes the connection and never says a word."""

    def __init__(self, maildir):
        self.maildir = maildir

    def connection_made(self, transport):
        with open(os.path.join(self.maildir, "connections.log"), "a") as f:
            f.write("connect\n")


def serve(args):
    from aiosmtpd.smtp import SMTP

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler(args.maildir, args.reject_rcpt, args.tempfail_data,
                      args.defer_rcpt, args.defer_rcpt_once)
    auth = make_authenticator(args.maildir, args.user, args.password)

    server_class = SMTP
    if args.log_connections:
        class LoggingSMTP(SMTP):
            def connection_made(self, transport):
                with open(os.path.join(args.maildir, "connections.log"), "a") as f:
                    f.write("connect\n")
                super().connection_made(transport)

        server_class = LoggingSMTP

    def factory():
        if args.silent:
            return Silent(args.maildir)
        return server_class(handler, hostname="mx.test", authenticator=auth,
                            auth_require_tls=False, auth_required=args.auth_required,
                            loop=loop)

    server = loop.run_until_complete(loop.create_server(factory, HOST, args.port))
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(str(port) + "\n")
    sys.stdout.flush()

    def on_stdin():
        if not os.read(sys.stdin.fileno(), 4096):
            loop.stop()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    loop.call_later(args.lifetime, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "parse":
        parse(sys.argv[2])
        return
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--maildir", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--auth-required", action="store_true")
    p.add_argument("--reject-rcpt")
    p.add_argument("--defer-rcpt")
    p.add_argument("--defer-rcpt-once")
    p.add_argument("--silent", action="store_true")
    p.add_argument("--tempfail-data", type=int, default=0)
    p.add_argument("--lifetime", type=float, default=60.0)
    p.add_argument("--log-connections", action="store_true")
    serve(p.parse_args())


if __name__ == "__main__":
    main()
