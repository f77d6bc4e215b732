#!/usr/bin/python3
# sts_policy_server.py -- the MTA-STS policy servers of the integration tests: one HTTPS
# server (Python's http.server with ssl) for every https://mta-sts.<domain>/ the test
# publishes, the host chosen by the request's Host field.
#
#   sts_policy_server.py --listen IP:PORT --cert CHAIN --key KEY --root DIR
#
# GET /.well-known/mta-sts.txt with Host mta-sts.D answers 200, Content-Type text/plain,
# the bytes of DIR/D.txt; a missing file is 404; DIR/D.redirect (a URL) answers 301 to it.
# Each request is appended to DIR/requests.log ("<host> <path>"). PORT 0 lets the kernel
# choose; once listening it prints "READY <ip>:<port>". SIGTERM ends it.
import argparse
import http.server
import os
import signal
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    ip, _, port = args.listen.rpartition(":")
    root = args.root

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            with open(os.path.join(root, "requests.log"), "a") as f:
                f.write(f"{host} {self.path}\n")
            domain = host[len("mta-sts."):] if host.startswith("mta-sts.") else ""
            base = os.path.join(root, domain)
            if self.path != "/.well-known/mta-sts.txt" or not domain or "/" in domain:
                return self.answer(404, b"not found\n")
            if os.path.exists(base + ".redirect"):
                with open(base + ".redirect") as f:
                    return self.answer(301, b"moved\n", [("Location", f.read().strip())])
            if not os.path.exists(base + ".txt"):
                return self.answer(404, b"not found\n")
            with open(base + ".txt", "rb") as f:
                return self.answer(200, f.read())

        def answer(self, code, body, headers=()):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer((ip, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(f"READY {ip}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
