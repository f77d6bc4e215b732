#!/usr/bin/python3
# smtp_peer.py -- a scriptable SMTP server for integration tests: the next hop that
# edge-transport delivers to. Built on Debian's python3-aiosmtpd (run it with
# /usr/bin/python3; a pyenv python3 earlier in PATH has no aiosmtpd).
#
#   smtp_peer.py --listen 127.0.0.1:PORT --record DIR [--hostname NAME]
#                [--starttls CERT,KEY] [--no-ehlo] [--no-pipelining] [--chunking] [--size N]
#                [--without KEYWORD]... [--extension KEYWORD]...
#                [--greeting-reply 'CODE TEXT'] [--rcpt-reply 'PATTERN=CODE TEXT']...
#                [--data-reply 'CODE TEXT'] [--max-rcpts N] [--delay-data SECONDS]
#                [--auth USER:PASSWORD]
#
# PORT 0 lets the kernel choose. Once listening it prints "READY <ip>:<port>" on stdout;
# SIGTERM (or SIGINT) closes every connection and exits 0.
#
# What it records, in DIR (each line one JSON object, written with one write(2) and
# flushed before the reply that it records is sent, so a test may poll):
#   messages.jsonl     every message it accepted (final reply 2xx), fsynced per line:
#       seq conn t peer_ip peer_port helo esmtp tls tls_version tls_cipher tls_client_subject
#       mail_from mail_params[] rcpt_to[] rcpt_params[] (one string per recipient, its
#       parameters joined by spaces) via ("DATA"|"BDAT") pipelined size reply
#       data_b64 (the message bytes exactly as received, dot-unstuffed, base64)
#   connections.jsonl  events, every line with the same fields: t conn event peer_ip
#       peer_port arg reply. Events: connect (reply = the greeting), helo / ehlo
#       (arg = the name; an ehlo's reply is "250 <hostname> <keyword>..."), starttls (arg = the TLS version), mail / rcpt (arg = the
#       command's argument), data (arg = "DATA" or "BDAT"), rset, quit, violation (arg
#       says what the client did wrong), disconnect.
#   max_concurrent     the most connections open at once so far, across restarts on the
#                      same DIR (replaced by rename).
#   mode               written by the TEST, not by the peer: while it exists and is not
#                      empty, its content ("CODE TEXT") is the final reply to DATA/BDAT,
#                      read afresh for every message (so a test can "fix the sink").
#
# Replies given as 'CODE TEXT' may hold the two characters \n to make a multi-line
# reply. Strings in the JSON are the bytes of the command as sent: non-ASCII is \u-escaped
# UTF-8, and a byte that is not UTF-8 is a lone surrogate \udc80-\udcff (Python's
# surrogateescape), which tests/support/smtp_peer.hpp turns back into that byte.
#
# Scripted behaviour:
#   --auth             offers AUTH PLAIN and LOGIN (in clear too) and refuses MAIL before a
#                      successful AUTH with these credentials (530); wrong ones get 535.
#   --greeting-reply   replaces "220 <hostname> ESMTP". A 220 text is the banner (one
#                      line). 421: sent, then the connection is closed. Another 4xx/5xx
#                      (554): sent, then every command but QUIT gets 503 (RFC 5321 §3.1).
#   --rcpt-reply       PATTERN is an fnmatch pattern on the whole address, ASCII case
#                      insensitive; the first matching pattern, in the order given, sets
#                      the reply; a 2xx reply accepts the recipient.
#   --max-rcpts N      the (N+1)th and later accepted RCPT of a transaction get
#                      "452 4.5.3 Too many recipients" (RFC 5321 §4.5.3.1.10).
#   --data-reply       the final reply to DATA/BDAT (default "250 2.0.0 Ok: queued as N");
#                      only a 2xx final reply records the message.
#   --delay-data S     waits S seconds after the end of the data before the final reply;
#                      a client that leaves meanwhile has no message recorded.
#   --no-ehlo          EHLO is "500 5.5.1 Command unrecognized" (the client must use HELO).
#   --starttls C,K     offers STARTTLS with that certificate and key; without it STARTTLS
#                      is neither offered nor accepted (454).
#   --client-ca FILE   with --starttls: asks for a client certificate and requires one that
#                      chains to the CAs in FILE (Domain Security's mutual TLS); a message
#                      record's tls_client_subject is its subject CN.
#   --tls-max-version V  with --starttls: the newest TLS version offered ("1.1": too old
#                      for a modern client, so its handshake fails).
# EHLO offers PIPELINING SIZE 8BITMIME SMTPUTF8 DSN ENHANCEDSTATUSCODES by default, plus
# STARTTLS (--starttls, before TLS only) and CHUNKING (--chunking); --without KEYWORD drops
# one, --extension KEYWORD adds one. A MAIL/RCPT parameter of an extension not offered
# is refused with 555 5.5.4, as a strict server would: tests see what the client sends
# to a peer that did not offer it. --size N offers "SIZE N" and refuses bigger mail with
# 552 5.3.4; without it "SIZE" (no fixed limit).
# Pipelining is noticed, not enforced: "pipelined" in a message record says a MAIL or
# RCPT command of that transaction arrived with more input already waiting (a best-effort
# observation), and a violation event is recorded when that happens although PIPELINING
# was not offered, or when message data arrives before the 354.
import argparse
import asyncio
import base64
import collections
import fnmatch
import json
import logging
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, MISSING

