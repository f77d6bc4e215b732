#!/usr/bin/python3
"""Reads one message file with Python's email package (an independent MIME parser)
and prints what it sees, one "key<TAB>value" line each, for tests/unit/test_dsn.cpp.
Values have backslash, CR, LF and TAB escaped as \\\\ \\r \\n \\t.

Keys:
  header.<Name>                 each top-level header, decoded (RFC 2047), unfolded
  content-type, report-type, boundary, cte
  defects                       number of defects the parser found, in every part
  parts                         number of parts; part.<i>.content-type, part.<i>.cte
  part.<i>.text                 a text/* part's content
  report.<Name>                 message/delivery-status per-message fields
  recipients                    number of per-recipient blocks
  recipient.<j>.<Name>          their fields
  returned.header.<Name>        a message/rfc822 part's headers
  returned.body                 and its body
"""
import sys
from email import policy
from email.parser import BytesParser


def out(key, value):
    value = str(value).replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    print(f"{key}\t{value}")


def main():
    with open(sys.argv[1], "rb") as f:
        msg = BytesParser(policy=policy.default).parse(f)
    for name, value in msg.items():
        out(f"header.{name}", value)
    out("content-type", msg.get_content_type())
    out("report-type", msg.get_param("report-type", ""))
    out("boundary", msg.get_boundary() or "")
    out("cte", msg.get("Content-Transfer-Encoding", ""))
    defects = len(msg.defects)
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    out("parts", len(parts))
    for i, part in enumerate(parts):
        defects += len(part.defects)
        out(f"part.{i}.content-type", part.get_content_type())
        out(f"part.{i}.cte", part.get("Content-Transfer-Encoding", ""))
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload()
            for name, value in blocks[0].items():
                out(f"report.{name}", value)
            out("recipients", len(blocks) - 1)
            for j, block in enumerate(blocks[1:]):
                defects += len(block.defects)
                for name, value in block.items():
                    out(f"recipient.{j}.{name}", value)
        elif ctype == "message/rfc822":
            inner = part.get_payload(0)
            defects += len(inner.defects)
            for name, value in inner.items():
                out(f"returned.header.{name}", value)
            out("returned.body", inner.get_payload())
        elif part.get_content_maintype() == "text":
            out(f"part.{i}.text", part.get_payload(decode=True).decode("utf-8", "replace"))
    out("defects", defects)


if __name__ == "__main__":
    main()
