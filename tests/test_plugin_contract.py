"""The README's Detector contract: its example plugin is these files, and it trains, scores and takes
a hyperparameter through ``overrides`` end to end (run from another folder than the YAML's)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch
import yaml
from tiny_corpus import make_set

from spoofbench.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "plugin"


def _section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## Bring your own detector")
    return text[start:text.index("\n## ", start + 1)]


def test_the_readme_blocks_are_the_example_files():
    blocks = dict(re.findall(r"```(python|yaml)\n(.*?)```", _section(), flags=re.S))
    assert blocks["python"] == (EXAMPLE / "my_detector.py").read_text(encoding="utf-8")
    assert blocks["yaml"] == (EXAMPLE / "my_benchmark.yaml").read_text(encoding="utf-8")


def test_the_example_plugin_trains_scores_and_takes_overrides(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "mine"
    data = folder / "data"
    data.mkdir(parents=True)
    for name, corpus, n, seed, attacks in (("a_train", "A", 24, 0, ("a1", "a2")), ("a_dev", "A", 12, 1, ("a1",)),
                                           ("a_eval", "A", 12, 2, ("a1", "a2")), ("b_eval", "B", 12, 3, ("b1",))):
        make_set(data, name, corpus, n, seed, attacks)
    for name in ("my_detector.py", "my_benchmark.yaml"):
        shutil.copy(EXAMPLE / name, folder / name)
    monkeypatch.chdir(tmp_path)  # not the YAML's folder: the module is found beside the YAML
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    out = tmp_path / "runs" / "mine"
    assert main(["run", str(folder / "my_benchmark.yaml"), "--out", str(out), "--no-progress"]) == 0
    import json
    result = json.loads((out / "result.json").read_text())
    assert result["failed_cells"] == []
    assert sorted({c["detector"] for c in result["cells"]}) == ["logmel_cnn", "logmel_cnn_c8"]
    params = {name: info["parameters"] for name, info in result["detectors"].items()}
    assert params["logmel_cnn_c8"] < params["logmel_cnn"]  # channels: 8 instead of the factory's 16

    # the trained checkpoints remember their overrides; scoring rebuilt that architecture
    (c8,) = [p for p in (out / "train").iterdir() if p.name.startswith("logmel_cnn_c8")]
    saved = torch.load(c8 / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)
    assert saved["config"] == {"channels": 8} and saved["state_dict"]["net.0.weight"].shape[0] == 8

    # change a hyperparameter of a trained detector: a new train cell, scored without error; the other is reused
    config = yaml.safe_load((folder / "my_benchmark.yaml").read_text())
    config["detectors"][1]["overrides"] = {"channels": 4, "dropout": 0.1}
    (folder / "my_benchmark.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    capsys.readouterr()
    assert main(["run", str(folder / "my_benchmark.yaml"), "--out", str(out), "--no-progress"]) == 0
    again = json.loads((out / "result.json").read_text())
    assert again["failed_cells"] == [] and len(again["cells"]) == 4
    assert again["detectors"]["logmel_cnn_c8"]["parameters"] < params["logmel_cnn_c8"]
    kept = {c["hash"] for c in result["cells"] if c["detector"] == "logmel_cnn"}
    assert kept == {c["hash"] for c in again["cells"] if c["detector"] == "logmel_cnn"}
