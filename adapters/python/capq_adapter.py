#!/usr/bin/env python3
"""Speak capq's check protocol (spec/PROTOCOL.md) for a Python queue.

    capq_adapter.py [--path DIR]... [--level LEVEL] MODULE[:CLASS]

MODULE is imported (after adding each --path to sys.path) and CLASS (default
CaptureQueue) is instantiated as CLASS(queue_dir, max_size) on the directory
in $CAPQ_DIR. The class must have the reference's API:

    append(record: dict) -> str              the new record's ULID
    ingest_pending(handler) -> int           handler(record) per record, oldest
                                             first; an exception from the
                                             handler stops the drain
    pending_count() -> int
    list_pending() -> list[path]             pending-<ULID>.json paths, oldest first
    prune_oldest(keep: int) -> int           optional: drop the oldest until
                                             keep remain; how many were dropped
    generate_ulid() -> str                   optional (method or module
                                             function): the ULIDs append uses

A record the queue refuses raises ValueError or TypeError. A schema error is
an exception whose class name contains "Schema". Run it under capq:

    capq check --impl 'python3 adapters/python/capq_adapter.py mymodule'

The handler receives the record only, so the adapter finds each delivery's
ULID by reading the pending files before the drain and matching records in
order. It uses only the standard library.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys

PROTOCOL = 1


class _Fail(Exception):
    """The failure an ingest's handler raises when told to."""


def _reply(obj) -> None:
    # One write per reply, flushed: the line is the acknowledgement.
    line = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=True) + "\n"
    sys.stdout.buffer.write(line.encode("utf-8", "surrogatepass"))
    sys.stdout.buffer.flush()


def _err(kind: str, message: str) -> dict:
    return {"ok": False, "error": kind, "message": message}


def _dumps(record) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=True)


class Adapter:
    def __init__(self, module, cls, level):
        self.module, self.cls, self.level = module, cls, level
        self.q = None
        self.dir = os.environ.get("CAPQ_DIR", "")

    def open(self, max_size=None):
        params = inspect.signature(self.cls).parameters
        if max_size is None:
            self.q = self.cls(self.dir)
        elif "max_size" in params:
            self.q = self.cls(self.dir, max_size=None if max_size < 0 else max_size)
        else:
            self.q = self.cls(self.dir, max_size)

    def features(self):
        f = ["max_size"]
        if hasattr(self.q, "prune_oldest"):
            f += ["prune", "audit"]
        if self._ulid_fn() is not None:
            f.append("ulids")
        return f

    def _ulid_fn(self):
        fn = getattr(self.q, "generate_ulid", None)
        return fn if callable(fn) else getattr(self.module, "generate_ulid", None)

    def serve(self, req: dict) -> dict:
        op = req.get("op")
        if op == "hello":
            self.open(req.get("max_size"))
            rep = {"ok": True, "protocol": PROTOCOL, "name": f"python:{self.module.__name__}.{self.cls.__name__}",
                   "features": self.features()}
            if self.level:
                rep["level"] = self.level
            return rep
        if op == "quit":
            return {"ok": True}
        if self.q is None:
            self.open()
        if op == "append":
            text = req.get("record")
            if not isinstance(text, str):
                return _err("bad_request", "append needs a record")
            try:
                record = json.loads(text)  # Python's parser: NaN and Infinity pass, as in the reference
            except ValueError as e:
                return _err("invalid_record", f"not JSON: {e}")
            try:
                return {"ok": True, "ulid": self.q.append(record)}
            except (ValueError, TypeError) as e:
                return _err("invalid_record", str(e))
            except OSError as e:
                return _err("io", str(e))
        if op == "list":
            return {"ok": True, "ulids": [self._ulid(p) for p in self.q.list_pending()]}
        if op == "count":
            return {"ok": True, "count": self.q.pending_count()}
        if op == "ingest":
            return self.ingest(req.get("outcomes") or [])
        if op == "prune":
            keep = req.get("keep")
            if not hasattr(self.q, "prune_oldest"):
                return _err("unsupported", "the queue has no prune_oldest")
            if not isinstance(keep, int) or keep < 0:
                return _err("bad_request", "prune needs keep >= 0")
            try:
                return {"ok": True, "dropped": int(self.q.prune_oldest(keep) or 0)}
            except OSError as e:
                return _err("io", str(e))
        if op == "ulids":
            fn = self._ulid_fn()
            if fn is None:
                return _err("unsupported", "no generate_ulid")
            return {"ok": True, "ulids": [fn() for _ in range(int(req.get("count") or 0))]}
        return _err("unsupported", f"unknown op {op!r}")

    @staticmethod
    def _ulid(path) -> str:
        return os.path.basename(str(path))[len("pending-"):-len(".json")]

    def _snapshot(self):
        """(ULID, record) of each pending file, oldest first, read without
        following symlinks; unreadable files are left out."""
        out = []
        for p in self.q.list_pending():
            try:
                fd = os.open(str(p), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as f:
                    env = json.loads(f.read().decode("utf-8"))
                out.append((self._ulid(p), env.get("record")))
            except (OSError, ValueError, AttributeError):
                continue
        return out

    def ingest(self, outcomes) -> dict:
        pending = self._snapshot()
        pos = 0
        deliveries = []

        def handler(record, *rest):
            nonlocal pos
            ulid = ""
            for i in range(pos, len(pending)):
                if pending[i][1] == record:
                    ulid, pos = pending[i][0], i + 1
                    break
            deliveries.append({"ulid": ulid, "attempt": 1, "record": _dumps(record)})
            if len(deliveries) <= len(outcomes) and outcomes[len(deliveries) - 1] != "ok":
                raise _Fail("outcome fail")

        try:
            self.q.ingest_pending(handler)
        except _Fail:
            pass
        except Exception as e:  # the queue's own error: schema, corrupt file, I/O
            kind = "schema" if "Schema" in type(e).__name__ else "io"
            return {"ok": False, "error": kind, "message": f"{type(e).__name__}: {e}", "deliveries": deliveries}
        return {"ok": True, "deliveries": deliveries}


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", action="append", default=[], help="add DIR to sys.path")
    ap.add_argument("--level", default="", help="the conformance level claimed")
    ap.add_argument("target", help="MODULE[:CLASS]")
    args = ap.parse_args(argv[1:])
    for p in reversed(args.path):
        sys.path.insert(0, os.path.abspath(p))
    modname, _, clsname = args.target.partition(":")
    module = importlib.import_module(modname)
    cls = getattr(module, clsname or "CaptureQueue")
    a = Adapter(module, cls, args.level)
    for raw in sys.stdin.buffer:
        try:
            req = json.loads(raw.decode("utf-8"))
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as e:
            _reply(_err("bad_request", str(e)))
            continue
        try:
            rep = a.serve(req)
        except Exception as e:  # never die on one request: say what happened
            rep = _err("io", f"{type(e).__name__}: {e}")
        _reply(rep)
        if req.get("op") == "quit":
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
