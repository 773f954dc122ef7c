"""Ranking of manifest differences: weights and how the changed cells move them (no runs needed)."""
from __future__ import annotations

import copy

from spoofbench.reproduce.compare import CellComparison, manifest_differences


def _manifest() -> dict:
    return {"config": {"seeds": [0]}, "seeds": [0], "spoofbench": {"commit": "abc", "dirty": False},
            "environment": {"cpu": {"model": "Intel Xeon", "vendor": "GenuineIntel"},
                            "torch": {"num_threads": 2, "cpu_capability": "AVX512"},
                            "packages": {"torch": "2.14.1", "numpy": "2.4.6", "pandas": "3.1"},
                            "media": {"ffmpeg": "ffmpeg version 5.1"}},
            "inputs": {"files": {}, "audio": {"b_eval": {"sha256": "x"}, "a_eval": {"sha256": "y"}},
                       "codecs": {"conditions": {}}}}


def _cells(**status) -> list[CellComparison]:
    return [CellComparison(f"d/seed0/{t}/{c}", c, t, s) for (t, c), s in
            {("a_eval", "none"): status.get("a_none", "identical"), ("a_eval", "mp3"): status.get("a_mp3", "identical"),
             ("b_eval", "none"): status.get("b_none", "identical"), ("b_eval", "mp3"): status.get("b_mp3", "identical")}.items()]


def test_coded_cells_only_put_the_codec_path_first():
    old, new = _manifest(), _manifest()
    new["environment"]["media"]["ffmpeg"] = "ffmpeg version 6.0"
    new["environment"]["torch"]["cpu_capability"] = "AVX2"
    new["environment"]["packages"]["pandas"] = "3.2"
    ranked = manifest_differences(old, new, cells=_cells(a_mp3="outside_ci", b_mp3="within_ci"))
    assert [d.key for d in ranked][:2] == ["environment.media.ffmpeg", "environment.torch.cpu_capability"]
    assert ranked[-1].key == "environment.packages.pandas"


def test_audio_of_the_changed_test_set_outranks_the_other():
    old, new = _manifest(), _manifest()
    new["inputs"]["audio"]["b_eval"]["sha256"] = "z"
    new["inputs"]["audio"]["a_eval"]["sha256"] = "w"
    new["environment"]["packages"]["torch"] = "2.15.0"
    ranked = manifest_differences(old, new, cells=_cells(b_none="outside_ci", b_mp3="outside_ci"))
    keys = [d.key for d in ranked]
    assert keys[0] == "inputs.audio.b_eval" and keys.index("inputs.audio.a_eval") > keys.index("environment.packages.torch")


def test_nothing_moved_keeps_order_and_says_so():
    old, new = _manifest(), copy.deepcopy(_manifest())
    new["environment"]["cpu"]["vendor"] = "AuthenticAMD"
    new["environment"]["torch"]["num_threads"] = 1
    ranked = manifest_differences(old, new, cells=_cells())
    assert [d.key for d in ranked] == ["environment.cpu.vendor", "environment.torch.num_threads"]
    assert all("no score changed" in d.detail and d.weight <= 20 for d in ranked)


def test_config_and_seed_edits_rank_highest():
    old, new = _manifest(), _manifest()
    new["config"]["seeds"], new["seeds"] = [1], [1]
    new["spoofbench"]["commit"] = "def"
    ranked = manifest_differences(old, new)
    assert {ranked[0].key, ranked[1].key} == {"config.seeds", "seeds"} and ranked[0].weight == 100
