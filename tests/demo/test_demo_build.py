"""A tiny demo build: both labels, disjoint speakers and attacks between A and B, caching, resume."""
from __future__ import annotations

import gzip
import json
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf

from spoofbench.corpora.manifest import read_manifest
from spoofbench.demo import ATTACKS, DemoSizes, DemoWarning, build_demo_corpus, load_index
from spoofbench.demo import build as build_module
from spoofbench.demo import generators
from spoofbench.demo.audio import active_level_db
from spoofbench.demo.plan import SETS as PLAN_SETS
from spoofbench.errors import ConfigError, SpoofbenchError

#: Enough spoofs for every attack of A (4), its variants (2) and of B (7) to appear once at least.
TINY = DemoSizes(train_bonafide=3, train_spoof=4, dev_bonafide=1, dev_spoof=4, eval_bonafide=2,
                 eval_spoof=4, ood_bonafide=2, ood_spoof=7, max_seconds=2.5, voices_spoof=2,
                 families_bonafide=1, families_spoof=7)
SETS = tuple(PLAN_SETS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemoWarning)
        corpus = build_demo_corpus(root, quick=True, seed=3, progress=False, sizes=TINY)
    trials = {name: list(read_manifest(corpus.manifest(name))) for name in SETS}
    return corpus, trials


def test_every_set_has_both_labels_and_the_asked_counts(built):
    corpus, trials = built
    assert not corpus.failed and not corpus.cache_hit
    assert corpus.generated == sum(TINY.counts(name)[0] + TINY.counts(name)[1] for name in SETS)
    for name in SETS:
        labels = [t.label for t in trials[name]]
        assert (labels.count("bonafide"), labels.count("spoof")) == TINY.counts(name)
        assert corpus.counts[name] == {"bonafide": labels.count("bonafide"),
                                       "spoof": labels.count("spoof")}
        assert all(t.split == PLAN_SETS[name].pool[1] for t in trials[name])


def test_corpora_a_and_b_have_disjoint_speakers_and_attack_families(built):
    corpus, trials = built
    a = [t for name in ("demo_a_train", "demo_a_dev", "demo_a_eval") for t in trials[name]]
    b = trials["demo_b_eval"]
    assert {t.corpus for t in a} == {"demo_a"} and {t.corpus for t in b} == {"demo_b"}
    assert not {t.speaker for t in a} & {t.speaker for t in b}
    spoof_a = {t.attack for t in a if t.label == "spoof"}
    spoof_b = {t.attack for t in b if t.label == "spoof"}
    assert spoof_a and spoof_b and not spoof_a & spoof_b
    assert not ({t.custom["family"] for t in a if t.label == "spoof"}
                & {t.custom["family"] for t in b if t.label == "spoof"})
    expected = {x.id for x in ATTACKS} - set(corpus.skipped)
    variants = {t.attack for t in trials["demo_a_voices"] if t.label == "spoof"}
    assert spoof_a | variants | spoof_b == expected
    bona = {name: {t.speaker for t in trials[name] if t.label == "bonafide"} for name in SETS}
    assert not bona["demo_a_train"] & (bona["demo_a_dev"] | bona["demo_a_eval"])


def test_audio_is_16k_mono_within_length_and_level(built):
    corpus, trials = built
    for name in SETS:
        for trial in trials[name]:
            wave, rate = sf.read(trial.audio_path(corpus.root))
            assert rate == 16000 and wave.ndim == 1
            assert len(wave) == trial.num_samples and trial.sampling_rate == 16000
            assert 0.5 <= len(wave) / rate <= TINY.max_seconds + 1e-6, trial.id
            assert np.isfinite(wave).all() and np.abs(wave).max() <= 0.98
            assert -30.5 < active_level_db(wave) < -21.5, (trial.id, trial.attack)
            assert not trial.path.startswith("/")
            assert "spoof" not in trial.path and "bonafide" not in trial.path


