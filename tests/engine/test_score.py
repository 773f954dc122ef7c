"""Scoring: a trained tiny detector scores a test set through three codec conditions, resumably."""
from __future__ import annotations

import json

import numpy as np
import pytest

from spoofbench.cli import main
from spoofbench.engine import ScoreConfig, TrainConfig, load_run_detector, score, train
from spoofbench.metrics import compute_eer, read_scores

pytestmark = pytest.mark.timeout(120)
CODECS = ("none", "g711_mulaw", "mp3_32k")
BAD = {"eval_empty", "eval_trunc", "eval_missing"}


@pytest.fixture(scope="module")
def run_dir(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(detector="rawcnn_2m", preset="tiny", epochs=2, batch_size=8, num_workers=0, seed=0,
                      cpu_threads=1)
    train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=out, progress=False)
    return out


def test_scores_three_codec_conditions_readable_by_metrics(corpus, run_dir, tmp_path, require_ffmpeg):
    detector = load_run_detector(run_dir)
    cfg = ScoreConfig(codecs=CODECS, batch_size=4, num_workers=2, bucket_pool=8, cpu_threads=1,
                      cache_dir=str(tmp_path / "cache"))
    result = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=tmp_path / "s",
                   config=cfg, progress=False)
    good = {t.id for t in corpus["eval"]} - BAD
    labels = {t.id: t.target for t in corpus["eval"]}
    by_codec = {}
    for f in result.files:
        assert f.scores.name == f"eval__{f.codec}.txt"
        scores = read_scores(f.scores)
        assert set(scores) == good, f"{f.codec}: {set(scores) ^ good}"
        failed = dict(line.split("\t") for line in f.failed.read_text().splitlines())
        assert set(failed) == BAD
        assert "missing" in failed["eval_missing"] and "empty" in failed["eval_empty"]
        summary = json.loads(f.summary.read_text())
        assert summary["n_scored"] == len(good) and summary["n_failed"] == 3
        assert summary["input_policy"] == detector.input_policy.to_dict()
        assert summary["codec"]["id"] == f.codec
        bona = np.array([s for u, s in scores.items() if labels[u] == 1])
        spoof = np.array([s for u, s in scores.items() if labels[u] == 0])
        eer, _ = compute_eer(bona, spoof)
        assert 0.0 <= eer <= 1.0
        by_codec[f.codec] = scores
    # the codec conditions really change the input the detector sees
    assert any(abs(by_codec["none"][u] - by_codec["mp3_32k"][u]) > 1e-6 for u in good)
    assert any(abs(by_codec["none"][u] - by_codec["g711_mulaw"][u]) > 1e-6 for u in good)
    assert result.input_policy["mode"] == "fixed"


def test_scoring_resumes_after_a_kill(corpus, run_dir, tmp_path):
    detector = load_run_detector(run_dir)
    cfg = ScoreConfig(codecs=("none",), batch_size=4, num_workers=0, cpu_threads=1)
    manifest = corpus["manifests"] / "eval.jsonl.gz"
    first = score(detector, manifest, root=corpus["root"], out_dir=tmp_path, config=cfg, progress=False)
    path = first.files[0].scores
    complete = path.read_text()
    lines = complete.splitlines(keepends=True)
    # a killed run: half the lines, then a partial line without its newline
    path.write_text("".join(lines[:7]) + lines[7][:5])
    (tmp_path / "eval__none.failed.tsv").write_text("eval_missing\tmissing file\n")
    again = score(detector, manifest, root=corpus["root"], out_dir=tmp_path, config=cfg, progress=False)
    f = again.files[0]
    assert f.n_resumed == 7  # 7 scored lines survive; the partial line is dropped
    assert f.n_retried == 1  # the earlier failure is tried again (and fails again)
    assert f.n_scored == len(lines) and f.n_failed == 3 and f.n_expected == len(corpus["eval"])
    assert not f.complete and f.coverage == len(lines) / len(corpus["eval"])
    assert set(_failed_ids(f.failed)) == BAD  # only still-failing trials, each once
    after = dict(line.split() for line in path.read_text().splitlines())
    before = dict(line.split() for line in complete.splitlines())
    assert after.keys() == before.keys()  # each trial exactly once
    # the resumed trials were batched differently: equal up to float rounding
    assert all(abs(float(after[u]) - float(before[u])) < 1e-4 for u in before)


def _failed_ids(path):
    return [line.split("\t")[0] for line in path.read_text().splitlines()]


