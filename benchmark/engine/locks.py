"""Exclusive per-file locks of the engine (score files, training runs): :mod:`spoofbench.locks`, the one lock
mechanism, importable from here as before."""
from __future__ import annotations

from ..locks import LockedError, exclusive, exclusive_all, holder, lock_path

__all__ = ["LockedError", "exclusive", "exclusive_all", "holder", "lock_path"]
