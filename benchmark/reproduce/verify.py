"""Moved: ``spoofbench verify`` lives in :mod:`spoofbench.submission.verify` (kept importable here)."""
from ..submission.verify import (CHECK_ORDER, ENTRY_POINT_GROUP, VerificationReport,  # noqa: F401
                                 shipped_probe_clips, verify_submission)

__all__ = ["CHECK_ORDER", "ENTRY_POINT_GROUP", "VerificationReport", "shipped_probe_clips", "verify_submission"]