DEFAULT_KEYWORDS = ["PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES"]
# Which EHLO keyword a MAIL/RCPT parameter belongs to (RFC 1870, 6152, 3030, 6531, 3461,
# 4954, 8689). A parameter named like an --extension keyword is accepted too.
MAIL_PARAMETER_EXTENSION = {"SIZE": "SIZE", "BODY": "8BITMIME", "SMTPUTF8": "SMTPUTF8", "RET": "DSN",
                            "ENVID": "DSN", "AUTH": "AUTH", "REQUIRETLS": "REQUIRETLS"}
RCPT_PARAMETER_EXTENSION = {"NOTIFY": "DSN", "ORCPT": "DSN"}


class Reply:
    """A reply given on the command line as 'CODE TEXT' (\\n in TEXT: more lines)."""

    def __init__(self, spec):
        spec = spec.strip()
        if len(spec) < 3 or not spec[:3].isdigit() or spec[0] not in "2345" or (len(spec) > 3 and spec[3] != " "):
            raise ValueError(f"not a reply 'CODE TEXT': {spec!r}")
        self.code = int(spec[:3])
        self.lines = spec[4:].split("\\n")

    def wire(self):
        """The reply as aiosmtpd's push() takes it (it appends the last CRLF)."""
        n = len(self.lines)
        return "\r\n".join(f"{self.code}{'-' if i + 1 < n else ' '}{line}" for i, line in enumerate(self.lines))

    def first_line(self):
        return f"{self.code} {self.lines[0]}"


