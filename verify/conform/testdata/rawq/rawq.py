#!/usr/bin/env python3
"""A protocol-speaking queue (spec/PROTOCOL.md) that keeps record bytes verbatim,
modelled on queue/testdata/refqueue.py's HardenedCaptureQueue, written by an
outside tester to attack the conformance judge. Weaknesses are switched on by
name with the WEAK environment variable (comma list) or argv; without any it
reaches hardened. verify/conform's TestRawWeakQueues judges some of them.

Intentionally separate from refqueue.py, though parts of its ingest are the
same lines: it is an independent implementation, kept as its tester wrote
it, so that a weakness of refqueue.py is not also its own."""
import os, sys, json, time, fcntl, re, stat
from datetime import datetime, timezone

W = set(filter(None, os.environ.get("WEAK", "").split(","))) | set(sys.argv[1:])
D = os.environ["CAPQ_DIR"]
RE = re.compile(r"^pending-[0-7][0-9A-HJKMNP-TV-Z]{25}\.json$")
ALPH = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
AUDIT = os.path.join(D, ".overflow-audit.log")
POST = []  # actions after the reply
DUPFD = None


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def enc(n):
    s = ""
    for _ in range(26):
        s = ALPH[n & 31] + s
        n >>= 5
    return s


class Gen:
    def __init__(self):
        self.ms = 0
        self.rnd = 0

    def next(self):
        ms = time.time_ns() // 1_000_000
        if "ulid_ahead" in W:
            ms += 5
        if "ulid_bump" in W:
            if ms <= self.ms:
                ms = self.ms + 1
            rnd = int.from_bytes(os.urandom(10), "big")
        elif ms <= self.ms and "ulid_nonmono" not in W:
            ms, rnd = self.ms, self.rnd + 1
        else:
            rnd = int.from_bytes(os.urandom(10), "big")
        self.ms, self.rnd = ms, rnd
        u = enc((ms << 80) | rnd)
        return u.lower() if "ulid_lower" in W else u


G = Gen()


def fsync_dir(p=D):
    if "fsync_parent" in W and p == D:
        p = os.path.dirname(D)
    fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Bad(Exception):
    def __init__(self, kind, msg):
        self.kind, self.msg = kind, msg


def _bad_const(c):
    if "inf" in W and c != "NaN":
        return float(c)
    raise ValueError("not JSON: " + c)


def ws(s, i):
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


DEC = json.JSONDecoder()


def spans(s):
    """Top-level (key, raw value text) pairs of a JSON object text, or raise ValueError."""
    i = ws(s, 0)
    if i >= len(s) or s[i] != "{":
        raise ValueError("not an object")
    i = ws(s, i + 1)
    out = []
    if s[i] == "}":
        j = i + 1
    else:
        while True:
            if s[i] != '"':
                raise ValueError("key expected")
            key, i = json.decoder.scanstring(s, i + 1)
            i = ws(s, i)
            if s[i] != ":":
                raise ValueError(": expected")
            i = ws(s, i + 1)
            _, j = DEC.raw_decode(s, i)
            out.append((key, s[i:j]))
            i = ws(s, j)
            if s[i] == ",":
                i = ws(s, i + 1)
                continue
            if s[i] == "}":
                j = i + 1
                break
            raise ValueError("bad object")
    if ws(s, j) != len(s):
        raise ValueError("trailing data")
    return out


def is_pending(name):
    if "loose_names" in W:
        return name.startswith("pending-") and name.endswith(".json")
    if "count_all" in W:
        return name.startswith("pending-")
    return bool(RE.match(name))


def list_pending():
    out = []
    with os.scandir(D) as it:
        for e in it:
            if not is_pending(e.name):
                continue
            if e.is_file(follow_symlinks=("follow" in W)):
                out.append(e.name)
    if "mtime" in W:
        out.sort(key=lambda n: os.lstat(os.path.join(D, n)).st_mtime_ns)
    else:
        out.sort(reverse=("reverse" in W))
    return out


def ulid_of(name):
    return name[len("pending-"):-len(".json")]


