#!/usr/bin/python3
"""A scripted milter (Sendmail milter protocol v6, the milter's side) for the tests.

Speaks the raw wire protocol on a loopback port (or a unix socket), so a test can make
it answer anything: each reply, each modification action at end of message, garbage.

  milter_peer.py --listen 127.0.0.1:0 --record DIR --script JSON

Prints "READY 127.0.0.1:<port>" once it listens. Every command it receives is appended
to DIR/commands.jsonl ({"cmd": "R", "args": [...], "macros": {...}} ...).

The script maps a command letter (O C H M R T L N B E) to what is sent back each time
it arrives: a list of actions (sent in order), or {"each": [list, list, ...]} to answer
its first, second, ... occurrence differently (the last list repeats). Commands the
script does not name are answered "c" (continue); D, A, K and Q are never answered.
Actions:
  "c" "a" "r" "t" "d" "p" "s"        continue accept reject tempfail discard progress skip
  {"y": "554 5.7.1 text"}           SMFIR_REPLYCODE
  {"h": [name, value]}  {"i": [index, name, value]}  {"m": [index, name, value]}
  {"b": "new body"}  {"+": "<a@b>"}  {"2": ["<a@b>", "args"]}  {"-": "<a@b>"}
  {"e": "<a@b>"}  {"q": "reason"}
  {"raw": "hex"}                     these bytes, as they are
  "hang"                             never answer (the connection stays open)
  "close"                            close the connection
"O" takes {"actions": n, "protocol": n, "version": n, "macros": {"2": "{mail_addr} i"}}.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time


def pkt(code, data=b""):
    return struct.pack(">I", len(data) + 1) + code.encode() + data


def z(s):
    return s.encode() + b"\0"


def encode_action(a):
    if isinstance(a, str):
        return pkt(a)
    (k, v), = a.items()
    if k == "y":
        return pkt("y", z(v))
    if k == "h":
        return pkt("h", z(v[0]) + z(v[1]))
    if k in ("i", "m"):
        return pkt(k, struct.pack(">I", v[0]) + z(v[1]) + z(v[2]))
    if k == "b":
        return pkt("b", v.encode())
    if k in ("+", "-", "e", "q"):
        return pkt(k, z(v))
    if k == "2":
        return pkt("2", z(v[0]) + z(v[1]))
    if k == "raw":
        return bytes.fromhex(v)
    raise ValueError("unknown action %r" % (a,))


def strings(data):
    return [s.decode("latin-1") for s in data.split(b"\0")[:-1]]


class Session:
    def __init__(self, conn, script, record):
        self.conn, self.script, self.record = conn, script, record
        self.count = {}
        self.macros = {}
        self.no_reply = 0  # the SMFIP_NR_* bits this peer negotiated

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def log(self, entry):
        with open(os.path.join(self.record, "commands.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")

    def answer(self, cmd):
        plan = self.script.get(cmd, ["c"])
        n = self.count.get(cmd, 0)
        self.count[cmd] = n + 1
        if isinstance(plan, dict):
            each = plan["each"]
            plan = each[min(n, len(each) - 1)]
        for a in plan:
            if a == "hang":
                time.sleep(3600)
            if a == "close":
                raise EOFError
            self.conn.sendall(encode_action(a))

    def run(self):
        while True:
            (length,) = struct.unpack(">I", self.recv_exact(4))
            body = self.recv_exact(length)
            cmd, data = chr(body[0]), body[1:]
            if cmd == "D":
                parts = strings(data[1:])
                self.macros = dict(zip(parts[0::2], parts[1::2]))
                continue
            entry = {"cmd": cmd, "macros": self.macros}
            self.macros = {}
            if cmd == "O":
                version, actions, protocol = struct.unpack(">III", data[:12])
                entry["args"] = [version, actions, protocol]
                self.log(entry)
                o = self.script.get("O", {})
                reply = struct.pack(">III", o.get("version", 6), o.get("actions", actions & 0x1ff),
                                    o.get("protocol", 0))
                for stage, names in o.get("macros", {}).items():
                    reply += struct.pack(">I", int(stage)) + z(names)
                self.no_reply = o.get("protocol", 0)
                if "raw" in o:
                    self.conn.sendall(bytes.fromhex(o["raw"]))
                else:
                    self.conn.sendall(pkt("O", reply))
                continue
            if cmd == "B":
                entry["args"] = [data.decode("latin-1")]
            elif cmd == "C":
                host, rest = data.split(b"\0", 1)
                entry["args"] = [host.decode(), chr(rest[0]), rest[3:-1].decode() if len(rest) > 3 else ""]
            else:
                entry["args"] = strings(data)
            self.log(entry)
            if cmd in ("A", "K"):
                continue
            if cmd == "Q":
                return
            nr = {"C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000, "L": 0x80, "N": 0x40000,
                  "B": 0x80000}
            if self.no_reply & nr.get(cmd, 0):
                continue
            self.answer(cmd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--script", default="{}")
    args = ap.parse_args()
    script = json.loads(args.script)
    if args.listen.startswith("unix:"):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(args.listen[5:])
        where = args.listen
    else:
        host, port = args.listen.rsplit(":", 1)
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, int(port)))
        where = "%s:%d" % srv.getsockname()
    srv.listen(64)
    os.makedirs(args.record, exist_ok=True)
    print("READY " + where, flush=True)

    def serve(conn):
        try:
            Session(conn, script, args.record).run()
        except (EOFError, ConnectionError, OSError):
            pass
        finally:
            conn.close()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