class Recorder:
    """The files in the record directory and the connection counters."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self.messages_fd = os.open(os.path.join(directory, "messages.jsonl"), flags, 0o644)
        self.events_fd = os.open(os.path.join(directory, "connections.jsonl"), flags, 0o644)
        # A restarted peer (same DIR) numbers on from where the last one stopped.
        self.next_message = self._count_lines("messages.jsonl", b"")
        self.next_connection = self._count_lines("connections.jsonl", b'"event":"connect"')
        self.open_connections = 0
        try:
            with open(os.path.join(directory, "max_concurrent")) as f:
                self.max_concurrent = int(f.read())
        except (FileNotFoundError, ValueError):
            self.max_concurrent = -1
        self.note_concurrency()  # the file exists from the start

    def _count_lines(self, name, needle):
        with open(os.path.join(self.dir, name), "rb") as f:
            return sum(1 for line in f if line.endswith(b"\n") and needle in line)

    @staticmethod
    def _line(record):
        return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")

    def message(self, record):
        # One write per line: a reader never sees half a record, except at the very end
        # of the file while it is being written (readers skip a last line without "\n").
        os.write(self.messages_fd, self._line(record))
        os.fsync(self.messages_fd)

    def event(self, conn, event, peer, arg="", reply=""):
        record = {"t": round(time.time(), 6), "conn": conn, "event": event,
                  "peer_ip": peer[0] if peer else "", "peer_port": peer[1] if peer else 0,
                  "arg": arg, "reply": reply}
        os.write(self.events_fd, self._line(record))

    def note_concurrency(self):
        if self.open_connections <= self.max_concurrent:
            return
        self.max_concurrent = self.open_connections
        path = os.path.join(self.dir, "max_concurrent")
        with open(path + ".tmp", "w") as f:
            f.write(f"{self.max_concurrent}\n")
        os.replace(path + ".tmp", path)  # a reader sees the old number or the new one

    def mode_reply(self):
        """The live override of the final data reply (DIR/mode), or None."""
        try:
            with open(os.path.join(self.dir, "mode")) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return Reply(text) if text else None


class PeerEnvelope(Envelope):
    def __init__(self):
        super().__init__()
        self.mail_params = []     # as the client wrote them (aiosmtpd's own upper-cases them)
        self.rcpt_params = []     # one string per accepted recipient
        self.pipelined = False
        self.chunks = None        # BDAT: the chunks so far, None before the first
        self.via = "DATA"


def parse_path(arg, keyword):
    """'FROM:<a@b> P=V ...' -> (address, [params]) or None. Keeps the address and the
    parameters as written; drops a source route (RFC 5321 §4.1.1.3, <@a,@b:u@d>)."""
    if arg is None or arg[:len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword):].lstrip(" ")
    if not rest.startswith("<"):
        return None  # RFC 5321 §4.1.2: the path is in angle brackets
    i, quoted = 1, False
    while i < len(rest):
        c = rest[i]
        if quoted and c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ">" and not quoted:
            break
        i += 1
    if i >= len(rest):
        return None
    address, params = rest[1:i], rest[i + 1:]
    if params and not params.startswith(" "):
        return None
    if address.startswith("@"):
        address = address.partition(":")[2]
    params = params.split()
    for p in params:
        name, eq, value = p.partition("=")
        if not name or not (name[0].isascii() and name[0].isalnum()) or \
                not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name) or (eq and not value):
            return None
    return address, params


class PeerSMTP(SMTP):
    # Permissive limits: the peer records what it is sent, it is not the server under test.
    line_length_limit = 1 << 20
    command_size_limit = 8192

    def __init__(self, peer, **kwargs):
        self.peer = peer
        self.command_size_limits = collections.defaultdict(lambda: PeerSMTP.command_size_limit)
        greeting = peer.greeting
        hostname, ident = peer.hostname, "ESMTP"
        if greeting is not None and greeting.code == 220:
            hostname, _, ident = greeting.lines[0].partition(" ")
        super().__init__(peer.handler, hostname=hostname, ident=ident, **kwargs)
        self.conn = 0
        self.peer_address = None
        self.counted = False

    # -------------------------------------------------------------- connection
    def connection_made(self, transport):
        first = self.transport is None
        super().connection_made(transport)
        if first:  # not the second call that STARTTLS makes
            rec = self.peer.recorder
            rec.next_connection += 1
            self.conn = rec.next_connection
            self.peer_address = transport.get_extra_info("peername")
            self.counted = True
            rec.open_connections += 1
            rec.note_concurrency()
            self.peer.live.add(self)
            greeting = self.peer.greeting
            rec.event(self.conn, "connect", self.peer_address,
                      reply=greeting.first_line() if greeting else f"220 {self.hostname} {self.__ident__}")

    def connection_lost(self, error):
        if self.counted:
            self.counted = False
            rec = self.peer.recorder
            rec.open_connections -= 1
            self.peer.live.discard(self)
            rec.event(self.conn, "disconnect", self.peer_address)
        super().connection_lost(error)

    def event(self, name, arg="", reply=""):
        self.peer.recorder.event(self.conn, name, self.peer_address, arg, reply)

    async def reply(self, event, arg, reply):
        text = reply.wire() if isinstance(reply, Reply) else reply
        self.event(event, arg, text.split("\r\n")[0])
        await self.push(text)

    async def _handle_client(self):
        greeting = self.peer.greeting
        if greeting is None or greeting.code == 220:
            return await super()._handle_client()
        # A refusing greeting: 421 closes; 554 waits for QUIT (RFC 5321 §3.1).
        try:
            await self.push(greeting.wire())
            while greeting.code != 421 and self.transport is not None:
                line = await self._reader.readline()
                if not line:
                    break
                if line.strip().upper() == b"QUIT":
                    await self.push("221 2.0.0 Bye")
                    break
                await self.push("503 5.5.1 Error: no service here, only QUIT")
        except asyncio.CancelledError:
            pass
        if self.transport is not None:
            self.transport.close()

    def _create_envelope(self):
        return PeerEnvelope()

    def offered(self):
        """The EHLO keywords this session offers now."""
        words = [w for w in DEFAULT_KEYWORDS if w not in self.peer.without] + self.peer.extensions
        if self.peer.chunking and "CHUNKING" not in words:
            words.append("CHUNKING")
        if self.tls_context and not self._tls_protocol and "STARTTLS" not in self.peer.without:
            words.append("STARTTLS")
        if self.peer.auth is not None and not self.session.authenticated:
            words.append("AUTH PLAIN LOGIN")
        return words

    def note_pipelining(self, command):
        # More input already waiting when a command is handled: the client did not wait
        # for this reply before sending on.
        if not self._reader._buffer:
            return
        self.envelope.pipelined = True
        if "PIPELINING" not in self.offered():
            self.event("violation", f"{command} pipelined, but PIPELINING was not offered")

    def tls_info(self):
        if not self._tls_protocol:
            return False, "", ""
        obj = self.transport.get_extra_info("ssl_object")
        cipher = obj.cipher() if obj else None
        return True, obj.version() if obj else "", cipher[0] if cipher else ""

    def tls_client_subject(self):
        obj = self.transport.get_extra_info("ssl_object") if self._tls_protocol else None
        cert = obj.getpeercert() if obj else None
        for rdn in (cert or {}).get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return ""

    # -------------------------------------------------------------- commands
    async def smtp_EHLO(self, hostname):
        if self.peer.no_ehlo:
            return await self.reply("ehlo", hostname or "", "500 5.5.1 Command unrecognized: EHLO")
        await super().smtp_EHLO(hostname)

    def check_parameters(self, params, table):
        """The first parameter the session may not take, with why; None when all may."""
        offered = self.offered()
        for p in params:
            name, _, value = p.partition("=")
            name = name.upper()
            if not self.session.extended_smtp:
                return f"555 5.5.4 {name}: parameters need EHLO"
            if name == "BODY" and value.upper() == "7BIT":
                continue
            need = "BINARYMIME" if name == "BODY" and value.upper() == "BINARYMIME" else table.get(name, name)
            if need not in offered:
                return f"555 5.5.4 {name} parameter not offered by this server"
            if name == "SIZE" and self.peer.size and (not value.isdigit() or int(value) > self.peer.size):
                return "552 5.3.4 Message size exceeds fixed maximum message size"
        return None

    async def smtp_MAIL(self, arg):
        if await self.check_helo_needed():
            return
        self.note_pipelining("MAIL")
        if self.peer.auth is not None and not self.session.authenticated:
            return await self.reply("mail", arg or "", "530 5.7.0 Authentication required")
        if self.envelope.mail_from is not None:
            return await self.reply("mail", arg or "", "503 5.5.1 Error: nested MAIL command")
        parsed = parse_path(arg, "FROM:")
        if parsed is None:
            return await self.reply("mail", arg or "", "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]")
        address, params = parsed
        refused = self.check_parameters(params, MAIL_PARAMETER_EXTENSION)
        if refused:
            return await self.reply("mail", arg, refused)
        self.envelope.mail_from = address
        self.envelope.mail_params = params
        self.envelope.mail_options = params
        await self.reply("mail", arg, "250 2.1.0 Ok")

    async def smtp_RCPT(self, arg):
        if await self.check_helo_needed():
            return
        self.note_pipelining("RCPT")
        if self.envelope.mail_from is None:
            return await self.reply("rcpt", arg or "", "503 5.5.1 Error: need MAIL command")
        parsed = parse_path(arg, "TO:")
        if parsed is None:
            return await self.reply("rcpt", arg or "", "501 5.5.4 Syntax: RCPT TO:<address> [parameters]")
        address, params = parsed
        refused = self.check_parameters(params, RCPT_PARAMETER_EXTENSION)
        if refused:
            return await self.reply("rcpt", arg, refused)
        reply = Reply("250 2.1.5 Ok")
        if self.peer.max_rcpts is not None and len(self.envelope.rcpt_tos) >= self.peer.max_rcpts:
            reply = Reply("452 4.5.3 Too many recipients")
        else:
            for pattern, scripted in self.peer.rcpt_replies:
                if fnmatch.fnmatchcase(address.lower(), pattern):
                    reply = scripted
                    break
        if 200 <= reply.code < 300:
            self.envelope.rcpt_tos.append(address)
            self.envelope.rcpt_params.append(" ".join(params))
            self.envelope.rcpt_options.extend(params)
        await self.reply("rcpt", arg, reply)

    async def smtp_RSET(self, arg):
        self.event("rset")
        await super().smtp_RSET(arg)

    async def smtp_QUIT(self, arg):
        self.event("quit")
        await super().smtp_QUIT(arg)

    async def smtp_DATA(self, arg):
        if self.envelope.chunks is not None:
            return await self.reply("data", "DATA", "503 5.5.1 Error: DATA after BDAT")
        if self.envelope.rcpt_tos and self._reader._buffer:
            # RFC 2920 §3.1: DATA ends a pipelined group; data must wait for the 354.
            self.event("violation", "message data sent before the 354 reply to DATA")
        if not self.envelope.rcpt_tos:
            return await self.reply("data", "DATA", "503 5.5.1 Error: need RCPT command")
        await super().smtp_DATA(arg)

    async def smtp_BDAT(self, arg):
        # RFC 3030: "BDAT <size> [LAST]"; the chunk's bytes follow the command at once
        # and are read (and dropped) even when the command is refused.
        if not self.peer.chunking:
            return await self.reply("data", "BDAT", "500 5.5.1 Command unrecognized: BDAT")
        words = (arg or "").split()
        if not words or not words[0].isdigit() or len(words) > 2 or (len(words) == 2 and words[1].upper() != "LAST"):
            return await self.reply("data", "BDAT", "501 5.5.4 Syntax: BDAT <size> [LAST]")
        size, last = int(words[0]), len(words) == 2
        chunk = await self._reader.readexactly(size)
        env = self.envelope
        if env.mail_from is None or not env.rcpt_tos:
            return await self.reply("data", "BDAT", "503 5.5.1 Error: need MAIL and RCPT before BDAT")
        if env.chunks is None:
            env.chunks = []
        env.chunks.append(chunk)
        if self.peer.size and sum(len(c) for c in env.chunks) > self.peer.size:
            self._set_post_data_state()
            return await self.reply("data", "BDAT", "552 5.3.4 Message size exceeds fixed maximum message size")
        if not last:
            return await self.push(f"250 2.0.0 {size} octets received")
        env.original_content = env.content = b"".join(env.chunks)
        env.via = "BDAT"
        status = await self.peer.handler.handle_DATA(self, self.session, env)
        self._set_post_data_state()
        await self.push(status)


class Handler:
    """aiosmtpd's hooks: HELO/EHLO bookkeeping, STARTTLS, and the end of the data."""

    def __init__(self, peer):
        self.peer = peer

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        reply = f"250 {server.hostname}"
        server.event("helo", hostname, reply)
        return reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # aiosmtpd leaves that to a 5-argument hook
        words = server.offered()
        for i, w in enumerate(words):
            if w == "SIZE" and self.peer.size:
                words[i] = f"SIZE {self.peer.size}"
        lines = [server.hostname] + words
        reply = [f"250{'-' if i + 1 < len(lines) else ' '}{line}" for i, line in enumerate(lines)]
        server.event("ehlo", hostname, "250 " + " ".join(lines))  # the offer, on one line
        return reply

    def handle_STARTTLS(self, server, session, envelope):  # called without await
        server.event("starttls", server.tls_info()[1])
        return True

    async def handle_DATA(self, server, session, envelope):
        peer = self.peer
        reply = peer.recorder.mode_reply() or peer.data_reply
        if peer.delay_data > 0:
            await asyncio.sleep(peer.delay_data)
        if 200 <= reply.code < 300:
            peer.recorder.next_message += 1
            seq = peer.recorder.next_message
            if reply is peer.default_data_reply:
                reply = Reply(f"250 2.0.0 Ok: queued as {seq}")
            tls, tls_version, cipher = server.tls_info()
            data = envelope.original_content
            peer.recorder.message({
                "seq": seq, "conn": server.conn, "t": round(time.time(), 6),
                "peer_ip": server.peer_address[0], "peer_port": server.peer_address[1],
                "helo": session.host_name, "esmtp": bool(session.extended_smtp),
                "tls": tls, "tls_version": tls_version, "tls_cipher": cipher,
                "tls_client_subject": server.tls_client_subject(),
                "mail_from": envelope.mail_from, "mail_params": envelope.mail_params,
                "rcpt_to": envelope.rcpt_tos, "rcpt_params": envelope.rcpt_params,
                "via": envelope.via, "pipelined": envelope.pipelined, "size": len(data),
                "reply": reply.first_line(), "data_b64": base64.b64encode(data).decode("ascii")})
        wire = reply.wire()
        server.event("data", envelope.via, wire.split("\r\n")[0])
        return wire

    async def handle_exception(self, error):
        logging.getLogger("smtp_peer").exception("peer error: %r", error)
        return "451 4.3.0 smtp_peer: internal error (see its log)"


