#!/usr/bin/python3
"""dkimpy (Debian's python3-dkim) as the independent DKIM implementation of test_dkim.cpp.

  dkim_tool.py sign KEY DOMAIN SELECTOR ALGORITHM CANON IN OUT [--length]
      signs the message in IN (CRLF text) with the key file KEY (as dknewkey writes it)
      and writes the signed message to OUT. ALGORITHM: rsa-sha256 or ed25519-sha256;
      CANON: header/body, e.g. relaxed/simple. --length adds l=.
  dkim_tool.py verify RECORD IN
      verifies every signature of IN against the key record text in the file RECORD
      (no DNS: every key name answers with it); exit 0 when all verify, 1 otherwise.
"""
import sys

import dkim


def main(argv):
    if len(argv) >= 9 and argv[1] == "sign":
        key, domain, selector, algorithm, canon, src, dst = argv[2:9]
        header_canon, body_canon = canon.encode().split(b"/")
        message = open(src, "rb").read()
        field = dkim.sign(message, selector.encode(), domain.encode(), open(key, "rb").read(),
                          canonicalize=(header_canon, body_canon), signature_algorithm=algorithm.encode(),
                          length="--length" in argv[9:], linesep=b"\r\n")
        open(dst, "wb").write(field + message)
        return 0
    if len(argv) == 4 and argv[1] == "verify":
        record = open(argv[2], "rb").read().strip()
        message = open(argv[3], "rb").read()
        d = dkim.DKIM(message, minkey=1024)
        count = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
        ok = count > 0 and all(d.verify(idx=i, dnsfunc=lambda name, timeout=5: record) for i in range(count))
        print("pass" if ok else "fail")
        return 0 if ok else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