def test_cli_train_and_score(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["train", "--detector", "rawcnn_2m", "--preset", "tiny", "--protocol", str(corpus["protocol"]),
               "--manifests-dir", str(corpus["manifests"]), "--root", str(corpus["root"]), "--out", str(run),
               "--epochs", "1", "--workers", "0", "--threads", "1", "--device", "cpu", "--no-progress"])
    assert rc == 0 and "best dev EER" in capsys.readouterr().out
    rc = main(["score", "--run", str(run), "--manifest", str(corpus["manifests"] / "eval.jsonl.gz"),
               "--root", str(corpus["root"]), "--workers", "0", "--threads", "1", "--no-progress"])
    assert rc == 1  # three eval clips are unreadable: incomplete coverage
    assert f"3 of {len(corpus['eval'])} trials have no score" in capsys.readouterr().err
    rc = main(["score", "--run", str(run), "--manifest", str(corpus["manifests"] / "eval.jsonl.gz"),
               "--root", str(corpus["root"]), "--workers", "0", "--threads", "1", "--no-progress",
               "--allow-incomplete"])
    assert rc == 0
    scores = read_scores(run / "scores" / "eval__none.txt")
    assert len(scores) == len(corpus["eval"]) - len(BAD)
    # the score file feeds `spoofbench metrics`
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"{t.id} {t.label}\n" for t in corpus["eval"] if t.id not in BAD))
    capsys.readouterr()
    assert main(["metrics", "--scores", str(run / "scores" / "eval__none.txt"), "--keys", str(keys), "--json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["eer"] <= 1.0
    # the field's layouts on request, beside the native file, with the same scores
    assert main(["score", "--run", str(run), "--manifest", str(corpus["manifests"] / "eval.jsonl.gz"),
                 "--root", str(corpus["root"]), "--workers", "0", "--no-progress", "--allow-incomplete",
                 "--score-format", "asvspoof5", "asvspoof2019"]) == 0
    tsv = run / "scores" / "eval__none.asvspoof5.tsv"
    assert tsv.read_text().startswith("filename\tcm-score\n")
    assert dict(read_scores(tsv)) == dict(scores)
    la19 = (run / "scores" / "eval__none.asvspoof2019.txt").read_text().splitlines()
    assert len(la19) == len(scores) and all(len(line.split()) == 4 for line in la19)


def test_cli_errors_are_clear(corpus, tmp_path, capsys):
    rc = main(["score", "--detector", "rawcnn_2m", "--manifest", "m", "--root", "r", "--out", str(tmp_path)])
    assert rc == 2 and "--checkpoint" in capsys.readouterr().err


def test_a_resumed_pass_with_nothing_left_decodes_no_audio(corpus, run_dir, tmp_path, monkeypatch):
    """Trials scored under every requested condition are not decoded again (a 600k-trial resume read them all)."""
    from spoofbench.engine import data as engine_data

    detector = load_run_detector(run_dir)
    cfg = ScoreConfig(codecs=("none",), batch_size=4, num_workers=0, cpu_threads=1)
    first = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=tmp_path / "s",
                  config=cfg, progress=False)
    decoded = []
    real = engine_data.read_audio_info  # scoring reads clips through engine.data.read_clip
    monkeypatch.setattr(engine_data, "read_audio_info", lambda *a, **k: decoded.append(a[0]) or real(*a, **k))
    again = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=tmp_path / "s",
                  config=cfg, progress=False)
    assert again.files[0].scores.read_bytes() == first.files[0].scores.read_bytes()
    # Only the trials that failed before (and are retried) are read again.
    assert set(decoded) and all(any(bad in str(p) for bad in ("empty", "trunc", "missing")) for p in decoded)


def test_the_decoder_of_every_scored_trial_is_recorded(run_dir, tmp_path, require_ffmpeg):
    """libsndfile reads the WAV; PyAV reads the AAC (.m4a) libsndfile cannot open; both are recorded."""
    import subprocess

    import soundfile as sf

    from spoofbench.corpora.manifest import Trial

    rng = np.random.default_rng(0)
    sf.write(tmp_path / "a.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "a.wav"), "-c:a", "aac",
                    str(tmp_path / "b.m4a")], check=True)
    trials = [Trial(id="wav", path="a.wav", label="bonafide", corpus="x", split="eval", speaker="s", attack="bonafide"),
              Trial(id="aac", path="b.m4a", label="spoof", corpus="x", split="eval", speaker="s", attack="a1")]
    result = score(load_run_detector(run_dir), trials, root=tmp_path, out_dir=tmp_path / "s", testset="t",
                   config=ScoreConfig(codecs=("none",), batch_size=2, num_workers=0, cpu_threads=1), progress=False)
    f = result.files[0]
    assert f.n_scored == 2
    read_by = {utt: (decoder, source) for utt, decoder, source in
               (line.split("\t") for line in (tmp_path / "s" / "t__none.decoders.tsv").read_text().splitlines())}
    assert read_by == {"wav": ("libsndfile", "file"), "aac": ("pyav", "file")}
    summary = json.loads(f.summary.read_text())
    assert summary["decoder_counts"] == {"libsndfile": 1, "pyav": 1} and summary["clip_sources"] == {"file": 2}