class Peer:
    def __init__(self, args):
        self.recorder = Recorder(args.record)
        self.hostname = args.hostname
        self.greeting = Reply(args.greeting_reply) if args.greeting_reply else None
        self.default_data_reply = Reply("250 2.0.0 Ok")
        self.data_reply = Reply(args.data_reply) if args.data_reply else self.default_data_reply
        self.rcpt_replies = []
        for spec in args.rcpt_reply:
            pattern, eq, reply = spec.partition("=")
            if not eq or not pattern:
                raise ValueError(f"--rcpt-reply wants 'PATTERN=CODE TEXT': {spec!r}")
            self.rcpt_replies.append((pattern.lower(), Reply(reply)))
        self.max_rcpts = args.max_rcpts
        self.delay_data = args.delay_data
        self.no_ehlo = args.no_ehlo
        self.chunking = args.chunking
        self.size = args.size
        self.without = {w.upper() for w in args.without}
        if args.no_pipelining:
            self.without.add("PIPELINING")
        self.extensions = [w.upper() for w in args.extension]
        self.tls_context = None
        if args.starttls:
            cert, _, key = args.starttls.partition(",")
            self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls_context.load_cert_chain(cert, key or None)
            if args.client_ca:
                self.tls_context.verify_mode = ssl.CERT_REQUIRED
                self.tls_context.load_verify_locations(args.client_ca)
            if args.tls_max_version == "1.1":
                self.tls_context.set_ciphers("DEFAULT:@SECLEVEL=0")
                self.tls_context.minimum_version = ssl.TLSVersion.TLSv1
                self.tls_context.maximum_version = ssl.TLSVersion.TLSv1_1
        self.handler = Handler(self)
        self.live = set()
        self.auth = None
        if args.auth:
            user, sep, password = args.auth.partition(":")
            if not sep:
                raise ValueError("--auth wants USER:PASSWORD")
            self.auth = (user.encode(), password.encode())

    def authenticate(self, server, session, envelope, mechanism, data):
        ok = self.auth is not None and isinstance(data, LoginPassword) and (data.login, data.password) == self.auth
        return AuthResult(success=ok, handled=False)

    def protocol(self):
        auth = {}
        if self.auth is not None:
            # AUTH in clear is what the test wants to see work (on loopback).
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            logging.getLogger("mail.log").setLevel(logging.ERROR)
            auth = dict(authenticator=self.authenticate, auth_required=True, auth_require_tls=False)
        return PeerSMTP(self, tls_context=self.tls_context, require_starttls=False,
                        enable_SMTPUTF8="SMTPUTF8" not in self.without,
                        data_size_limit=self.size or None, decode_data=False, **auth)


