"""The demo records its corpus digest; reproducing it regenerates the corpus and compares every cell."""
from __future__ import annotations

import warnings

import pytest

from spoofbench.cli import main
from spoofbench.reproduce.manifest import load_manifest
from spoofbench.reproduce.record import record_command, settings_dict
from spoofbench.reproduce.reproduce import reproduce_run, scoring_only


@pytest.mark.slow
def test_tiny_demo_reproduces_bit_for_bit(tmp_path, require_ffmpeg):
    from spoofbench.demo import DemoSizes
    from spoofbench.demo.runs import DemoSettings, run_demo

    sizes = DemoSizes(4, 4, 2, 4, 2, 4, 2, 4, max_seconds=1.5, voices_spoof=2, families_spoof=4)
    settings = DemoSettings(quick=True, detectors=("lfcc_gmm",), seeds=(0,), codecs=("g711_mulaw",),
                            bootstrap=20, corpus_sizes=sizes, real_attacks=False, aasist_weights=None)
    out = tmp_path / "demo"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, corpus = run_demo(out, settings, progress=False)
    assert result["cells"]
    record_command(out, ["demo"], settings, settings.seed_list(),
                   {"settings": settings_dict(settings), "corpus_dir": str(corpus.root),
                    "corpus_manifests": {k: str(v) for k, v in corpus.manifests.items()}},
                   command="demo", digest_cache=tmp_path / "digests")
    manifest = load_manifest(out)
    assert manifest["demo_corpus"]["n_files"] > 0 and "demo_a_train" in manifest["inputs"]["audio"]
    # --scoring-only right after the demo, and again after `spoofbench report` re-rendered its reports
    checked = scoring_only(out, digest_cache=tmp_path / "digests")
    assert checked.status == "reproduced" and all(c.status == "identical" for c in checked.cells), checked.reason
    assert main(["report", str(out), "-q"]) == 0
    assert main(["reproduce", str(out), "--scoring-only", "-q"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = reproduce_run(out, out=tmp_path / "again", digest_cache=tmp_path / "digests")
    assert report.findings[0].startswith("demo corpus: regenerated bit for bit"), report.findings
    assert report.status == "reproduced", report.reason
    assert all(c.status == "identical" for c in report.cells)
