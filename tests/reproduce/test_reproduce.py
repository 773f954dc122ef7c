"""spoofbench reproduce: a tiny run reproduces bit for bit on CPU; one changed input is named as the cause."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench.cli import main
from spoofbench.errors import ConfigError, InputFileError
from spoofbench.reproduce.manifest import load_manifest, sha256_json
from spoofbench.reproduce.reproduce import check_claim, reproduce_run, scoring_only


def _rerun(run: Path, tmp_path: Path, **kw):
    return reproduce_run(run, out=tmp_path / "again", digest_cache=tmp_path / "digests", **kw)


def test_manifest_records_environment_inputs_and_outputs(tiny_run):
    m = load_manifest(tiny_run)
    assert m["command"] == "run" and m["seeds"] == [0] and m["config_sha256"] == sha256_json(m["config"])
    env = m["environment"]
    assert env["cpu"]["model"] and env["torch"]["num_threads"] >= 1 and env["packages"]["numpy"]
    assert "ffmpeg" in env["media"] and env["media"]["resampler"]
    assert set(m["inputs"]["audio"]) == {"train", "dev", "a_eval", "b_eval"}
    assert m["inputs"]["audio"]["b_eval"]["n_files"] == 12
    assert m["inputs"]["codec_cache"]["n_entries"] > 0
    assert any(k.endswith("best.pt") for k in m["outputs"]) and "result.json" in m["outputs"]


def test_rerun_is_bit_identical_and_scoring_only_checks_hashes(tiny_run, tmp_path):
    report = _rerun(tiny_run, tmp_path)
    assert report.status == "reproduced", report.reason
    assert [c.status for c in report.cells] == ["identical"] * 4
    assert (tmp_path / "again" / "manifest.json").is_file()
    with pytest.raises(ConfigError, match="not empty"):  # never "reproduced" by resuming an earlier reproduction
        _rerun(tiny_run, tmp_path)
    only = scoring_only(tiny_run)
    assert only.status == "reproduced" and all(c.status == "identical" for c in only.cells)


@pytest.mark.slow
def test_changed_clip_is_named(tiny_run, tmp_path):
    m = load_manifest(tiny_run)
    clip = Path(m["config"]["test_sets"][1]["root"]) / "b_eval" / "b_eval_001.wav"
    original = clip.read_bytes()
    try:
        data, rate = sf.read(clip, dtype="float32")
        noise = np.random.default_rng(7).normal(0, 0.3, data.size).astype(np.float32)
        sf.write(clip, noise, rate)  # same length, other content
        checked = scoring_only(tiny_run, digest_cache=tmp_path / "d0")
        assert checked.status == "not_reproduced", (checked.reason, checked.findings, clip)
        assert any("audio of b_eval: 1 changed: b_eval_001" in f for f in checked.findings), checked.findings
        report = _rerun(tiny_run, tmp_path, cell="rawcnn_2m:tiny/seed0/b_eval/none")
    finally:
        clip.write_bytes(original)
    assert [c.status for c in report.cells] != ["identical"]  # may stay inside the CI: then exit 0
    top = report.differences[0]
    assert top.key == "inputs.audio.b_eval" and "b_eval_001" in top.detail, report.differences[:3]


@pytest.mark.slow
def test_altered_codec_cache_is_named(tiny_run, tmp_path):
    from spoofbench.codecs.cache import CodecCache

    m = load_manifest(tiny_run)
    cache = CodecCache(m["inputs"]["codec_cache"]["directory"])
    saved = {}
    try:
        for _, _, path in cache.entries():
            samples = cache.get(path.stem)
            saved[path.stem] = samples
            noise = np.random.default_rng(len(saved)).normal(0, 0.2, samples.size)
            cache.put(path.stem, noise.astype(np.float32))
        report = _rerun(tiny_run, tmp_path)
    finally:
        for key, samples in saved.items():
            cache.put(key, samples)
    by_codec = {c.cell.rsplit("/", 1)[1]: c.status for c in report.cells}
    assert by_codec["none"] == "identical" and by_codec["g711_mulaw"] != "identical"
    assert report.differences[0].key == "inputs.codec_cache", report.differences[:3]
    assert "same key" in report.differences[0].why


@pytest.mark.slow
def test_edited_seed_and_package_version_are_named(run_copy, tmp_path):
    path = run_copy / "manifest.json"
    m = json.loads(path.read_text())
    m["environment"]["packages"]["numpy"] = "1.0.0"
    path.write_text(json.dumps(m))
    report = _rerun(run_copy, tmp_path, cell="rawcnn_2m:tiny/seed0/a_eval/none")
    assert report.status == "reproduced"  # the scores did not move: the recorded version is not the cause
    assert any("environment" in f and "edited" in f for f in report.findings)
    # the top differences (the commit may move too: others commit while the tests run)
    numpy_diff = next(d for d in report.differences if d.key == "environment.packages.numpy")
    assert numpy_diff in report.differences[:3] and "no score changed" in numpy_diff.detail
    assert (numpy_diff.old, numpy_diff.new) == ("1.0.0", np.__version__)

    m["config"]["seeds"] = [1]
    m["seeds"] = [1]
    path.write_text(json.dumps(m))
    seeded = scoring_only(run_copy)
    assert seeded.status == "not_reproduced"
    assert any("config.seeds: [0] in result.json, [1] in manifest.json" in f for f in seeded.findings), seeded.findings


def test_bad_run_folders_give_one_line_and_exit_2(run_copy, tmp_path, capsys):
    checkpoint = next(run_copy.glob("train/*/checkpoints/best.pt"))
    checkpoint.write_bytes(checkpoint.read_bytes() + b"\0")
    changed = scoring_only(run_copy)
    assert changed.status == "not_reproduced" and "checkpoint" in changed.reason and "best.pt" in changed.reason

    (run_copy / "manifest.json").write_text("{not json")
    assert main(["reproduce", str(run_copy), "--scoring-only"]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    (run_copy / "manifest.json").unlink()
    with pytest.raises(InputFileError, match="no manifest.json"):
        scoring_only(run_copy)
    assert main(["reproduce", str(run_copy), "--out", str(tmp_path / "x")]) == 2
    assert (tmp_path / "x" / "reproduction.json").is_file()


def test_claim_check(tiny_run, tmp_path):
    result = json.loads((tiny_run / "result.json").read_text())
    cell = result["cells"][0]
    scores, keys = tiny_run / cell["score_file"], tiny_run / "keys" / f"{cell['test_set']}.txt"
    eer = cell["metrics"]["eer"]
    ok = check_claim(scores, keys, f"eer={100 * eer:.2f}%")
    assert ok.status == "reproduced" and "trials" in ok.findings[0]
    wrong = check_claim(scores, keys, f"eer={100 * eer + 3:.2f}%")
    assert wrong.status == "not_reproduced"
    code = main(["reproduce", "--scores", str(scores), "--keys", str(keys), "--claim", f"eer={100 * eer:.2f}%",
                 "--out", str(tmp_path)])
    assert code == 0 and json.loads((tmp_path / "reproduction.json").read_text())["status"] == "reproduced"
    assert main(["reproduce", "--scores", str(scores), "--keys", str(keys), "--claim", "eer is low"]) == 2
