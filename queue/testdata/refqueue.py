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
        if not _try_lock(fd):
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
            _release(fd, lock, remove_lock)  # ... then unlock and delete the lock
    return n


def _try_lock(fd: int) -> bool:
    """The start of a claim: flock LOCK_EX|LOCK_NB on the record's lock
    file. When another consumer holds it, the descriptor is closed and the
    record skipped (False)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    return True


def _release(fd: int, lock: str, remove_lock: bool) -> None:
    """The end of a claim, in the reference's order: the record was
    deleted first, then the lock is released and closed, and its file
    deleted when remove_lock says so. Both ingests (the protocol's and
    CaptureQueue's) begin their claims with _try_lock and end them here."""
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    if remove_lock:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass


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


# ---------------------------------------------------------------------------
# The reference's API, for capq's conformance judge (adapters/python and
# verify/conform): CaptureQueue(queue_dir, max_size) with append,
# ingest_pending, pending_count, list_pending and prune_oldest.
#
# CaptureQueue behaves as the reference was observed to behave, weaknesses
# included: each class attribute below is one recorded weakness when set as
# in CaptureQueue. HardenedCaptureQueue turns every one of them off; the
# deliberately weak implementations of verify/conform's tests each turn one
# back on, so that each report card must name exactly one requirement.
# ---------------------------------------------------------------------------

import re
import stat as _stat

DEFAULT_MAX_SIZE = 10000
_PENDING_RE = re.compile(r"^pending-[0-7][0-9A-HJKMNP-TV-Z]{25}\.json$")


def _depth(value) -> int:
    """The nesting depth of a decoded JSON value (a scalar is 0), without
    recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v)
    return deepest


class CaptureQueueSchemaError(Exception):
    """A pending file of another schema_version: the drain stops (R14)."""


class CorruptRecord(Exception):
    """A pending file that is not a valid envelope (R3)."""


class CaptureQueue:
    DIR_FSYNC = False          # R9, R15: no directory fsync after rename or unlink
    QUARANTINE = False         # R21: a corrupt file stops every drain
    NOFOLLOW = False           # R22: symlinks are followed everywhere
    STRICT_NAMES = False       # R23: pending-.json and friends count as pending
    HEADROOM_100 = True        # R18: overflow prunes to max_size - 100 (nothing at <= 100)
    ULID_BUMP = True           # R6: the millisecond is bumped on every collision
    COUNT_EVERY_APPEND = True  # R19: every append lists the whole directory
    ORPHAN_LOCK = True         # R18: a pruned record's lock file stays forever
    ALLOW_NAN = True           # R5: NaN and Infinity are written (not JSON)
    LOOSE_RECORDS = True       # R3, R5: non-object records, schema_version 1.0
    MAX_RECORD_BYTES = 0       # R5: no bound on a record's size (0: none)
    MAX_DEPTH = 0              # R5: no bound on a record's nesting (0: none)

    def __init__(self, queue_dir, max_size=DEFAULT_MAX_SIZE):
        self.dir = str(queue_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.max_size = max_size
        self._last_ms = 0
        self._last_rand = 0
        self._count = None  # the count estimate when not listing every append
        self._since = 0

    # -- ULIDs (R6) --
    def generate_ulid(self) -> str:
        ms = time.time_ns() // 1_000_000
        if self.ULID_BUMP:
            if ms <= self._last_ms:
                ms = self._last_ms + 1
            rnd = int.from_bytes(os.urandom(10), "big")
        elif ms <= self._last_ms:
            ms, rnd = self._last_ms, self._last_rand + 1
            if rnd >> 80:  # the random part overflowed: wait for the next millisecond
                while time.time_ns() // 1_000_000 <= self._last_ms:
                    time.sleep(0.0001)
                return self.generate_ulid()
        else:
            rnd = int.from_bytes(os.urandom(10), "big")
        self._last_ms, self._last_rand = ms, rnd
        return _encode_ulid((ms << 80) | rnd)

    # -- names and listing (R1, R7, R22, R23) --
    def _is_pending_name(self, name):
        if self.STRICT_NAMES:
            return bool(_PENDING_RE.match(name))
        return name.startswith("pending-") and name.endswith(".json")

    def list_pending(self):
        out = []
        with os.scandir(self.dir) as it:
            for e in it:
                if not self._is_pending_name(e.name):
                    continue
                if e.is_file(follow_symlinks=not self.NOFOLLOW):
                    out.append(e.path)
        out.sort()
        return out

    def pending_count(self):
        return len(self.list_pending())

    @staticmethod
    def _ulid_from_path(path):
        return os.path.basename(path)[len("pending-"):-len(".json")]

    def _fsync_dir(self, path=None):
        if not self.DIR_FSYNC:
            return
        fd = os.open(path or self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # makes the renames and unlinks in it durable (R9, R15)
        finally:
            os.close(fd)

    def _nofollow(self):
        return os.O_NOFOLLOW if self.NOFOLLOW else 0

    # -- append (R2, R5, R8, R9, R18) --
    def append(self, record) -> str:
        if not self.LOOSE_RECORDS and not isinstance(record, dict):
            raise TypeError("a record must be a JSON object")
        if self.MAX_DEPTH and _depth(record) > self.MAX_DEPTH:
            raise ValueError(f"a record nested deeper than {self.MAX_DEPTH}")
        if self.MAX_RECORD_BYTES and len(json.dumps(record, ensure_ascii=False, separators=(",", ":"),
                                                    allow_nan=self.ALLOW_NAN).encode("utf-8")) > self.MAX_RECORD_BYTES:
            raise ValueError(f"a record over {self.MAX_RECORD_BYTES} bytes")
        ulid = self.generate_ulid()
        envelope = {"ulid": ulid, "appended_at": datetime.now(timezone.utc).isoformat(),
                    "record": record, "schema_version": SCHEMA_VERSION}
        data = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=self.ALLOW_NAN).encode("utf-8")
        final = os.path.join(self.dir, f"pending-{ulid}.json")
        tmp = final + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | self._nofollow(), 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        self._fsync_dir()
        self._after_append(ulid)
        return ulid

    def _after_append(self, ulid):
        if self.max_size is None or self.max_size < 0:
            return
        if self.COUNT_EVERY_APPEND:
            count = self.pending_count()
        else:
            # Count from a listing now and then, not on every append (R19).
            headroom = self._headroom()
            self._since += 1
            if self._count is None or self._since >= max(headroom, self._count // 100):
                self._count, self._since = self.pending_count(), 0
            else:
                self._count += 1
            count = self._count
            if count > self.max_size:
                count = self._count = self.pending_count()
        if count > self.max_size:
            target = self.max_size - self._headroom()
            self._prune(max(target, 0), "queue_overflow", newest=None if self.HEADROOM_100 else ulid)
            if self._count is not None:
                self._count = self.pending_count()

    def _headroom(self):
        if self.HEADROOM_100:
            return 100
        return min(max(self.max_size // 10, 1), 100)

    # -- prune and the audit log (R18, R20) --
    def prune_oldest(self, keep: int) -> int:
        """Drop the oldest pending records until at most keep remain; return how many."""
        return self._prune(keep, "queue_overflow")

    def _prune(self, keep, reason, newest=None):
        paths = self.list_pending()
        excess = len(paths) - keep
        dropped = 0
        for path in paths[:max(excess, 0)]:
            ulid = self._ulid_from_path(path)
            if newest is not None and ulid >= newest:
                break
            lock = os.path.join(self.dir, f"pending-{ulid}.lock")
            lfd = None
            if not self.ORPHAN_LOCK:
                # Prune takes the record's lock, as a consumer does, so that
                # it never deletes under a handler, and drops the lock too.
                try:
                    lfd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                    fcntl.flock(lfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    if lfd is not None:
                        os.close(lfd)
                    continue
            try:
                appended_at = ""
                try:
                    with open(path, "rb") as f:
                        appended_at = json.loads(f.read().decode("utf-8")).get("appended_at", "")
                except (OSError, ValueError, AttributeError):
                    pass
                self._audit({"ts": datetime.now(timezone.utc).isoformat(), "dropped_ulid": ulid,
                             "appended_at": appended_at, "reason": reason,
                             "queue_size_before_prune": len(paths)})
                os.unlink(path)
                dropped += 1
                if lfd is not None:
                    os.unlink(lock)
            finally:
                if lfd is not None:
                    fcntl.flock(lfd, fcntl.LOCK_UN)
                    os.close(lfd)
        if dropped:
            self._fsync_dir()
        return dropped

    def _audit(self, entry):
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(os.path.join(self.dir, ".overflow-audit.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | self._nofollow(), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)  # the line is durable before the file it describes goes (R20)
        finally:
            os.close(fd)

    # -- ingest (R3, R11, R12, R14, R21) --
    def _decode(self, path, ulid, data):
        """Returns the record, or raises CaptureQueueSchemaError or CorruptRecord."""
        try:
            env = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CorruptRecord(f"{path}: {e}")
        sv = env.get("schema_version") if isinstance(env, dict) else None
        if self.LOOSE_RECORDS:
            if sv != SCHEMA_VERSION:
                raise CaptureQueueSchemaError(f"{path}: schema_version {sv!r} (expected {SCHEMA_VERSION})")
            return env["record"]
        if isinstance(sv, int) and not isinstance(sv, bool) and sv != SCHEMA_VERSION:
            raise CaptureQueueSchemaError(f"{path}: schema_version {sv!r} (expected {SCHEMA_VERSION})")
        if (not isinstance(env, dict) or set(env) != {"ulid", "appended_at", "record", "schema_version"}
                or type(sv) is not int or env["ulid"] != ulid or not isinstance(env["record"], dict)):
            raise CorruptRecord(f"{path}: not a valid envelope")
        return env["record"]

    def _quarantine(self, path, ulid, why):
        qdir = os.path.join(self.dir, "quarantine")
        os.makedirs(qdir, exist_ok=True)
        dest = os.path.join(qdir, os.path.basename(path))
        n = 0
        while os.path.lexists(dest):
            n += 1
            dest = os.path.join(qdir, f"{os.path.basename(path)}.{n}")
        self._audit({"ts": datetime.now(timezone.utc).isoformat(), "ulid": ulid, "appended_at": "",
                     "reason": "quarantined", "detail": why})
        os.rename(path, dest)
        self._fsync_dir(qdir)
        self._fsync_dir()

    def ingest_pending(self, handler) -> int:
        n = 0
        deleted = False
        try:
            for path in self.list_pending():
                ulid = self._ulid_from_path(path)
                lock = os.path.join(self.dir, f"pending-{ulid}.lock")
                try:
                    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | self._nofollow(), 0o600)
                except OSError:
                    continue  # a lock name that is a symlink: never followed (R22)
                if not _try_lock(fd):
                    continue  # another consumer has it
                remove_lock = False
                try:
                    try:
                        rfd = os.open(path, os.O_RDONLY | self._nofollow() | os.O_NONBLOCK)
                    except FileNotFoundError:
                        remove_lock = True  # delivered by someone else meanwhile
                        continue
                    except OSError:
                        continue
                    with os.fdopen(rfd, "rb") as f:
                        if self.NOFOLLOW and not _stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                            continue
                        data = f.read()
                    try:
                        record = self._decode(path, ulid, data)
                    except CorruptRecord as e:
                        if not self.QUARANTINE:
                            raise
                        self._quarantine(path, ulid, str(e))
                        remove_lock = True
                        continue
                    handler(record)
                    os.unlink(path)  # the record first ...
                    deleted = True
                    remove_lock = True
                    n += 1
                finally:
                    _release(fd, lock, remove_lock)  # ... then unlock and delete the lock
        finally:
            if deleted:
                self._fsync_dir()  # the deletes are durable before ingest returns (R15)
        return n


class HardenedCaptureQueue(CaptureQueue):
    """The reference's API without its recorded weaknesses."""
    DIR_FSYNC = True
    QUARANTINE = True
    NOFOLLOW = True
    STRICT_NAMES = True
    HEADROOM_100 = False
    ULID_BUMP = False
    COUNT_EVERY_APPEND = False
    ORPHAN_LOCK = False
    ALLOW_NAN = False
    LOOSE_RECORDS = False
    MAX_RECORD_BYTES = 4 << 20
    MAX_DEPTH = 512


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
