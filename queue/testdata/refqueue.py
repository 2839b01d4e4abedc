#!/usr/bin/env python3
"""A tiny re-implementation of the reference capture queue's protocol.

capq's interop tests (queue/interop_test.go) drive this script to check that
capq and the Python reference can share one queue directory. It implements
what spec/REFERENCE.md records of the reference, and nothing
more: the envelope layout, append (tmp file opened O_CREAT|O_EXCL, fsync,
os.replace), ingest (lock file opened O_WRONLY|O_CREAT, flock
LOCK_EX|LOCK_NB, skip if busy, re-check the pending file, read, check
schema_version, call the handler, delete the pending file, then unlock and
delete the lock) and count. Overflow pruning is left out: no interop test
needs it. It uses the standard library only.

Usage (every command writes UTF-8 to stdout, one result per line):

    refqueue.py append DIR          append each JSON record read from stdin
                                    (one per line); print each ULID
    refqueue.py ingest DIR [--wait] [--fail]
                                    drain DIR; print one JSON line
                                    {"ulid":..., "record":...} (ASCII-escaped)
                                    per record delivered. --wait lists the
                                    queue, prints "ready" and waits for a line
                                    on stdin before draining. --fail makes the
                                    handler raise on the first record (exit 3).
                                    A schema_version other than 1 exits 4.
    refqueue.py count DIR           print the pending count
    refqueue.py hold DIR ULID       flock the record's lock file as the seed
                                    test does, print "locked", and hold the
                                    lock until stdin is closed
    refqueue.py redump FILE...      print, per file, base64 of
                                    json.dumps(json.loads(file)) written the
                                    reference's way
    refqueue.py fixtures OUTDIR     (re)write the envelopes of
                                    testdata/interop with fixed ULIDs and times
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone

SCHEMA_VERSION = 1
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last_ms = 0


class SchemaError(Exception):
    pass


def _encode_ulid(n: int) -> str:
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[n & 31])
        n >>= 5
    return "".join(reversed(out))


def generate_ulid() -> str:
    """A ULID as the reference makes them: 48-bit milliseconds, 80 random
    bits, and a guard that bumps the millisecond on every collision (one of
    the reference's weaknesses, kept here on purpose)."""
    global _last_ms
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms + 1
    _last_ms = ms
    return _encode_ulid((ms << 80) | int.from_bytes(os.urandom(10), "big"))


def envelope_bytes(ulid: str, appended_at: str, record, schema_version=SCHEMA_VERSION) -> bytes:
    envelope = {
        "ulid": ulid,
        "appended_at": appended_at,
        "record": record,
        "schema_version": schema_version,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def append(qdir: str, record) -> str:
    ulid = generate_ulid()
    data = envelope_bytes(ulid, datetime.now(timezone.utc).isoformat(), record)
    final = os.path.join(qdir, f"pending-{ulid}.json")
    tmp = final + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:  # the reference does not loop; a test helper must not tear files
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    return ulid


def list_pending(qdir: str) -> list[str]:
    names = sorted(
        n for n in os.listdir(qdir)
        if n.startswith("pending-") and n.endswith(".json")
        and os.path.isfile(os.path.join(qdir, n))
    )
    return [os.path.join(qdir, n) for n in names]


def ingest(qdir: str, handler, paths: list[str] | None = None) -> int:
    if paths is None:
        paths = list_pending(qdir)
    n = 0
    for path in paths:
        ulid = os.path.basename(path)[len("pending-"):-len(".json")]
        lock = os.path.join(qdir, f"pending-{ulid}.lock")
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # another consumer has it
        remove_lock = False
        try:
            if not os.path.exists(path):
                remove_lock = True  # delivered by someone else meanwhile
                continue
            with open(path, "rb") as f:
                envelope = json.loads(f.read().decode("utf-8"))
            if envelope.get("schema_version") != SCHEMA_VERSION:
                raise SchemaError(
                    f"{path}: schema_version {envelope.get('schema_version')!r} "
                    f"(expected {SCHEMA_VERSION})")
            handler(ulid, envelope["record"])
            os.unlink(path)  # the record first ...
            remove_lock = True
            n += 1
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)  # ... then unlock and delete the lock
            os.close(fd)
            if remove_lock:
                try:
                    os.unlink(lock)
                except FileNotFoundError:
                    pass
    return n


def _out(line: str) -> None:
    sys.stdout.buffer.write(line.encode("utf-8") + b"\n")


def cmd_ingest(qdir: str, flags: list[str]) -> int:
    paths = None
    if "--wait" in flags:
        paths = list_pending(qdir)
        _out("ready")
        sys.stdout.flush()
        sys.stdin.buffer.readline()

    def handler(ulid, record):
        if "--fail" in flags:
            raise RuntimeError("handler exploded")
        _out(json.dumps({"ulid": ulid, "record": record}, ensure_ascii=True, separators=(",", ":")))

    try:
        ingest(qdir, handler, paths)
    except SchemaError as e:
        print(e, file=sys.stderr)
        return 4
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 3
    return 0


def cmd_hold(qdir: str, ulid: str) -> int:
    fd = os.open(os.path.join(qdir, f"pending-{ulid}.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _out("locked")
        sys.stdout.flush()
        sys.stdin.buffer.read()
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return 0


def cmd_redump(files: list[str]) -> int:
    for name in files:
        with open(name, "rb") as f:
            obj = json.loads(f.read().decode("utf-8"))
        again = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        _out(base64.b64encode(again.encode("utf-8", "surrogatepass")).decode("ascii"))
    return 0


# The fixtures: (file stem, appended_at, record). appended_at covers every
# shape a reader must accept: isoformat with microseconds, isoformat without
# a fraction, and Z (which the reference never writes but readers accept).
FIXTURES = [
    # The bytes observed from the reference, as quoted in spec/REFERENCE.md.
    ("note", "01M89W077TES8Y8XEAP3E7KMB2", "2026-11-25T17:28:07.162144+00:00", {
        "surface": "Привет 🧠 <a&b>", "cue": "c", "n": 1180591620717411303424,
        "f": 1.0, "g": 1e16, "h": 1.5e-07, "z": -0.0}),
    # The seed's payload, precomposed and with a combining acute accent.
    ("seed-unicode", None, datetime(2026, 5, 2, 15, 0, 0, tzinfo=timezone.utc).isoformat(), {
        "surface": "Привет, world! 🧠 Δ ∑ — combining e\u0301 vs \u00e9",
        "cue": "cue 0", "tier": "episodic", "session_id": "test-session", "role": "user"}),
    ("planes", None, datetime(2026, 5, 2, 15, 0, 0, 120000, tzinfo=timezone.utc).isoformat(), {
        "bmp": "Ελληνικά Русский ∑ € \ufffd \uffff",
        "rtl": "مرحبا بالعالم שלום",
        "smp": "🧠 𝄞 𐍈 🀄",
        "zwj": "👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 👍🏽 🇺🇦",
        "sip": "𠀀 𪜀 𫝀",
        "tip": "\U00030000",
        "ssp": "\U000e0001\U000e0065\U000e006e \u8fba\U000e0100",
        "pua": "\U000f0000 \U0010fffd \U0010ffff",
        "combining": "e\u0301 a\u0308\u0323 \u0915\u094d\u0937",
        "seps": "line\u2028para\u2029",
        "html": "<script>&amp;</script>",
        "ctl": "\u0000\u0001\b\t\n\f\r\u001f\u007f \"quoted\" back\\slash /",
        "🔑": "emoji key",
    }),
    ("numbers", None, "2026-05-02T15:00:00.000001+00:00", {
        "u64max": 2**64 - 1, "e30": 10**30, "neg70": -(2**70), "zero": 0, "negint": -1,
        "f01": 0.1, "e308": 1e308, "negzero": -0.0, "one": 1.0, "tiny": 5e-324,
        "max": 1.7976931348623157e308, "small": 1.5e-07, "e16": 1e16,
        "nested": {"a": [1, [2, [3, {"b": None}]], True, False], "empty": {}, "list": []},
    }),
    ("zulu", None, "2026-05-02T15:00:00.120000Z", {"surface": "appended_at with Z", "cue": "z"}),
]


def _fixture_ulid(stem: str, appended_at: str) -> str:
    ms = int(datetime.fromisoformat(appended_at.replace("Z", "+00:00")).timestamp() * 1000)
    rnd = int.from_bytes(hashlib.sha256(stem.encode()).digest()[:10], "big")
    return _encode_ulid((ms << 80) | rnd)


def cmd_fixtures(outdir: str) -> int:
    for stem, ulid, appended_at, record in FIXTURES:
        ulid = ulid or _fixture_ulid(stem, appended_at)
        with open(os.path.join(outdir, f"{stem}.json"), "wb") as f:
            f.write(envelope_bytes(ulid, appended_at, record))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "append" and len(args) == 1:
        for line in sys.stdin.buffer:
            if line.strip():
                _out(append(args[0], json.loads(line.decode("utf-8"))))
        return 0
    if cmd == "ingest" and len(args) >= 1:
        return cmd_ingest(args[0], args[1:])
    if cmd == "count" and len(args) == 1:
        _out(str(len(list_pending(args[0]))))
        return 0
    if cmd == "hold" and len(args) == 2:
        return cmd_hold(args[0], args[1])
    if cmd == "redump":
        return cmd_redump(args)
    if cmd == "fixtures" and len(args) == 1:
        return cmd_fixtures(args[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
