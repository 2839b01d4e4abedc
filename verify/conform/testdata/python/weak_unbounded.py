"""A deliberately weak queue for capq's conformance tests: the hardened
reference-API queue of queue/testdata/refqueue.py with one weakness:
no bound on a record's size or nesting (R5)."""
from refqueue import HardenedCaptureQueue


class CaptureQueue(HardenedCaptureQueue):
    MAX_RECORD_BYTES = 0
    MAX_DEPTH = 0
