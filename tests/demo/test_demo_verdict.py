"""The demo's answer to the seed's question: per-rung power and verdicts from paired comparisons."""
from __future__ import annotations

import pytest

from spoofbench.demo.verdict import (ENCODER, RAW, detectable_difference, rung_power, verdict, verdict_markdown,
                                     verdict_rows)
from spoofbench.runner.report import Comparison


def _keys(tmp_path, name, bona, spoof):
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    lines = [f"- b{i} - - bonafide" for i in range(bona)] + [f"- s{i} - - spoof" for i in range(spoof)]
    (keys / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cmp(test, a, b, va, vb, ci, p_adj, separable):
    d = va - vb
    return Comparison(test, "none", a, b, va, vb, (d, d), ci, (0.001, 0.001), 1000, p_adj, separable)


def test_detectable_difference_is_the_normal_power_formula():
    # z(0.975) + z(0.8) = 1.960 + 0.842 = 2.802
    assert detectable_difference(0.01, 0.05) == pytest.approx(0.02802, abs=1e-4)
    assert detectable_difference(0.01, 0.05 / 20) > detectable_difference(0.01, 0.05)


def test_rung_power_counts_trials_and_uses_the_pairs_se(tmp_path):
    _keys(tmp_path, "r2_voices", 250, 240)
    comparisons = [_cmp("r2_voices", RAW, ENCODER, 0.10, 0.20, (-0.14, -0.06), 0.01, True),
                   _cmp("r2_voices", RAW, "lfcc_gmm", 0.10, 0.12, (-0.06, 0.02), 0.5, False),
                   _cmp("r3_families", RAW, ENCODER, 0.1, 0.1, (-0.5, 0.5), 1.0, False)]
    power = rung_power(comparisons, tmp_path, "r2_voices", [RAW, ENCODER, "lfcc_gmm"], 0.05)
    assert (power.bonafide, power.spoof) == (250, 240)
    se = 0.08 / (2 * 1.959964)
    assert power.se == pytest.approx(se)
    assert power.detectable == pytest.approx(detectable_difference(se, 0.05 / 3))
    assert power.detectable_last == pytest.approx(detectable_difference(se, 0.05))
    assert "pp" in power.text()


def test_verdicts_agree_contradict_or_cannot_tell(tmp_path):
    for name in ("r1_speakers", "r2_voices", "r3_families", "r4_corpora"):
        _keys(tmp_path, name, 250, 250)
    comparisons = [_cmp("r1_speakers", ENCODER, RAW, 0.02, 0.05, (-0.05, -0.01), 0.01, True),
                   _cmp("r2_voices", RAW, ENCODER, 0.10, 0.20, (-0.14, -0.06), 0.01, True),
                   _cmp("r3_families", ENCODER, RAW, 0.15, 0.30, (-0.2, -0.1), 0.001, True),
                   _cmp("r4_corpora", RAW, ENCODER, 0.30, 0.31, (-0.04, 0.02), 0.9, False)]
    rows = verdict_rows(comparisons, tmp_path, [("r1_speakers", False), ("r2_voices", True),
                                                ("r3_families", True), ("r4_corpora", True), ("absent", True)],
                        [RAW, ENCODER], RAW, ENCODER, 0.05)
    claims = {r["rung"]: r["claim"] for r in rows}
    assert claims == {"r1_speakers": "in-domain: not the claim's test", "r2_voices": "agrees",
                      "r3_families": "contradicts", "r4_corpora": "cannot tell (the set does not separate them)"}
    says = {r["rung"]: r["evidence"] for r in rows}
    assert says["r2_voices"].startswith(f"{RAW} generalises better")
    assert says["r3_families"].startswith(f"{ENCODER} generalises better")
    assert f"EER {RAW} 30.00% vs {ENCODER} 15.00%; Δ 95% CI [+10.00, +20.00] pp" in says["r3_families"]
    assert f"EER {RAW} 10.00% vs {ENCODER} 20.00%; Δ 95% CI [-14.00, -6.00] pp" in says["r2_voices"]
    assert "would be found with 80% power" in says["r4_corpora"]
    text = verdict_markdown(rows, "title", 4, 0.05)
    assert text.count("\n| r") == 5 and "not an SSL model" in text


def test_no_pair_is_cannot_tell(tmp_path):
    _keys(tmp_path, "r2_voices", 10, 10)
    power = rung_power([], tmp_path, "r2_voices", [RAW], 0.05)
    assert power.detectable is None and power.text() == "—"
    assert verdict(None, power, RAW, ENCODER, True)[1] == "cannot tell"


def test_a_missing_la19_file_is_named(tmp_path):
    """A protocol line whose audio file is gone: one ManifestError naming the utterance and its path."""
    import shutil

    from spoofbench.demo.la19 import La19Sizes, build_la19_manifests, la19_mini_root
    from spoofbench.errors import ManifestError

    root = tmp_path / "mini"
    shutil.copytree(la19_mini_root(), root)
    victim = sorted((root / "ASVspoof2019_LA_dev" / "flac").glob("*.flac"))[0]
    victim.unlink()
    with pytest.raises(ManifestError, match=rf"1 dev file\(s\) of the protocol are missing, e.g. {victim.stem}"):
        build_la19_manifests(tmp_path / "out", La19Sizes(None, 2, None, 1), root=root)
