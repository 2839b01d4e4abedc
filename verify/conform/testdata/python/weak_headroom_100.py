"""A deliberately weak queue for capq's conformance tests: the hardened
reference-API queue of queue/testdata/refqueue.py with one weakness:
overflow keeps MaxSize-100, nothing at MaxSize <= 100 (R18)."""
from refqueue import HardenedCaptureQueue


class CaptureQueue(HardenedCaptureQueue):
    HEADROOM_100 = True