def test_a_second_build_is_a_cache_hit_without_running_generators(built, monkeypatch):
    corpus, _ = built
    mtimes = {p: p.stat().st_mtime_ns for p in corpus.root.rglob("*.flac")}

    def no_generator(*args, **kwargs):
        raise AssertionError("a generator ran on a cache hit")

    monkeypatch.setattr(build_module, "_run_tasks", no_generator)
    monkeypatch.setattr(build_module, "probe_attack", no_generator)
    again = build_demo_corpus(corpus.root, quick=True, seed=3, progress=False, sizes=TINY)
    assert again.cache_hit and again.generated == 0 and again.wall_s < 5
    assert again.manifests == corpus.manifests and again.counts == corpus.counts
    assert {p: p.stat().st_mtime_ns for p in corpus.root.rglob("*.flac")} == mtimes


def test_the_ladder_adds_one_shift_per_rung(built):
    corpus, trials = built

    def spoofs(name, key="attack"):
        return {getattr(t, key) if key != "family" else t.custom["family"]
                for t in trials[name] if t.label == "spoof"}

    def bona_speakers(name):
        return {t.speaker for t in trials[name] if t.label == "bonafide"}

    def tts_voices(name):  # TTS spoofs' speaker is "<tool>:<voice>"; vocoders keep the bona fide speaker
        return {s for s in spoofs(name, "speaker") if ":" in s}

    train_attacks, train_voices = spoofs("demo_a_train"), tts_voices("demo_a_train")
    # rung 1: unseen bona fide speakers, the training attacks with the training voices
    assert spoofs("demo_a_eval") <= train_attacks and tts_voices("demo_a_eval") <= train_voices
    assert not bona_speakers("demo_a_eval") & bona_speakers("demo_a_train")
    # rung 2: seen generator families, unseen voices or settings
    assert spoofs("demo_a_voices") == {"espeak_ng", "world_shifted"}
    assert tts_voices("demo_a_voices") and not tts_voices("demo_a_voices") & train_voices
    assert spoofs("demo_a_voices", "family") <= spoofs("demo_a_train", "family")
    # rung 3: unseen families, bona fide from the same held-out speakers as rungs 1-2
    assert not spoofs("demo_a_families", "family") & spoofs("demo_a_train", "family")
    assert bona_speakers("demo_a_families") <= {c.speaker for c in load_index() if c.corpus == "A"
                                                  and c.split == "eval"}
    # rung 4: the bona fide side comes from other recording corpora too
    assert {t.custom["source_corpus"] for t in trials["demo_b_eval"] if t.label == "bonafide"} <= \
        {"librispeech", "ljspeech", "cmu_arctic"}
    assert not bona_speakers("demo_b_eval") & bona_speakers("demo_a_eval")
    assert set(corpus.attacks["demo_a_voices"]) == {"espeak_ng", "world_shifted"}


