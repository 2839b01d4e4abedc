"""A deliberately weak queue for capq's conformance tests: the hardened
reference-API queue of queue/testdata/refqueue.py with one weakness:
follows symlinks (R22)."""
from refqueue import HardenedCaptureQueue


class CaptureQueue(HardenedCaptureQueue):
    NOFOLLOW = False
