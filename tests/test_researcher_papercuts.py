"""Issue 30 item 8's smaller fixes: score prints metrics for a labelled manifest, the DET plot shows every EER
point and is titled with the system, export lhotse --out, prepare's help and progress total, Ctrl-C's hint."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf

from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial, write_manifest
from spoofbench.metrics.plot import det_limits
from spoofbench.metrics.score_summary import labelled_summary

N = 40


def _manifest(tmp_path, labelled: bool = True, one_class: bool = False):
    trials = [Trial(id=f"u{i:02d}", path=f"a/u{i:02d}.wav", corpus="toy", split="eval",
                    label="bonafide" if (i % 2 == 0 or one_class) else "spoof")
              for i in range(N)]
    path = tmp_path / ("toy_eval.jsonl.gz" if labelled else "toy_one.jsonl.gz")
    write_manifest(path, trials)
    return path


def _scores(tmp_path, values, name="cnn.txt", skip=0):
    path = tmp_path / name
    path.write_text("".join(f"u{i:02d} {v:.4f}\n" for i, v in enumerate(values) if i >= skip))
    return path


def test_score_summary_for_labelled_manifests(tmp_path):
    labels = np.arange(N) % 2 == 0
    manifest = _manifest(tmp_path)
    good = labelled_summary(_scores(tmp_path, labels * 2.0 + np.linspace(0, 1, N)), manifest)
    assert good.startswith("cnn.txt: EER 0.00% · minDCF") and "(20 bona fide + 20 spoof scored trials)" in good
    part = labelled_summary(_scores(tmp_path, labels * 1.0, "part.txt", skip=4), manifest)
    assert "(18 bona fide + 18 spoof scored trials; 4 unscored trial(s) left out)" in part
    bad = labelled_summary(_scores(tmp_path, labels * -1.0 + np.linspace(0, 0.5, N), "bad.txt"), manifest)
    assert "EER 100.00%" in bad and bad.endswith("a detector that does not work)")
    one_class = _manifest(tmp_path, one_class=True, labelled=False)
    assert labelled_summary(_scores(tmp_path, np.zeros(N), "x.txt"), one_class) is None


def test_det_limits_show_a_worse_than_chance_eer():
    assert det_limits([0.05, 0.3]) == (0.0005, 0.6)
    low, high = det_limits([0.62, 0.1])
    assert high >= 0.72 and high in (0.8, 0.9)
    assert det_limits([0.97])[1] == 0.99


def test_metrics_det_is_titled_with_the_system(tmp_path, monkeypatch):
    import spoofbench.metrics as metrics

    titles = []

    def fake_plot(systems, out, *, title="", limits=None):
        titles.append((list(systems), title))
        return out

    monkeypatch.setattr(metrics, "plot_det", fake_plot)
    labels = np.arange(N) % 2 == 0
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"u{i:02d} {'bonafide' if b else 'spoof'}\n" for i, b in enumerate(labels)))
    a = _scores(tmp_path, labels + np.linspace(0, 2, N), "sysA.txt")
    b = _scores(tmp_path, labels + np.linspace(2, 0, N), "sysB.txt")
    assert main(["metrics", "--scores", str(a), "--keys", str(keys), "--det", str(tmp_path / "d.png"), "-q"]) == 0
    assert main(["metrics", "--scores", str(a), "--keys", str(keys), "--compare", str(b),
                 "--det", str(tmp_path / "d.png"), "-q"]) == 0
    assert titles == [(["sysA.txt"], "DET: sysA.txt"), (["sysA.txt", "sysB.txt"], "DET: sysA.txt vs sysB.txt")]


def test_det_plot_draws_with_automatic_limits(tmp_path):
    from spoofbench.metrics import plot_det

    labels = (np.arange(200) % 2 == 0).astype(int)
    rng = np.random.default_rng(0)
    out = plot_det({"inverted": (-labels + rng.normal(0, 0.8, 200), labels)}, tmp_path / "det.svg", title="t")
    assert out.read_bytes().startswith(b"<?xml")


@pytest.fixture
def folder_corpus(tmp_path):
    root = tmp_path / "mycorpus"
    for kind, n in (("real", 3), ("fake/tts1", 2)):
        (root / kind).mkdir(parents=True)
        for i in range(n):
            sf.write(root / kind / f"c{i}.wav", np.zeros(800, np.float32), 16000)
    return root


def test_prepare_progress_counts_what_the_protocol_lists(folder_corpus, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="spoofbench.progress"):
        assert main(["prepare", "folder", "--root", str(folder_corpus), "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "mycorpus_all.jsonl.gz").is_file()
    lines = [r.getMessage() for r in caplog.records if r.name == "spoofbench.progress"]
    assert lines and lines[-1].startswith("folder all: 5/5 (100%)")


def test_prepare_help_says_what_corpus_and_split_are(capsys):
    with pytest.raises(SystemExit):
        main(["prepare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "folder: the --root folder's name" in text and "'all'" in text


def test_export_lhotse_takes_out_and_keeps_the_positional(tmp_path, caplog):
    pytest.importorskip("lhotse")
    root = tmp_path / "c"
    (root / "a").mkdir(parents=True)
    sf.write(root / "a" / "u00.wav", np.zeros(800, np.float32), 16000)
    manifest = tmp_path / "m.jsonl.gz"
    write_manifest(manifest, [Trial(id="u00", path="a/u00.wav", label="bonafide", corpus="toy", split="eval")])
    assert main(["export", "lhotse", str(manifest), "--out", str(tmp_path / "a.jsonl.gz"), "--root", str(root)]) == 0
    assert (tmp_path / "a.jsonl.gz").is_file() and "deprecated" not in caplog.text
    assert main(["export", "lhotse", str(manifest), str(tmp_path / "b.jsonl.gz"), "--root", str(root)]) == 0
    assert (tmp_path / "b.jsonl.gz").is_file() and "MANIFEST OUT is deprecated" in caplog.text
    assert main(["export", "lhotse", str(manifest), "--root", str(root)]) == 2
    assert main(["export", "lhotse", str(manifest), "x.jsonl.gz", "--out", "y.jsonl.gz", "--root", str(root)]) == 2


def test_ctrl_c_says_how_to_resume(monkeypatch, capsys):
    import spoofbench.commands.run as run_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_command, "run", interrupted)
    assert main(["run", "x.yaml"]) == 130
    err = capsys.readouterr().err
    assert "spoofbench run: interrupted; to resume, run the same command again (same --out)" in err
