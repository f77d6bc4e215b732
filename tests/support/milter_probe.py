#!/usr/bin/python3
"""A minimal milter client (Sendmail milter protocol 6) that plays one message to a milter
and prints what it answered: the harness's standalone check that a scanner (rspamd's proxy
worker, clamav-milter) is up and judges as expected, without the edge.

usage: milter_probe.py HOST:PORT MESSAGE_FILE [--from a@b] [--rcpt c@d]
Prints one line per modification ("addheader X-Spam: Yes") and a last line with the verdict:
"accept", "continue", "reject", "tempfail", "discard", "quarantine <reason>" or
"replycode <code text>". Exit 0 when the milter answered, 1 otherwise."""
import argparse, socket, struct, sys


def packet(cmd, data=b''):
    return struct.pack('>I', len(data) + 1) + cmd + data


def read_packet(s):
    head = b''
    while len(head) < 4:
        more = s.recv(4 - len(head))
        if not more:
            raise EOFError('milter closed the connection')
        head += more
    (n,) = struct.unpack('>I', head)
    if n == 0 or n > 1 << 20:
        raise ValueError('bad packet length %d' % n)
    body = b''
    while len(body) < n:
        more = s.recv(n - len(body))
        if not more:
            raise EOFError('milter closed the connection')
        body += more
    return body[:1], body[1:]


def z(*parts):
    return b''.join(p.encode() + b'\0' for p in parts)


FINAL = {b'a': 'accept', b'r': 'reject', b't': 'tempfail', b'd': 'discard'}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('address')
    ap.add_argument('message')
    ap.add_argument('--from', dest='sender', default='sender@example.test')
    ap.add_argument('--rcpt', default='user@example.test')
    a = ap.parse_args()
    host, port = a.address.rsplit(':', 1)
    raw = open(a.message, 'rb').read().replace(b'\r\n', b'\n')
    head, _, body = raw.partition(b'\n\n')
    fields = []
    for line in head.split(b'\n'):
        if line[:1] in (b' ', b'\t') and fields:
            fields[-1][1] += b'\r\n' + line
        elif b':' in line:
            n, v = line.split(b':', 1)
            fields.append([n, v.lstrip()])
    s = socket.create_connection((host, int(port)), timeout=30)
    # Every action allowed; every protocol flag offered, as Postfix does; the milter's
    # "not sent" (SMFIP_NO*) and "no reply" (SMFIP_NR_*) choices are honoured.
    s.sendall(packet(b'O', struct.pack('>III', 6, 0x1ff, 0x1fffff)))
    cmd, d = read_packet(s)
    if cmd != b'O':
        print('no option negotiation: %r' % cmd)
        return 1
    _, _, proto = struct.unpack('>III', d[:12])
    no = {b'C': 0x1, b'H': 0x2, b'M': 0x4, b'R': 0x8, b'B': 0x10, b'L': 0x20, b'N': 0x40}
    nr = {b'C': 0x1000, b'H': 0x2000, b'M': 0x4000, b'R': 0x8000, b'N': 0x40000, b'B': 0x80000, b'L': 0x80}
    s.sendall(packet(b'D', b'C' + z('j', 'edge.test', '{daemon_name}', 'edge', '{client_addr}', '127.0.0.1')))
    steps = [(b'C', z('client.test') + b'4' + struct.pack('>H', 25) + z('127.0.0.1')),
             (b'H', z('client.test')),
             (b'M', z('<%s>' % a.sender)),
             (b'R', z('<%s>' % a.rcpt))]
    steps += [(b'L', n + b'\0' + v + b'\0') for n, v in fields]
    steps.append((b'N', b''))
    body = body.replace(b'\n', b'\r\n')
    for i in range(0, len(body), 65535):
        steps.append((b'B', body[i:i + 65535]))
    for cmd, data in steps:
        if proto & no[cmd]:
            continue
        s.sendall(packet(cmd, data))
        if proto & nr[cmd]:
            continue
        while True:
            r, d = read_packet(s)
            if r == b'p':
                continue
            break
        if r in FINAL:
            print(FINAL[r])
            return 0
        if r == b'y':
            print('replycode ' + d.rstrip(b'\0').decode(errors='replace'))
            return 0
        if r not in (b'c', b's'):
            print('unexpected reply %r at %r' % (r, cmd))
            return 1
    s.sendall(packet(b'E'))
    while True:
        r, d = read_packet(s)
        parts = d.split(b'\0')
        if r == b'h':
            print('addheader %s: %s' % (parts[0].decode(), parts[1].decode(errors='replace')))
        elif r == b'i':
            print('insheader %s: %s' % (parts[0][4:].decode(), parts[1].decode(errors='replace')))
        elif r == b'm':
            print('chgheader %s: %s' % (parts[0][4:].decode(), parts[1].decode(errors='replace')))
        elif r == b'q':
            print('quarantine ' + parts[0].decode(errors='replace'))
        elif r == b'p':
            continue
        elif r in (b'+', b'-', b'e', b'b', b'2'):
            print('modification %r' % r)
        elif r in FINAL or r == b'c':
            print(FINAL.get(r, 'continue'))
            return 0
        elif r == b'y':
            print('replycode ' + d.rstrip(b'\0').decode(errors='replace'))
            return 0
        else:
            print('unexpected reply %r at end of message' % r)
            return 1


if __name__ == '__main__':
    sys.exit(main())