def audit(entry):
    if "no_audit" in W:
        return
    line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    fl = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if "follow" in W else os.O_NOFOLLOW)
    fd = os.open(AUDIT, fl, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        if "audit_nofsync" not in W:
            os.fsync(fd)
    finally:
        os.close(fd)


def now_iso():
    if "at_z" in W:
        return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    if "at_ms" in W:
        return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    if "at_local" in W:
        return datetime.now(timezone.utc).astimezone(timezone(__import__("datetime").timedelta(hours=1))).isoformat()
    return datetime.now(timezone.utc).isoformat()


class Q:
    def __init__(self, max_size):
        self.max_size = max_size
        self.count = None
        self.since = 0

    def headroom(self):
        if "headroom100" in W:
            return 100
        return min(max(self.max_size // 10, 1), 100)

    def append(self, text):
        t = text.strip(" \t\r\n")
        try:
            v = json.loads(t, parse_constant=(None if "nan" in W else _bad_const))
        except ValueError as e:
            raise Bad("invalid_record", str(e))
        if not isinstance(v, dict) and "nonobj" not in W:
            raise Bad("invalid_record", "a record must be a JSON object")
        if "reencode" in W:
            t = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        try:
            rec = t.encode("utf-8")
        except UnicodeEncodeError as e:
            raise Bad("invalid_record", str(e))
        u = G.next()
        at = now_iso().encode()
        if "keyorder" in W:
            data = b'{"schema_version":1,"ulid":"' + u.encode() + b'","appended_at":"' + at + b'","record":' + rec + b'}'
        elif "spaces" in W:
            data = b'{"ulid": "' + u.encode() + b'", "appended_at": "' + at + b'", "record": ' + rec + b', "schema_version": 1}'
        else:
            data = b'{"ulid":"' + u.encode() + b'","appended_at":"' + at + b'","record":' + rec + b',"schema_version":1}'
        if "newline" in W:
            data += b"\n"
        final = os.path.join(D, "pending-%s.json" % u)
        if "chdir" in W:
            os.chdir(D)
            final = "pending-%s.json" % u
        tmp = final + ".tmp"
        fd = os.open(tmp, (os.O_RDWR if "mmap" in W else os.O_WRONLY) | os.O_CREAT | (os.O_TRUNC if "no_excl" in W else os.O_EXCL | os.O_NOFOLLOW), 0o644 if "mode644" in W else 0o600)
        try:
            if "torn" in W and len(data) > 20:
                os.write(fd, data[:10])
                time.sleep(0.02)
                os.write(fd, data[10:])
            elif "mmap" in W:
                import mmap
                os.ftruncate(fd, len(data))
                m = mmap.mmap(fd, len(data))
                m[:] = data
                m.close()
            elif "writev" in W:
                os.writev(fd, [data[:5], data[5:]])
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            if "rename_before_fsync" in W:
                os.rename(tmp, final)
                fsync_dir()
            if "no_file_fsync" not in W:
                os.fsync(fd)
        finally:
            os.close(fd)
        if "dir_fsync_before_rename" in W:
            fsync_dir()
        if "rename_before_fsync" not in W:
            if "leave_tmp" in W:
                os.link(tmp, final)
            elif "link" in W:
                os.link(tmp, final)
                os.unlink(tmp)
            else:
                os.rename(tmp, final)
        if "no_dir_fsync" in W or "dir_fsync_before_rename" in W:
            pass
        elif "dir_fsync_after_reply" in W:
            POST.append(fsync_dir)
        else:
            fsync_dir()
        self.after_append(u)
        return u

    def after_append(self, u):
        if self.max_size is None or self.max_size < 0:
            return
        if "count_every" in W:
            count = len(list_pending())
        else:
            hr = self.headroom()
            self.since += 1
            if self.count is None or self.since >= max(hr, self.count // 100):
                self.count, self.since = len(list_pending()), 0
            else:
                self.count += 1
            count = self.count
            if count > self.max_size:
                count = self.count = len(list_pending())
        if count > self.max_size:
            target = max(self.max_size - self.headroom(), 0)
            self.prune(target, "queue_overflow", newest=u)
            self.count = len(list_pending())

    def prune(self, keep, reason, newest=None):
        names = list_pending()
        excess = len(names) - keep
        victims = names[:max(excess, 0)]
        if "drop_newest" in W:
            victims = names[::-1][:max(excess, 0)]
        dropped = 0
        for name in victims:
            u = ulid_of(name)
            if newest is not None and u >= newest and "drop_newest" not in W:
                break
            path = os.path.join(D, name)
            lock = os.path.join(D, "pending-%s.lock" % u)
            lfd = None
            if "prune_locked" not in W:
                try:
                    lfd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                    try:
                        fcntl.flock(lfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        if "prune_ignores_lock" not in W:
                            raise
                except OSError:
                    if lfd is not None:
                        os.close(lfd)
                    continue
            try:
                at = ""
                try:
                    with open(path, "rb") as f:
                        at = json.loads(f.read().decode()).get("appended_at", "")
                except Exception:
                    pass
                ent = {"ts": now_iso(), "dropped_ulid": u, "appended_at": at, "reason": reason,
                       "queue_size_before_prune": len(names)}
                if "audit_after_unlink" not in W:
                    audit(ent)
                os.unlink(path)
                if "audit_after_unlink" in W:
                    audit(ent)
                dropped += 1
                if lfd is not None and "orphan_lock" not in W:
                    os.unlink(lock)
            finally:
                if lfd is not None:
                    fcntl.flock(lfd, fcntl.LOCK_UN)
                    os.close(lfd)
        if dropped:
            fsync_dir()
        return dropped

    def decode(self, name, data):
        """raw record text, or raise Bad('schema') / ValueError (corrupt)."""
        if len(data) > 4 * 1024 * 1024 + 512:
            raise ValueError("too large")
        s = data.decode("utf-8")
        sp = spans(s)
        for k, v in sp:
            if k == "schema_version" and re.fullmatch(r"-?(0|[1-9][0-9]*)", v) and int(v) != 1:
                raise Bad("schema", "schema_version %s" % v)
        keys = [k for k, _ in sp]
        if sorted(keys) != sorted(["ulid", "appended_at", "record", "schema_version"]):
            raise ValueError("bad keys %r" % keys)
        d = dict(sp)
        if d["schema_version"] != "1":
            raise ValueError("schema_version not integer 1")
        if json.loads(d["ulid"]) != ulid_of(name):
            raise ValueError("ulid differs from name")
        at = json.loads(d["appended_at"])
        if not isinstance(at, str):
            raise ValueError("appended_at")
        datetime.fromisoformat(at.replace("Z", "+00:00").replace("z", "+00:00"))
        if not d["record"].startswith("{"):
            raise ValueError("record not an object")
        return d["record"]

    def quarantine(self, name, why):
        u = ulid_of(name)
        if "delete_corrupt" in W:
            os.unlink(os.path.join(D, name))
            fsync_dir()
            return
        qd = os.path.join(D, "quarantine")
        os.makedirs(qd, exist_ok=True)
        dest = os.path.join(qd, name)
        n = 0
        while os.path.lexists(dest):
            n += 1
            dest = os.path.join(qd, "%s.%d" % (name, n))
        audit({"ts": now_iso(), "ulid": u, "appended_at": "", "reason": "quarantined", "detail": why})
        os.rename(os.path.join(D, name), dest)
        fsync_dir(qd)
        fsync_dir()

    def ingest(self, outcomes):
        deliveries = []
        deleted = False
        err = None
        try:
            for name in list_pending():
                u = ulid_of(name)
                path = os.path.join(D, name)
                lock = os.path.join(D, "pending-%s.lock" % u)
                fd = None
                if "no_lock" not in W:
                    try:
                        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | (0 if "follow" in W else os.O_NOFOLLOW), 0o600)
                    except OSError:
                        continue
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                remove_lock = False
                stop = False
                try:
                    try:
                        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if "follow" in W else os.O_NOFOLLOW))
                    except FileNotFoundError:
                        remove_lock = True
                        continue
                    except OSError as e:
                        if e.errno == 40 and "skip_corrupt" not in W:  # ELOOP: a symlink
                            self.quarantine(name, "symlink")
                            remove_lock = True
                        continue
                    with os.fdopen(rfd, "rb") as f:
                        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                            continue
                        data = f.read()
                    try:
                        rec = self.decode(name, data)
                    except Bad as b:
                        if "schema_quarantine" in W:
                            self.quarantine(name, b.msg)
                            remove_lock = True
                            continue
                        if "schema_skip" in W:
                            continue
                        raise
                    except (ValueError, UnicodeDecodeError) as e:
                        if "crash_corrupt" in W:
                            raise
                        if "skip_corrupt" in W:
                            continue
                        self.quarantine(name, str(e))
                        remove_lock = True
                        continue
                    if "delete_before" in W:
                        os.unlink(path)
                        deleted = True
                    if "unlock_before" in W and fd is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                    if "reencode_out" in W:
                        rec = json.dumps(json.loads(rec), ensure_ascii=False, separators=(",", ":"))
                    deliveries.append({"ulid": u, "attempt": 1, "record": rec})
                    if "twice" in W and len(deliveries) == 1:
                        deliveries.append({"ulid": u, "attempt": 1, "record": rec})
                    i = len(deliveries) - 1
                    if i < len(outcomes) and outcomes[i] != "ok":
                        stop = True
                        if "fail_drops_lock" in W:
                            remove_lock = True
                        break
                    if "lock_first" in W:
                        os.unlink(lock)
                    if "delete_by_rename" in W:
                        os.rename(path, os.path.join(D, ".trash-" + u))
                    elif "delete_before" not in W:
                        os.unlink(path)
                    deleted = True
                    remove_lock = True
                finally:
                    if fd is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                        os.close(fd)
                    if remove_lock:
                        try:
                            os.unlink(lock)
                        except FileNotFoundError:
                            pass
                if stop:
                    break
        except Bad as b:
            err = b
        except Exception as e:
            err = Bad("io", "%s: %s" % (type(e).__name__, e))
        finally:
            if deleted:
                if "no_delete_fsync" in W:
                    pass
                elif "delete_fsync_after_reply" in W:
                    POST.append(fsync_dir)
                else:
                    fsync_dir()
        if err:
            return {"ok": False, "error": err.kind, "message": err.msg, "deliveries": deliveries}
        return {"ok": True, "deliveries": deliveries}


def reply(obj):
    line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
    if "huge" in W:
        line = line[:-2] + ',"pad":"' + "x" * (64 << 20) + '"}\n'
    if "slow" in W:
        time.sleep(1.5)
    b = line.encode("utf-8", "surrogatepass")
    if "reply_dup" in W:
        global DUPFD
        if DUPFD is None:
            DUPFD = os.dup(1)
        os.write(DUPFD, b)
    elif "reply_writev" in W:
        os.writev(1, [b[:3], b[3:]])
    else:
        sys.stdout.buffer.write(b)
        sys.stdout.buffer.flush()
    while POST:
        POST.pop(0)()


def main():
    import signal
    if "ignore_term" in W:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "bg_child" in W:
        if os.fork() == 0:
            os.setsid()
            for i in range(600):
                time.sleep(0.05)
                try:
                    with open(os.path.join(D, "pending-%s.json" % G.next()), "wb") as f:
                        f.write(b"garbage")
                except Exception:
                    pass
            os._exit(0)
    if "silent" in W:
        time.sleep(3600)
    if "lose_on_restart" in W:
        ps = list_pending()
        if ps:
            os.unlink(os.path.join(D, ps[-1]))
    q = None
    level = os.environ.get("LEVEL", "")
    for raw in sys.stdin.buffer:
        try:
            req = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            reply({"ok": False, "error": "bad_request", "message": str(e)})
            continue
        op = req.get("op")
        if "garbage" in W:
            sys.stdout.write("garbage line\n")
            sys.stdout.flush()
        try:
            if op == "hello":
                ms = req.get("max_size")
                q = Q(10000 if ms is None else ms)
                feats = ["prune", "audit", "max_size", "ulids"]
                if "lie_features" in W:
                    feats += ["attempts", "dead_letter"]
                r = {"ok": True, "protocol": 1, "name": "rawq:" + ",".join(sorted(W)), "features": feats}
                if level:
                    r["level"] = level
            elif q is None:
                q = Q(10000)
            if op == "hello":
                pass
            elif op == "append":
                try:
                    r = {"ok": True, "ulid": q.append(req["record"])}
                except Bad as b:
                    r = {"ok": False, "error": b.kind, "message": b.msg}
            elif op == "list":
                r = {"ok": True, "ulids": [ulid_of(n) for n in list_pending()]}
            elif op == "count":
                r = {"ok": True, "count": len(list_pending())}
            elif op == "ingest":
                r = q.ingest(req.get("outcomes") or [])
            elif op == "prune":
                r = {"ok": True, "dropped": q.prune(int(req["keep"]), "pruned")}
            elif op == "ulids":
                r = {"ok": True, "ulids": [G.next() for _ in range(int(req.get("count") or 0))]}
            elif op == "quit":
                reply({"ok": True})
                return
            else:
                r = {"ok": False, "error": "unsupported", "message": "op %r" % op}
        except Exception as e:
            r = {"ok": False, "error": "io", "message": "%s: %s" % (type(e).__name__, e)}
        reply(r)


main()
