#!/usr/bin/python3
"""Verifies a message's DKIM signatures with dkimpy (Debian's python3-dkim), the keys read
from a DNS server on loopback with drill (ldnsutils): the independent check of what the
edge signs (test_message_auth.cpp).

  dkim_verify_nsd.py PORT FILE   -> prints "pass" (exit 0) when every signature verifies,
                                    "fail" (exit 1) otherwise; FILE is the message, CRLF text.
"""
import subprocess
import sys

import dkim


def txt_from_drill(port, name):
    name = name.decode() if isinstance(name, bytes) else name
    out = subprocess.run(["drill", "-p", str(port), "@127.0.0.1", name.rstrip("."), "TXT"],
                         capture_output=True, text=True, timeout=10).stdout
    records = []
    in_answer = False
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            in_answer = True
            continue
        if in_answer and (line.startswith(";;") or not line.strip()):
            in_answer = False
        if in_answer and "\tTXT\t" in line:
            text = line.split("\tTXT\t", 1)[1]
            # "a" "b" -> ab: the character-strings of one record, joined (RFC 6376 §3.6.2.2).
            parts = []
            inside = False
            cur = ""
            escape = False
            for ch in text:
                if escape:
                    cur += ch
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == '"':
                    if inside:
                        parts.append(cur)
                        cur = ""
                    inside = not inside
                elif inside:
                    cur += ch
            records.append("".join(parts))
    return records[0].encode() if records else None


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    port = int(argv[1])
    message = open(argv[2], "rb").read()
    d = dkim.DKIM(message, minkey=1024)
    count = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    ok = count > 0 and all(d.verify(idx=i, dnsfunc=lambda name, timeout=5: txt_from_drill(port, name))
                           for i in range(count))
    print("pass" if ok else "fail")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
