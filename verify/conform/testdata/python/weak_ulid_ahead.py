"""A deliberately weak queue for capq's conformance tests: the hardened
reference-API queue of queue/testdata/refqueue.py with one weakness:
ULIDs run ahead of the clock under load (R6)."""
from refqueue import HardenedCaptureQueue


class CaptureQueue(HardenedCaptureQueue):
    ULID_BUMP = True
