"""The store: SQLite pragmas, schema versions and migrations, versions never overwritten, withdraw history."""
from __future__ import annotations

import sqlalchemy as sa
import pytest

from spoofbench.errors import ConfigError, SpoofbenchError
from spoofbench.leaderboard import store as store_module
from spoofbench.leaderboard.config import LeaderboardConfig
from spoofbench.leaderboard.store import SCHEMA_VERSION, Store


def _record(system: str, **extra) -> dict:
    return {"system": system, "kind": "scores", "authors": ["A"], "contact": "a@b", "training_data": ["c"],
            "parameters": 10, "parameters_verified": False, "rtf": None, "description": "", "licence": "MIT",
            "normalization": {}, "pooled_ood_eer": 0.1, "pooled_ood_ci_low": 0.05, "pooled_ood_ci_high": 0.2,
            "in_domain_eer": None, "details": {}, **extra}


def _cell(test_set: str) -> dict:
    return {"test_set": test_set, "codec": "none", "domain": "ood", "eer": 0.1, "eer_ci_low": 0.05,
            "eer_ci_high": 0.2, "min_dcf": 0.3, "act_dcf": 0.4, "cllr": 0.5, "auc": 0.9, "n_bonafide": 3,
            "n_spoof": 4, "overlap": {"flagged": []}}


def test_sqlite_pragmas_and_schema_version(tmp_path):
    store = Store.at(tmp_path, create=True)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
        assert store.version(conn) == SCHEMA_VERSION
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
        with store.transaction() as conn:
            conn.execute(store_module.cells.insert().values(submission_id=999, **{
                k: (v if k != "overlap" else "{}") for k, v in _cell("t").items()}))
    store.close()


def test_versions_accumulate_and_a_failed_write_leaves_nothing(tmp_path):
    store = Store.at(tmp_path, create=True)
    first = store.add_submission(_record("sys"), [], [_cell("a")], "ok")
    second = store.add_submission(_record("sys", description="v2"), [], [_cell("a")], "ok")
    assert (first["version"], second["version"]) == (1, 2)
    before = store.dump()
    with pytest.raises(sa.exc.IntegrityError):  # two cells for the same test set × codec: the whole write rolls back
        store.add_submission(_record("sys"), [], [_cell("a"), _cell("a")], "ok")
    assert store.dump() == before
    changed = store.set_status("sys", 1, "withdrawn", "trained on the test set")
    assert [r["version"] for r in changed] == [1]
    assert [s["version"] for s in store.submissions()] == [2]
    assert [(h["status"], h["reason"]) for h in store.history(first["id"])] == [
        ("accepted", "ok"), ("withdrawn", "trained on the test set")]
    with pytest.raises(SpoofbenchError, match="no submission 'nope'"):
        store.set_status("nope", None, "withdrawn", "x")
    store.close()


def test_migrations_run_in_order_and_newer_schemas_are_refused(tmp_path, monkeypatch):
    Store.at(tmp_path, create=True).close()
    current = store_module.SCHEMA_VERSION
    applied = []

    def _migrate_next(conn):
        applied.append(current + 1)
        conn.execute(sa.text("ALTER TABLE submissions ADD COLUMN notes TEXT"))

    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS + (_migrate_next,))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", current + 1)
    store = Store.at(tmp_path)
    assert applied == [current + 1]
    with store.engine.connect() as conn:
        assert store.version(conn) == current + 1
        assert "notes" in [c["name"] for c in sa.inspect(conn).get_columns("submissions")]
    store.close()
    Store.at(tmp_path).close()
    assert applied == [current + 1]  # applied once
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:current])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", current)
    with pytest.raises(SpoofbenchError, match=f"schema version {current + 1} is newer than this spoofbench understands"):
        Store.at(tmp_path)


def test_a_version_1_store_gains_the_missing_trials_column(tmp_path):
    """A store made before ``cells.n_missing`` existed is migrated, its cells read with 0 missing."""
    import sqlite3

    Store.at(tmp_path, create=True).close()
    db = sqlite3.connect(tmp_path / "leaderboard.sqlite")
    db.execute("ALTER TABLE cells DROP COLUMN n_missing")
    db.execute("UPDATE schema_version SET version = 1")
    db.commit()
    db.close()
    store = Store.at(tmp_path)
    with store.engine.connect() as conn:
        assert store.version(conn) == store_module.SCHEMA_VERSION
        assert "n_missing" in [c["name"] for c in sa.inspect(conn).get_columns("cells")]
    store.close()


def test_opening_a_missing_store_says_to_init(tmp_path):
    with pytest.raises(SpoofbenchError, match="not a leaderboard store .*leaderboard init"):
        Store.at(tmp_path)


def test_config_errors_are_located(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("name: x\ntest_sets:\n  - {name: a, manifest: a.jsonl}\nbootstrapp: 10\n")
    with pytest.raises(ConfigError, match=r"b.yaml:4: bootstrapp: unknown key, did you mean bootstrap"):
        LeaderboardConfig.load(path)
    path.write_text("name: x\ntest_sets:\n  - {name: a__b, manifest: a.jsonl}\n")
    with pytest.raises(ConfigError, match=r"test_sets\[0\].name: test set name 'a__b'"):
        LeaderboardConfig.load(path)
    path.write_text("name: x\ntest_sets:\n  - {name: a, keys: k.txt}\n")
    with pytest.raises(ConfigError, match=r"test_sets\[0\].corpus: a key file needs the corpus id"):
        LeaderboardConfig.load(path)
    path.write_text("name: x\ntest_sets:\n  - {name: a, keys: k.txt, manifest: m.jsonl, corpus: c}\n")
    with pytest.raises(ConfigError, match=r"test_sets\[0\]: give either 'manifest' .* or 'keys'"):
        LeaderboardConfig.load(path)


def test_reads_do_not_wait_for_a_writer(tmp_path):
    import sqlite3
    import time

    store = Store.at(tmp_path, create=True)
    store.add_submission(_record("sys"), [], [_cell("a")], "ok")
    writer = sqlite3.connect(tmp_path / "leaderboard.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        reopened = Store.at(tmp_path)  # opening a current store takes no write lock
        assert [s["system"] for s in reopened.submissions()] == ["sys"]
        assert len(reopened.cells(1)) == 1
        assert time.monotonic() - started < 5
        reopened.close()
    finally:
        writer.execute("COMMIT")
        writer.close()
    store.close()


def test_shipped_demo_leaderboard_config_parses():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "leaderboard_demo.yaml"
    config = LeaderboardConfig.load(path)
    assert [t.name for t in config.test_sets] == ["demo_a_eval", "demo_b_eval"]
    assert config.condition_ids() == ["none", "tel_gsm"]
    assert all(Path(t.manifest).is_absolute() for t in config.test_sets)
