"""The leaderboard store: SQLAlchemy Core over SQLite by default (any SQLAlchemy URL works).

Tables: ``submissions`` (one row per system *version*; re-submitting a system adds a version),
``files`` (each score file's sha256), ``cells`` (metrics and CIs per test set × codec),
``status_history`` (accepted / withdrawn, with reasons) and ``schema_version``. The schema
evolves through :data:`MIGRATIONS`, ordered functions applied once each.

SQLite runs in WAL mode with foreign keys on and a busy timeout; every write is one
``BEGIN IMMEDIATE`` transaction (reads stay deferred, so they never wait for a writer), retried while
another process holds the lock, so concurrent submissions all land and none is half-written.
"""
from __future__ import annotations

import datetime as _dt
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from ..errors import SpoofbenchError

metadata = sa.MetaData()

schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

submissions = sa.Table(
    "submissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),            # scores | model
    sa.Column("status", sa.String(16), nullable=False),          # accepted | withdrawn
    sa.Column("submitted_at", sa.String(40), nullable=False),    # ISO 8601 UTC
    sa.Column("authors", sa.Text, nullable=False),               # JSON list
    sa.Column("contact", sa.String(200), nullable=False),
    sa.Column("training_data", sa.Text, nullable=False),         # JSON list of corpus ids
    sa.Column("parameters", sa.BigInteger),
    sa.Column("parameters_verified", sa.Boolean, nullable=False),
    sa.Column("rtf", sa.Float),                                  # real-time factor (model submissions)
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("licence", sa.String(200), nullable=False),
    sa.Column("normalization", sa.Text, nullable=False),         # JSON
    sa.Column("pooled_ood_eer", sa.Float),
    sa.Column("pooled_ood_ci_low", sa.Float),
    sa.Column("pooled_ood_ci_high", sa.Float),
    sa.Column("in_domain_eer", sa.Float),
    sa.Column("details", sa.Text, nullable=False),               # JSON: verify report, run info
    sa.UniqueConstraint("system", "version", name="uq_system_version"),
)

