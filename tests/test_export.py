"""``spoofbench export lhotse`` and shipped protocols / benchmark configs by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial, read_manifest, trial_from_lhotse_cut, write_manifest
from spoofbench.errors import ConfigError
from spoofbench.shipped import is_shipped, resolve_shipped, shipped

lhotse = pytest.importorskip("lhotse")  # a third-party optional dependency (in the test extra)


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "corpus"
    (root / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    trials = []
    for i, (label, attack, n) in enumerate([("bonafide", "bonafide", 8000), ("spoof", "A07", 12000),
                                            ("spoof", "A08", 4000)]):
        path = f"wav/utt é{i}.flac"
        sf.write(root / path, 0.1 * rng.standard_normal(n), 16000)
        probed = {"sampling_rate": 16000, "num_samples": n, "duration": n / 16000} if i < 2 else {}
        trials.append(Trial(id=f"utt{i}", path=path, label=label, corpus="toy", split="eval",
                            speaker=f"spk{i}", attack=attack, custom={"gender": "f"}, **probed))
    manifest = root / "toy_eval.jsonl.gz"
    write_manifest(manifest, trials)
    return root, manifest


def test_export_lhotse_round_trip(corpus, tmp_path, capsys):
    root, manifest = corpus
    out = tmp_path / "out" / "toy_cuts.jsonl.gz"
    assert main(["export", "lhotse", str(manifest), str(out), "--root", str(root), "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    cuts = lhotse.CutSet.from_file(out)
    originals = list(read_manifest(manifest))
    assert [c.id for c in cuts] == [t.id for t in originals]
    for cut, trial in zip(cuts, originals):
        sup = cut.supervisions[0]
        assert (sup.custom["label"], sup.custom["attack"], sup.speaker) == (trial.label, trial.attack, trial.speaker)
        audio = cut.load_audio()[0]
        expected, _ = sf.read(trial.audio_path(root), dtype="float32")
        np.testing.assert_allclose(audio, expected, atol=1e-4)
        back = trial_from_lhotse_cut(cut, root)
        assert (back.id, back.path, back.label, back.attack, back.corpus, back.split, back.custom) == \
            (trial.id, trial.path, trial.label, trial.attack, trial.corpus, trial.split, trial.custom)
    assert cuts[2].num_samples == 4000  # an unprobed trial is probed from its file


def test_export_lhotse_bad_inputs_exit_2(corpus, tmp_path, capsys):
    root, manifest = corpus
    assert main(["export", "lhotse", str(manifest), str(tmp_path / "cuts.txt"), "--root", str(root)]) == 2
    assert ".jsonl.gz or .jsonl" in capsys.readouterr().err
    assert main(["export", "lhotse", str(manifest), str(tmp_path / "c.jsonl.gz"), "--root",
                 str(tmp_path / "nope")]) == 2
    assert "corpus root is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "c.jsonl.gz").exists()


def test_shipped_protocols_and_configs_resolve_by_name_from_anywhere(tmp_path, monkeypatch):
    from spoofbench.corpora.protocol import parse_protocol

    monkeypatch.chdir(tmp_path)
    assert {"asvspoof2019_la_to_wild", "demo"} <= set(shipped("protocol"))
    path = resolve_shipped("asvspoof2019_la_to_wild", "protocol")
    assert path.is_file() and is_shipped(path)
    assert parse_protocol(path).name == "asvspoof2019_la_to_wild"
    assert resolve_shipped("demo_quick.yaml", "benchmark") == shipped("benchmark")["demo_quick"]
    own = tmp_path / "asvspoof2019_la_to_wild.yaml"
    own.write_text("name: mine\n")
    assert resolve_shipped("asvspoof2019_la_to_wild.yaml", "protocol").resolve() == own  # a real file wins
    assert not is_shipped(own)
    with pytest.raises(ConfigError, match="shipped: asvspoof2019_la_to_wild"):
        resolve_shipped("no_such_protocol", "protocol")
