"""A deliberately weak queue for capq's conformance tests: the hardened
reference-API queue of queue/testdata/refqueue.py with one weakness:
NaN and Infinity records are accepted (R5)."""
from refqueue import HardenedCaptureQueue


class CaptureQueue(HardenedCaptureQueue):
    ALLOW_NAN = True
