#!/usr/bin/python3
# Reads a message with Python's email package (an independent MIME parser) and prints one
# line per part, in order: content type, file name ("-" when none) and the SHA-256 of the
# decoded payload ("-" for multiparts and attached messages), tab-separated; then a last
# line "defects N" with the parser's defect count. Used by the Attachment Filtering
# Agent's integration test: a stripped message must parse, and its other parts be the same.
import email
import hashlib
import sys
from email import policy

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=policy.default)
defects = 0
for part in msg.walk():
    defects += len(part.defects)
    name = part.get_filename() or "-"
    if part.is_multipart():
        digest = "-"
    else:
        payload = part.get_payload(decode=True) or b""
        digest = hashlib.sha256(payload).hexdigest()
    print(f"{part.get_content_type()}\t{name}\t{digest}")
print(f"defects {defects}")
