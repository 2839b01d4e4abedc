"""A deliberately weak queue for capq's conformance tests: the hardened
reference-API queue of queue/testdata/refqueue.py with one weakness:
a pruned record's lock file stays (R18)."""
from refqueue import HardenedCaptureQueue


class CaptureQueue(HardenedCaptureQueue):
    ORPHAN_LOCK = True
