"""The parameter counts shipped in ``spoofbench/models/zoo_counts.json``: current, equal to meta builds,
used only under a matching key, and a cold ``models list`` that imports neither torch nor transformers."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from spoofbench.models import DETECTORS
from spoofbench.models import zoo_cache
from spoofbench.models.zoo_cache import REGENERATE, zoo_rows


def _code_reasons() -> dict[str, str]:
    """Stale entries, failing on code changes; skipping when only the installed libraries differ."""
    reasons = zoo_cache.stale_reasons()
    code = {n: why for n, why in reasons.items() if not why.startswith("libraries:")}
    assert not code, (f"{zoo_cache.SHIPPED_PATH} is stale; run `{REGENERATE}` and commit it:\n"
                      + "\n".join(f"  {n}: {why}" for n, why in sorted(code.items())))
    return reasons


def test_shipped_file_is_current():
    reasons = _code_reasons()
    if reasons:
        pytest.skip(f"counts shipped for other library versions (run `{REGENERATE}` for these): {reasons}")
    assert set(zoo_cache.load_shipped()) == set(zoo_cache.builtin_targets())


@pytest.mark.slow  # builds all 52 presets on the meta device: ~6 s quiet, 15 s on a loaded VM
def test_shipped_rows_equal_a_meta_build_of_every_preset():
    reasons = _code_reasons()
    targets = {n: t for n, t in zoo_cache.builtin_targets().items() if n not in reasons}
    built, _ = zoo_cache.build_entries(sorted(targets), targets)
    shipped = zoo_cache.load_shipped()
    for name in targets:
        assert shipped[name] == built[name], f"{name}: shipped counts differ from a meta build; run `{REGENERATE}`"
    assert set(built) == set(targets)


def test_cold_listing_imports_neither_torch_nor_transformers(tmp_path):
    if zoo_cache.stale_reasons():
        pytest.skip("the shipped counts do not match this checkout or its libraries")
    code = ("import json, sys; from spoofbench.cli import main; "
            f"main(['models', 'list', '--json', '--cache-dir', {str(tmp_path / 'cache')!r}]); "
            "print(json.dumps(sorted(m for m in ('torch', 'transformers', 's3prl', 'torchaudio') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    listing, imported = out[:out.rindex("\n", 0, -1)], json.loads(out.splitlines()[-1])
    assert imported == []
    rows = json.loads(listing)
    assert rows == [r for n in DETECTORS.names() for r in zoo_cache.load_shipped()[n]["rows"]]
    assert {(r["name"], r["preset"]): r["parameters"] for r in rows}[("aasist", "default")] == 297_866
    assert not (tmp_path / "cache").exists()  # nothing built, nothing cached


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """The models package's files in a temporary folder that the key functions read instead."""
    copy = tmp_path / "models"
    shutil.copytree(zoo_cache.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(zoo_cache, "PACKAGE_DIR", copy)
    for cached in (zoo_cache._file_digest, zoo_cache._scan):
        cached.cache_clear()
    yield copy
    for cached in (zoo_cache._file_digest, zoo_cache._scan):
        cached.cache_clear()


def _keys() -> dict[str, str]:
    return {n: zoo_cache.entry_header(n, t)["key"] for n, t in zoo_cache.builtin_targets().items()}


def test_key_follows_the_files_a_detector_imports_and_its_libraries(package_copy, monkeypatch):
    before = _keys()
    with open(package_copy / "layers.py", "a", encoding="utf-8") as f:
        f.write("\n# an edit\n")
    zoo_cache._file_digest.cache_clear()
    after_edit = _keys()
    changed = {n for n in before if before[n] != after_edit[n]}
    assert {"rawcnn_2m", "lfcc_lcnn", "lfcc_gmm"} <= changed
    assert not changed & {"aasist", "aasist_l", "rawnet2", "hf_audio_classification"}
    assert "files changed: layers.py" in zoo_cache.stale_reasons()["rawcnn_2m"]

    real_version = zoo_cache._version
    monkeypatch.setattr(zoo_cache, "_version", lambda lib: "99.0" if lib == "transformers" else real_version(lib))
    after_bump = _keys()
    bumped = {n for n in after_edit if after_edit[n] != after_bump[n]}
    assert {"hf_audio_classification", "wavlm_base", "xlsr_300m_aasist"} <= bumped
    assert not bumped & {"rawcnn_2m", "aasist", "lfcc_gmm"}


def _ship(tmp_path, monkeypatch, entries) -> None:
    path = tmp_path / "zoo_counts.json"
    zoo_cache._write_entries(path, entries)
    monkeypatch.setattr(zoo_cache, "SHIPPED_PATH", path)


def test_shipped_rows_are_used_only_under_their_key(tmp_path, monkeypatch):
    target = zoo_cache.builtin_targets()["aasist"]
    header = zoo_cache.entry_header("aasist", target)
    marked = [{"name": "aasist", "preset": "default", "parameters": 123}]
    _ship(tmp_path, monkeypatch, {"aasist": {**header, "rows": marked}})
    assert zoo_rows(None, ["aasist"]) == marked  # the file is read, not a built module
    assert zoo_rows(None, ["aasist"], shipped=False)[0]["parameters"] == 297_866

    _ship(tmp_path, monkeypatch, {"aasist": {**header, "key": "another", "rows": marked}})
    cache = tmp_path / "cache"
    rows = zoo_rows(cache, ["aasist"])  # a stale key: built on the meta device, then cached
    assert [(r["preset"], r["parameters"]) for r in rows] == [("default", 297_866), ("tiny", 5_434)]
    monkeypatch.setattr(zoo_cache, "build_entries", lambda *a: pytest.fail("built again"))
    assert zoo_rows(cache, ["aasist"]) == rows


def test_plugins_and_overridden_names_are_built_every_time(tmp_path):
    from spoofbench.models.aasist import FAMILY_L

    cache = tmp_path / "cache"
    with DETECTORS.isolated():
        DETECTORS.register("zoo_test_plugin", FAMILY_L, source="entry point test (tests)")
        DETECTORS.register("aasist", FAMILY_L, overwrite=True)
        rows = zoo_rows(cache, ["zoo_test_plugin", "aasist"])
        assert "aasist" not in zoo_cache.builtin_targets()
    assert [(r["name"], r["parameters"]) for r in rows if r["preset"] == "default"] == [
        ("zoo_test_plugin", 85_306), ("aasist", 85_306)]
    assert not cache.exists()  # neither is cached: their code is in no key
    assert "aasist" in zoo_cache.builtin_targets()


def test_check_command_names_the_regenerate_command(tmp_path, monkeypatch, capsys):
    _ship(tmp_path, monkeypatch, {})
    assert zoo_cache.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "rawcnn_2m: stale (not in the file)" in out and REGENERATE in out


def test_model_modules_import_no_transformers_or_s3prl():
    code = ("import sys; import spoofbench.models.ssl, spoofbench.models.hf, spoofbench.models.ssl_checkpoints; "
            "from spoofbench.models import build_detector; build_detector('rawcnn_2m', preset='tiny'); "
            "print(sorted(m for m in ('transformers', 's3prl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
