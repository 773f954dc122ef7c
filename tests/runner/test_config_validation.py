"""The whole benchmark config is checked at load, before any work: one line naming file, line and field."""
from __future__ import annotations

from pathlib import Path

import pytest
from runner_corpus import bench_config, make_corpus, write_config

from spoofbench.errors import ConfigError
from spoofbench.runner.config import BenchmarkConfig


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("validation_corpus"))


def _error(corpus: Path, config: dict, check_files: bool = False) -> str:
    path = write_config(corpus, "bench.yaml", config)
    with pytest.raises(ConfigError) as err:
        BenchmarkConfig.from_yaml(path, check_files=check_files)
    return str(err.value).replace(str(corpus) + "/", "")


def _line(corpus: Path, text: str) -> int:
    """The 1-based line of ``bench.yaml`` that holds ``text``."""
    lines = (corpus / "bench.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_unknown_nested_training_key_names_line_and_path(corpus):
    config = bench_config(corpus)
    config["training"] = {"epoch": 3, "batch_size": 8}
    message = _error(corpus, config)
    assert message == f"bench.yaml:{_line(corpus, 'epoch: 3')}: training.epoch: unknown key, did you mean epochs?"


@pytest.mark.parametrize("change,where,words", [
    ({"training": {"batch_size": "big"}}, "training.batch_size", "value 'big' is not an integer"),
    ({"training": {"optim": {"lr": 0}}}, "training.optim.lr", "must be > 0"),
    ({"training": {"seed": 3}}, "training.seed", "set by the runner"),
    ({"scoring": {"batch_sise": 4}}, "scoring.batch_sise", "did you mean batch_size?"),
    ({"scoring": {"codecs": ["none"]}}, "scoring.codecs", "set by the runner"),
    ({"detectors": [{"name": "lfcc_gmm", "train": {"optim": {"nam": "adam"}}}]},
     "detectors[0].train.optim.nam", "did you mean name?"),
    ({"detectors": [{"name": "lfcc_gmm"}, {"name": "rawcnn_3m"}]}, "detectors[1].name",
     "unknown detector 'rawcnn_3m', did you mean rawcnn_2m?"),
    ({"seeds": [0, 0]}, "seeds[1]", "seed 0 appears twice"),
    ({"seeds": [1, -2]}, "seeds[1]", "negative"),
    ({"codecs": []}, "codecs", "no codecs"),
    ({"codecs": ["none", "mp3_33k"]}, "codecs[1]", "mp3_33k"),
    ({"device": "tpu"}, "device", "expected one of auto, cpu, cuda"),
])
def test_bad_values_fail_at_load_with_field_path(corpus, change, where, words):
    message = _error(corpus, {**bench_config(corpus), **change})
    assert message.startswith("bench.yaml:") and f": {where}: " in message and words in message, message
    assert "\n" not in message


def test_missing_test_set_root_and_manifest_are_load_errors(corpus):
    config = bench_config(corpus)
    config["test_sets"] = [{"name": "a_eval", "manifest": "a_eval.jsonl.gz", "root": "no_such_dir"}]
    message = _error(corpus, config, check_files=True)
    assert "test_sets[0].root: folder" in message and "no_such_dir does not exist" in message
    assert message.startswith(f"bench.yaml:{_line(corpus, 'no_such_dir')}:")
    config["test_sets"] = [{"name": "a_eval", "manifest": "gone.jsonl.gz", "root": "."}]
    assert "test_sets[0].manifest: file" in _error(corpus, config, check_files=True)
    BenchmarkConfig.from_yaml(write_config(corpus, "ok.yaml", bench_config(corpus)), check_files=True)


def test_run_cli_rejects_bad_config_before_work(corpus, tmp_path, capsys):
    from spoofbench.cli import main

    config = {**bench_config(corpus), "seeds": [0, 0]}
    out = tmp_path / "run"
    assert main(["run", str(write_config(corpus, "bench.yaml", config)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "seeds[1]: seed 0 appears twice" in err and "Traceback" not in err
    assert not out.exists()  # nothing was started


def test_dry_run_lists_cells_without_work(corpus, tmp_path, capsys):
    from spoofbench.cli import main

    config = bench_config(corpus, seeds=[0, 1], codecs=["none", "g711_alaw", "g722"])
    config["test_sets"].append({"name": "c_eval", "manifest": "c_eval.jsonl.gz", "root": "."})  # not built
    out = tmp_path / "run"
    assert main(["run", str(write_config(corpus, "bench.yaml", config)), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "2 detector(s) × 2 seed(s) × 3 test set(s) × 3 codec condition(s) = 36 score cell(s)" in text
    assert "lfcc_gmm:tiny/1/b_eval/*" in text and "warning: missing input" in text
    assert "no measured throughput" in text
    assert not out.exists()


def test_relative_paths_resolve_against_the_yaml_folder(corpus):
    config = bench_config(corpus, detectors=[{"name": "wavlm_base_plus", "overrides": {"checkpoint_path": "w.pt",
                                                                                      "num_layers": 2}}])
    loaded = BenchmarkConfig.from_yaml(write_config(corpus, "bench.yaml", config))
    assert loaded.detectors[0].overrides == {"checkpoint_path": str(corpus.resolve() / "w.pt"), "num_layers": 2}
    assert loaded.test_sets[0].root == str(corpus.resolve())