async def serve(args):
    peer = Peer(args)
    host, _, port = args.listen.rpartition(":")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(peer.protocol, host=host.strip("[]"), port=int(port))
    bound = server.sockets[0].getsockname()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {bound[0]}:{bound[1]}", flush=True)
    await stop.wait()
    server.close()
    for conn in list(peer.live):
        if conn.transport is not None:
            conn.transport.abort()
    await server.wait_closed()
    await asyncio.sleep(0.05)  # let connection_lost run, so "disconnect" events are written


def main():
    ap = argparse.ArgumentParser(description="A scriptable SMTP peer for edge-transport's tests.")
    ap.add_argument("--listen", required=True, help="IP:PORT (PORT 0: any free port)")
    ap.add_argument("--record", required=True, help="directory for messages.jsonl, connections.jsonl, ...")
    ap.add_argument("--hostname", default="peer.test")
    ap.add_argument("--starttls", metavar="CERT,KEY")
    ap.add_argument("--client-ca", metavar="FILE")
    ap.add_argument("--tls-max-version", choices=["1.1"])
    ap.add_argument("--no-ehlo", action="store_true")
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--chunking", action="store_true")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--without", action="append", default=[], metavar="KEYWORD")
    ap.add_argument("--extension", action="append", default=[], metavar="KEYWORD")
    ap.add_argument("--greeting-reply", metavar="'CODE TEXT'")
    ap.add_argument("--rcpt-reply", action="append", default=[], metavar="'PATTERN=CODE TEXT'")
    ap.add_argument("--data-reply", metavar="'CODE TEXT'")
    ap.add_argument("--max-rcpts", type=int)
    ap.add_argument("--delay-data", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("--auth", metavar="USER:PASSWORD")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s smtp_peer %(levelname)s %(message)s")
    try:
        asyncio.run(serve(args))
    except (ValueError, OSError) as e:
        print(f"smtp_peer: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
