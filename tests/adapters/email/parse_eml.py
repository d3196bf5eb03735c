"""Decode a stored message with Python's email package (an independent
parser) and print what smtp_test.cpp checks, as one JSON object."""
import email
import email.policy
import email.utils
import json
import sys

raw = open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)


def mailbox(h):
    a = msg[h].addresses[0]
    return {"name": a.display_name, "addr": a.addr_spec}


parts = list(msg.iter_parts()) if msg.is_multipart() else [msg]
defects = [str(d) for d in msg.defects] + [str(d) for p in parts for d in p.defects]
lines = raw.split(b"\r\n")
print(json.dumps({
    "from": mailbox("From"),
    "to": mailbox("To"),
    "reply_to": mailbox("Reply-To") if msg["Reply-To"] else None,
    "subject": str(msg["Subject"]),
    "message_id": str(msg["Message-ID"]).strip(),
    "date": email.utils.parsedate_to_datetime(str(msg["Date"])).timestamp(),
    "mime_version": str(msg["MIME-Version"]),
    "content_type": msg.get_content_type(),
    "parts": [{"type": p.get_content_type(), "charset": p.get_content_charset(),
               "cte": p.get("Content-Transfer-Encoding"), "body": p.get_content()} for p in parts],
    "defects": defects,
    "max_line": max(len(l) for l in lines),
    "bare_lf": raw.count(b"\n") - raw.count(b"\r\n"),
    "eight_bit": any(b > 127 for b in raw),
}, ensure_ascii=False))
