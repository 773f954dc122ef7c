"""Moved: the sandbox worker lives in :mod:`spoofbench.submission.sandbox` (kept importable here)."""
from ..submission.sandbox import main, out_of_memory  # noqa: F401

__all__ = ["main", "out_of_memory"]