files = sa.Table(
    "files", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("test_set", sa.String(200), nullable=False),
    sa.Column("codec", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("n_scores", sa.Integer, nullable=False),
    sa.UniqueConstraint("submission_id", "name", name="uq_submission_file"),
)

cells = sa.Table(
    "cells", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("test_set", sa.String(200), nullable=False),
    sa.Column("codec", sa.String(200), nullable=False),
    sa.Column("domain", sa.String(16), nullable=False),          # in-domain | ood
    sa.Column("eer", sa.Float, nullable=False),
    sa.Column("eer_ci_low", sa.Float),
    sa.Column("eer_ci_high", sa.Float),
    sa.Column("min_dcf", sa.Float, nullable=False),
    sa.Column("act_dcf", sa.Float, nullable=False),
    sa.Column("cllr", sa.Float, nullable=False),
    sa.Column("auc", sa.Float, nullable=False),
    sa.Column("n_bonafide", sa.Integer, nullable=False),
    sa.Column("n_spoof", sa.Integer, nullable=False),
    sa.Column("overlap", sa.Text, nullable=False),               # JSON: speaker / utterance overlap flags
    sa.Column("n_missing", sa.Integer, nullable=False, server_default="0"),  # trials scored as the worst score
    sa.UniqueConstraint("submission_id", "test_set", "codec", name="uq_submission_cell"),
)

status_history = sa.Table(
    "status_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)


def _migrate_1(conn: Connection) -> None:
    """Version 1: the tables above."""
    metadata.create_all(conn, tables=[submissions, files, cells, status_history])


def _migrate_2(conn: Connection) -> None:
    """Version 2: ``cells.n_missing``, the trials a ``missing_trials: worst_score`` board scored for the system
    (a store made at version 1 lacks it; one made since has it from version 1's ``create_all``)."""
    if "n_missing" not in {c["name"] for c in sa.inspect(conn).get_columns("cells")}:
        conn.exec_driver_sql("ALTER TABLE cells ADD COLUMN n_missing INTEGER NOT NULL DEFAULT 0")


#: Ordered schema migrations; ``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_migrate_1, _migrate_2)
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, future=True)
    engine = sa.create_engine(url, future=True, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no branch - runs per connection
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # writes take the write lock up front (no lock-upgrade deadlock); reads stay deferred (WAL readers)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


@dataclass
class Store:
    """A leaderboard store at a SQLAlchemy ``url`` (``sqlite:///DIR/leaderboard.sqlite`` by default)."""

    engine: Engine
    url: str

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> "Store":
        store = cls(make_engine(url), url)
        store.migrate(create=create)
        return store

    @classmethod
    def at(cls, directory: str | Path, *, create: bool = False) -> "Store":
        return cls.open(sqlite_url(directory), create=create)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ schema
    def version(self, conn: Connection) -> int:
        if not sa.inspect(conn).has_table("schema_version"):
            return 0
        return int(conn.execute(sa.select(schema_version.c.version)).scalar_one_or_none() or 0)

    def migrate(self, *, create: bool = False) -> None:
        with self.engine.connect() as conn:
            if self.version(conn) == SCHEMA_VERSION:
                return  # the common case: no write lock for opening a current store
        with self.transaction() as conn:
            current = self.version(conn)
            if current == 0 and not create:
                raise SpoofbenchError(f"{self.url}: not a leaderboard store (no schema); run "
                                      "`spoofbench leaderboard init` first")
            if current > SCHEMA_VERSION:
                raise SpoofbenchError(f"{self.url}: schema version {current} is newer than this "
                                      f"spoofbench understands ({SCHEMA_VERSION}); upgrade spoofbench")
            if current == 0:
                metadata.create_all(conn, tables=[schema_version])
                conn.execute(schema_version.insert().values(version=0))
            for index in range(current, SCHEMA_VERSION):
                MIGRATIONS[index](conn)
                conn.execute(schema_version.update().values(version=index + 1))

    # ------------------------------------------------------------------ writes
    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite, waiting up to the busy timeout)."""
        with self.engine.connect() as conn:
            conn.execution_options(write=True)
            with conn.begin():
                yield conn

    def _retrying(self, write: Callable[[], Any], retries: int = 20) -> Any:
        """Run ``write`` (which opens its own transaction) again while the database stays locked,
        or while a racing writer took the same (system, version) on a database without BEGIN IMMEDIATE."""
        for attempt in range(retries):
            try:
                return write()
            except (sa.exc.OperationalError, sa.exc.IntegrityError) as err:
                locked = isinstance(err, sa.exc.OperationalError) and "locked" in str(err).lower()
                raced = isinstance(err, sa.exc.IntegrityError) and (
                    "uq_system_version" in str(err) or "submissions.system, submissions.version" in str(err))
                if not (locked or raced) or attempt == retries - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def add_submission(self, record: dict, file_rows: list[dict], cell_rows: list[dict], reason: str) -> dict:
        """Insert a new version of ``record['system']`` with its files and cells; returns ``{id, version, system}``."""
        def write() -> dict:
            with self.transaction() as conn:
                latest = conn.execute(sa.select(sa.func.max(submissions.c.version))
                                      .where(submissions.c.system == record["system"])).scalar()
                version = int(latest or 0) + 1
                row = {**record, "version": version, "status": "accepted", "submitted_at": now()}
                sub_id = conn.execute(submissions.insert().values(**_jsonify(row))).inserted_primary_key[0]
                if file_rows:
                    conn.execute(files.insert(), [{**r, "submission_id": sub_id} for r in file_rows])
                if cell_rows:
                    conn.execute(cells.insert(), [_jsonify({**r, "submission_id": sub_id}) for r in cell_rows])
                conn.execute(status_history.insert().values(submission_id=sub_id, status="accepted",
                                                            reason=reason, at=row["submitted_at"]))
            return {"id": int(sub_id), "version": version, "system": record["system"]}
        return self._retrying(write)

    def set_status(self, system: str, version: int | None, status: str, reason: str) -> list[dict]:
        """Change the status of one version (or every version) of ``system``; returns the rows changed."""
        return self._retrying(lambda: self._set_status(system, version, status, reason))

    def _set_status(self, system: str, version: int | None, status: str, reason: str) -> list[dict]:
        with self.transaction() as conn:
            query = sa.select(submissions.c.id, submissions.c.version, submissions.c.status).where(
                submissions.c.system == system)
            if version is not None:
                query = query.where(submissions.c.version == version)
            rows = [dict(r._mapping) for r in conn.execute(query)]
            if not rows:
                what = f"{system} version {version}" if version is not None else system
                raise SpoofbenchError(f"no submission {what!r} in {self.url}")
            at = now()
            changed = [r for r in rows if r["status"] != status]
            for row in changed:
                conn.execute(submissions.update().where(submissions.c.id == row["id"]).values(status=status))
                conn.execute(status_history.insert().values(submission_id=row["id"], status=status,
                                                            reason=reason, at=at))
        return changed

    # ------------------------------------------------------------------ reads
    def submissions(self, *, include_withdrawn: bool = False) -> list[dict]:
        query = sa.select(submissions).order_by(submissions.c.id)
        if not include_withdrawn:
            query = query.where(submissions.c.status == "accepted")
        with self.engine.connect() as conn:
            return [_parse(dict(r._mapping)) for r in conn.execute(query)]

    def cells(self, submission_id: int) -> list[dict]:
        query = sa.select(cells).where(cells.c.submission_id == submission_id).order_by(cells.c.id)
        with self.engine.connect() as conn:
            return [_parse(dict(r._mapping)) for r in conn.execute(query)]

    def files(self, submission_id: int) -> list[dict]:
        query = sa.select(files).where(files.c.submission_id == submission_id).order_by(files.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def same_files(self, digests: list[str]) -> list[dict]:
        """Stored files (with their submission's system, version and status) whose sha256 is in ``digests``."""
        query = (sa.select(files.c.name, files.c.sha256, submissions.c.system, submissions.c.version,
                           submissions.c.status).join(submissions, files.c.submission_id == submissions.c.id)
                 .where(files.c.sha256.in_(list(digests))).order_by(files.c.id))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def history(self, submission_id: int) -> list[dict]:
        query = sa.select(status_history).where(status_history.c.submission_id == submission_id) \
            .order_by(status_history.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def dump(self) -> dict[str, list[dict]]:
        """Every row of every table (for tests and exports), ordered by primary key."""
        out = {}
        with self.engine.connect() as conn:
            for table in metadata.sorted_tables:
                order = table.c.id if "id" in table.c else table.c.version
                out[table.name] = [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(order))]
        return out


_JSON_COLUMNS = ("authors", "training_data", "normalization", "details", "overlap")


def _jsonify(row: dict) -> dict:
    return {k: (json.dumps(v, sort_keys=True) if k in _JSON_COLUMNS and not isinstance(v, str) else v)
            for k, v in row.items()}


def _parse(row: dict) -> dict:
    return {k: (json.loads(v) if k in _JSON_COLUMNS and isinstance(v, str) else v) for k, v in row.items()}


def sqlite_url(directory: str | Path) -> str:
    return f"sqlite:///{Path(directory).resolve() / 'leaderboard.sqlite'}"
