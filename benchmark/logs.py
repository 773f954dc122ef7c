"""Logging for every command, and the one progress helper.

Conventions (``spoofbench -v/-q/--log-file``):

* results go to **stdout** with ``print`` (tables, score lines, JSON); everything else is a log record;
* log records go to **stderr**: INFO by default, DEBUG with ``-v``, only errors with ``-q`` (so that
  ``-q`` prints results only); ``--log-file PATH`` also writes every record at DEBUG with a timestamp;
* Python warnings (``warnings.warn``) become log records of the ``py.warnings`` logger;
* a record carries where it comes from, as ``extra`` fields ``detector``, ``seed``, ``testset``,
  ``codec``; :func:`context_logger` binds them once (``log = context_logger(__name__,
  detector="rawcnn_2m", seed=0)``) and every line is prefixed ``[rawcnn_2m seed=0]``.

:func:`progress` wraps a loop: a tqdm bar (with total and ETA) on a terminal, plain periodic log
lines (``scoring b_eval: 120/500 (24%) 3.1/s ETA 2m03s``) when stderr is not a terminal, nothing
with ``-q``.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

T = TypeVar("T")

ROOT = "spoofbench"
#: ``extra`` fields shown in front of a message, in this order (``seed=0`` style but detector bare).
CONTEXT_FIELDS = ("detector", "seed", "testset", "codec")
_HANDLER_MARK = "_spoofbench_handler"
#: The last :func:`setup_logging` arguments (worker processes repeat them); None: never called.
_SETTINGS: dict | None = None
#: Progress as plain lines even on a terminal (set in worker processes, which share the parent's terminal).
_PLAIN_PROGRESS = False


class ContextFormatter(logging.Formatter):
    """``warning: [detector seed=0 testset=b_eval codec=mp3_32k] message`` (fields present only; the
    ``warning: ``/``error: `` prefix only on records of those levels)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                parts.append(str(value) if name == "detector" else f"{name}={value}")
        record.context = f"[{' '.join(parts)}] " if parts else ""
        record.severity = ("error: " if record.levelno >= logging.ERROR
                           else "warning: " if record.levelno >= logging.WARNING else "")
        return super().format(record)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test capture, redirection)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _ContextAdapter(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def context_logger(name: str, **context: Any) -> logging.LoggerAdapter:
    """A logger whose every record carries ``context`` (detector, seed, testset, codec)."""
    unknown = set(context) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s) {sorted(unknown)}; expected {CONTEXT_FIELDS}")
    return _ContextAdapter(logging.getLogger(name), {k: v for k, v in context.items() if v is not None})


def setup_logging(verbose: int = 0, quiet: bool = False, log_file: str | os.PathLike | None = None) -> None:
    """Configure the ``spoofbench`` and ``py.warnings`` loggers for one command (idempotent)."""
    global _SETTINGS
    _SETTINGS = {"verbose": verbose, "quiet": quiet, "log_file": None if log_file is None else str(log_file)}
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    console = _StderrHandler()
    console.setLevel(level)
    console.setFormatter(ContextFormatter("%(name)s: %(levelname)s: %(context)s%(message)s"
                                          if verbose else "%(severity)s%(context)s%(message)s"))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(ContextFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(context)s%(message)s"))
        handlers.append(file_handler)
    for name in (ROOT, "py.warnings"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            setattr(handler, _HANDLER_MARK, True)
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if (verbose or log_file is not None) else level)
    logging.captureWarnings(True)


def logging_settings() -> dict | None:
    """The arguments of the last :func:`setup_logging` call (for a worker process to repeat), or None."""
    return None if _SETTINGS is None else dict(_SETTINGS)


def plain_progress(on: bool = True) -> None:
    """Show progress as plain log lines even on a terminal (several processes share one terminal)."""
    global _PLAIN_PROGRESS
    _PLAIN_PROGRESS = on


def _tty(tty: bool | None) -> bool:
    if tty is not None:
        return tty
    return not _PLAIN_PROGRESS and sys.stderr.isatty()


def quiet_mode() -> bool:
    """True when the console shows errors only (``-q``): progress is silent too."""
    logger = logging.getLogger(ROOT)
    levels = [h.level for h in logger.handlers if isinstance(h, logging.StreamHandler)
              and not isinstance(h, logging.FileHandler)]
    return bool(levels) and min(levels) >= logging.ERROR


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_line(desc: str, done: int, total: int | None, elapsed: float) -> str:
    """``desc: 120/500 (24%) 3.1/s ETA 2m03s`` (no total: ``desc: 120 done 3.1/s``)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if not total:
        return f"{desc}: {done} done {rate:.1f}/s"
    eta = (total - done) / rate if rate > 0 else float("nan")
    eta_text = _duration(eta) if eta == eta else "?"
    return f"{desc}: {done}/{total} ({100 * done / total:.0f}%) {rate:.1f}/s ETA {eta_text}"


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "",
             logger: logging.Logger | logging.LoggerAdapter | None = None, every_s: float = 30.0,
             enabled: bool = True, tty: bool | None = None) -> Iterator[T]:
    """Yield from ``iterable`` while showing progress: a tqdm bar on a terminal, else an INFO line
    every ``every_s`` seconds and one at the end; silent with ``enabled=False`` or ``-q``."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if not enabled or quiet_mode():
        yield from iterable
        return
    if _tty(tty):
        from tqdm import tqdm

        yield from tqdm(iterable, total=total, desc=desc, dynamic_ncols=True, leave=False)
        return
    log = logger or logging.getLogger(f"{ROOT}.progress")
    start = last = time.monotonic()
    done = 0
    for item in iterable:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s:
            log.info(progress_line(desc, done, total, now - start))
            last = now
    log.info(progress_line(desc, done, total, time.monotonic() - start) + f" in {_duration(time.monotonic() - start)}")


class ProgressCounter:
    """:func:`progress` for work counted by callbacks rather than a loop: ``update(n)``, ``describe(text)``,
    ``close()``. A tqdm bar on a terminal, else an INFO line every ``every_s`` s and one at ``close``."""

    def __init__(self, total: int | None, desc: str = "", logger: logging.Logger | logging.LoggerAdapter | None = None,
                 every_s: float = 30.0, enabled: bool = True, tty: bool | None = None):
        self.total, self.desc, self.done, self.every_s = total, desc, 0, every_s
        self._log = logger or logging.getLogger(f"{ROOT}.progress")
        self._on = enabled and not quiet_mode()
        self._bar = None
        if self._on and _tty(tty):
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, dynamic_ncols=True, leave=False)
        self._start = self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._on and time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self._log.info(progress_line(self.desc, self.done, self.total, self._last - self._start))

    def describe(self, text: str) -> None:
        """What is being worked on now: the bar's postfix on a terminal, a DEBUG line otherwise."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
        elif self._on:
            self._log.debug(f"{self.desc}: {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._on:
            elapsed = time.monotonic() - self._start
            self._log.info(progress_line(self.desc, self.done, self.total, elapsed) + f" in {_duration(elapsed)}")
        self._on, self._bar = False, None