def test_an_interrupted_build_makes_only_the_missing_clips(built, tmp_path):
    corpus, trials = built
    root = tmp_path / "copy"
    shutil.copytree(corpus.root, root)
    state_path = root / "demo_build.json"
    state = json.loads(state_path.read_text())
    state["complete"] = False
    state_path.write_text(json.dumps(state))
    lost = [trials["demo_a_train"][0], trials["demo_b_eval"][-1]]
    for trial in lost:
        trial.audio_path(root).unlink()
    half_written = root / "audio" / "demo_a_train" / ".demo_a_train_00000.x.flac.tmp"
    half_written.write_bytes(b"fLaC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemoWarning)
        resumed = build_demo_corpus(root, quick=True, seed=3, progress=False, sizes=TINY,
                                    workers=1)
    assert resumed.generated == 2 and not resumed.cache_hit
    assert all(t.audio_path(root).is_file() for t in lost) and not half_written.exists()
    with gzip.open(resumed.manifest("demo_a_train"), "rt") as handle:
        assert len(handle.read().splitlines()) == sum(TINY.counts("demo_a_train"))


def test_missing_tool_skips_its_attacks_with_a_warning(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(generators.shutil, "which",
                        lambda name: None if name == "festival" else real_which(name))
    sizes = DemoSizes(1, 2, 1, 1, 1, 1, 1, 5, max_seconds=2.0, voices_spoof=1, families_spoof=1)
    with pytest.warns(DemoWarning, match="festival_slt_hts.*festival is not installed"):
        corpus = build_demo_corpus(tmp_path / "d", quick=True, seed=0, progress=False,
                                   sizes=sizes, workers=1)
    assert set(corpus.skipped) >= {"festival_ked", "festival_slt_hts"}
    assert "not installed" in corpus.skipped["festival_ked"]
    b_attacks = {t.attack for t in read_manifest(corpus.manifest("demo_b_eval"))}
    assert not b_attacks & {"festival_ked", "festival_slt_hts"}
    assert corpus.counts["demo_b_eval"] == {"bonafide": 1, "spoof": 5}
    state = json.loads((corpus.root / "demo_build.json").read_text())
    assert "festival_ked" in state["skipped"]


def test_a_skipped_attack_that_runs_now_rebuilds_the_cached_corpus(tmp_path, monkeypatch):
    """A tool on PATH whose probe failed (a voice missing, a broken install) changes no version in the build's
    fingerprint: the cached corpus must still not be reused once the attack runs."""
    real_probe = build_module.probe_attack
    broken = {"espeak_en_us"} & {a.id for a in ATTACKS} or {ATTACKS[0].id}
    monkeypatch.setattr(build_module, "probe_attack",
                        lambda attack: "voice missing" if attack.id in broken else real_probe(attack))
    sizes = DemoSizes(1, 2, 1, 1, 1, 1, 1, 5, max_seconds=2.0, voices_spoof=1, families_spoof=1)
    with pytest.warns(DemoWarning, match="voice missing"):
        first = build_demo_corpus(tmp_path / "d", quick=True, seed=0, progress=False, sizes=sizes, workers=1)
    assert set(first.skipped) == broken
    monkeypatch.setattr(build_module, "probe_attack", real_probe)
    with pytest.warns(DemoWarning, match=r"without attack\(s\) .*run here now"):
        rebuilt = build_demo_corpus(tmp_path / "d", quick=True, seed=0, progress=False, sizes=sizes, workers=1)
    assert not rebuilt.cache_hit and not rebuilt.skipped
    assert build_demo_corpus(tmp_path / "d", quick=True, seed=0, progress=False, sizes=sizes, workers=1).cache_hit


def test_too_many_bonafide_clips_and_foreign_folders_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"sizes.demo_a_dev: 9999 bona fide clips asked"):
        build_demo_corpus(tmp_path / "big", quick=True, seed=0, progress=False,
                          sizes=DemoSizes(1, 1, 9999, 1, 1, 1, 1, 1), workers=1)
    (tmp_path / "foreign" / "audio").mkdir(parents=True)
    with pytest.raises(SpoofbenchError, match="no demo_build.json"):
        build_demo_corpus(tmp_path / "foreign", quick=True, seed=0, progress=False, sizes=TINY)


def test_vocoders_keep_length_and_make_speech_like_output():
    t = np.arange(16000) / 16000
    rng = np.random.default_rng(0)
    vowel = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 20))
    vowel = 0.3 * vowel / np.abs(vowel).max() + 0.001 * rng.standard_normal(len(t))
    for name, out in (("world", generators.vocode_world(vowel)),
                      ("griffin_lim", generators.vocode_griffin_lim(vowel, seed=1)),
                      ("lpc", generators.vocode_lpc(vowel, seed=1))):
        assert len(out) == len(vowel) and np.isfinite(out).all(), name
        spectrum = np.abs(np.fft.rfft(out))
        # the 120 Hz harmonic series survives: energy peaks near a multiple of 120 Hz
        peak_hz = np.argmax(spectrum[50:2000]) + 50
        assert min(peak_hz % 120, 120 - peak_hz % 120) <= 6, (name, peak_hz)
        assert not np.allclose(out, vowel, atol=1e-3), name


def test_shipped_protocol_labels_a_eval_in_domain_and_b_out_of_distribution(built):
    from spoofbench.corpora.protocol import load_protocol

    corpus, trials = built
    protocol = load_protocol(corpus.protocol, manifests_dir=corpus.root)
    assert len(protocol.train) == sum(TINY.counts("demo_a_train"))
    assert protocol.tests["demo_a_eval"].domain == "in-domain"
    assert protocol.tests["demo_b_eval"].domain == "ood"
    assert protocol.tests["demo_a_voices"].domain == "ood" and protocol.tests["demo_a_families"].domain == "ood"
    b_overlap = protocol.tests["demo_b_eval"].overlap
    assert b_overlap.speaker_count == 0 and b_overlap.source_utterance_count == 0
    # no sentence and no source utterance crosses from training into A-eval either
    assert protocol.tests["demo_a_eval"].overlap.source_utterance_count == 0
