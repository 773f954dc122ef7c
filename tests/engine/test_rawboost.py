"""The published RawBoost (spoofbench.engine.rawboost) against the authors' reference outputs, and its wiring.

``data/rawboost_reference.npz`` holds the reference code's outputs (TakHemlata/RawBoost-antispoofing,
``process_Rawboost_feature`` after ``np.random.seed(seed)``) for algorithms 1-8, two seeds each, on a fixed
float32 input; ``data/make_rawboost_reference.py`` made it (test preparation, not run here). With the numpy and
scipy the fixture was made with, the outputs must be bit-identical; with others, equal to 1e-7 (numpy's float32
``power`` differs by an ulp between versions: the unpatched reference under numpy 1.26.4 / scipy 1.13.1 differs
from the fixture by at most 8e-9 on algorithms 1, 4, 5, 6, 8 and not at all on 2, 3, 7).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy

from spoofbench.engine import TrainConfig
from spoofbench.engine.augment import Augmenter, sample_generator
from spoofbench.engine.config import AugmentConfig, RawBoostConfig
from spoofbench.engine.rawboost import ALGORITHMS, as_random_state, rawboost
from spoofbench.errors import ConfigError

FIXTURE = Path(__file__).parent / "data" / "rawboost_reference.npz"
#: RawBoostConfig field ← the reference's argparse name
REFERENCE_NAMES = {
    "nBands": "n_bands", "minF": "min_f", "maxF": "max_f", "minBW": "min_bw", "maxBW": "max_bw",
    "minCoeff": "min_coeff", "maxCoeff": "max_coeff", "minG": "min_g", "maxG": "max_g",
    "minBiasLinNonLin": "min_bias_lin_nonlin", "maxBiasLinNonLin": "max_bias_lin_nonlin", "N_f": "n_f",
    "P": "p", "g_sd": "g_sd", "SNRmin": "snr_min", "SNRmax": "snr_max",
}


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def test_defaults_are_the_references(reference):
    published = dict(zip(reference["parameter_names"].tolist(), reference["parameter_values"].tolist()))
    assert set(published) == set(REFERENCE_NAMES)
    cfg = RawBoostConfig()
    assert {REFERENCE_NAMES[k]: v for k, v in published.items()} == {
        field: float(getattr(cfg, field)) for field in REFERENCE_NAMES.values()}
    assert cfg.algo == 0 and cfg.probability == 1.0


@pytest.mark.parametrize("algo", range(1, 9))
def test_matches_the_reference_outputs(reference, algo):
    x, sr = reference["input"], int(reference["sample_rate"])
    assert x.dtype == np.float32
    same_libraries = reference["versions"].tolist() == [np.__version__, scipy.__version__]
    keys = [k for k in reference if k.startswith(f"algo{algo}_seed")]
    assert len(keys) == 2
    outputs = []
    for key in keys:
        seed = int(key.split("seed")[1])
        got = rawboost(x.copy(), RawBoostConfig(algo=algo), sr, np.random.RandomState(seed))
        want = reference[key]
        assert got.shape == want.shape == x.shape and got.dtype == want.dtype
        if same_libraries:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
        assert np.abs(got - x).max() > 1e-3          # it did change the signal
        outputs.append(got)
    assert not np.allclose(outputs[0], outputs[1])   # and the seed matters


def test_algo_zero_and_empty_input_are_identity():
    x = np.linspace(-0.5, 0.5, 100, dtype=np.float32)
    rs = np.random.RandomState(3)
    state = rs.get_state()[1].copy()
    assert rawboost(x, RawBoostConfig(algo=0), 16000, rs) is x
    assert np.array_equal(rs.get_state()[1], state)          # nothing drawn
    empty = np.zeros(0, dtype=np.float32)
    assert rawboost(empty, RawBoostConfig(algo=4), 16000, rs) is empty
    with pytest.raises(ValueError, match="1-D"):
        rawboost(np.zeros((2, 50)), RawBoostConfig(algo=1), 16000, rs)
    assert set(ALGORITHMS) == set(range(9))


def test_random_state_from_seed_or_generator():
    x = np.sin(np.arange(1600) / 7).astype(np.float32) * 0.5
    cfg = RawBoostConfig(algo=3)
    assert np.array_equal(rawboost(x, cfg, 16000, 11), rawboost(x, cfg, 16000, np.random.RandomState(11)))
    a = rawboost(x, cfg, 16000, np.random.default_rng(5))
    assert np.array_equal(a, rawboost(x, cfg, 16000, np.random.default_rng(5)))
    assert isinstance(as_random_state(np.random.default_rng(0)), np.random.RandomState)


def _augment(rawboost_cfg: dict, **extra) -> AugmentConfig:
    return TrainConfig.from_dict({"detector": "x", "augment": {"rawboost": rawboost_cfg, **extra}}).augment


def _wave(n: int = 8000) -> np.ndarray:
    t = np.arange(n) / 16000
    rng = np.random.default_rng(0)
    return (0.4 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.standard_normal(n)).astype(np.float32)


def test_augmenter_runs_rawboost_on_the_whole_clip_seeded_per_clip():
    aug = Augmenter(_augment({"algo": 5}), 16000)
    assert aug.active and aug.whole_clip
    x = _wave()
    a = aug.channel(x, sample_generator(1, 0, 4), key="utt")
    assert a.dtype == np.float32 and a.shape == x.shape and not np.allclose(a, x)
    assert np.array_equal(a, aug.channel(x, sample_generator(1, 0, 4), key="utt"))
    assert not np.allclose(a, aug.channel(x, sample_generator(1, 1, 4), key="utt"))
    # what it is: RawBoost 5 from a RandomState seeded by the clip generator's second draw
    rng = sample_generator(1, 0, 4)
    rng.random()
    expected = rawboost(x, RawBoostConfig(algo=5), 16000, np.random.RandomState(int(rng.integers(0, 2 ** 32))))
    assert np.array_equal(a, expected.astype(np.float32))
    # the crop-level operators leave it alone
    assert np.array_equal(aug.signal(a, sample_generator(1, 0, 4)), a)


def test_rawboost_probability_and_off_draw_what_they_say():
    x = _wave(2000)
    never = Augmenter(_augment({"algo": 1, "probability": 0.0}), 16000)
    assert not never.active and np.array_equal(never.channel(x, sample_generator(0, 0, 0), key="u"), x)
    off = Augmenter(AugmentConfig(), 16000)
    rng = sample_generator(0, 0, 0)
    assert off.channel(x, rng, key="u") is x
    assert rng.random() == sample_generator(0, 0, 0).random()     # no draw: older configs keep their streams
    half = Augmenter(_augment({"algo": 2, "probability": 0.5}), 16000)
    changed = [not np.array_equal(half.channel(x, sample_generator(0, 0, i), key="u"), x) for i in range(40)]
    assert 5 < sum(changed) < 35


def test_old_rawboost_style_keys_keep_their_meaning():
    cfg = _augment({"linear_nonlinear": 0.3, "impulsive": 0.2, "snr_db": [5, 20]})
    assert cfg.rawboost == RawBoostConfig()                       # the published one stays off
    assert cfg.rawboost_style.linear_nonlinear == 0.3 and cfg.rawboost_style.snr_db == (5.0, 20.0)
    again = TrainConfig.from_dict(TrainConfig.from_dict({"detector": "x", "augment": {"rawboost": {
        "impulsive": 0.2}}}).to_dict())
    assert again.augment.rawboost_style.impulsive == 0.2 and again.augment.rawboost.algo == 0


@pytest.mark.parametrize("rawboost_cfg, extra, field, words", [
    ({"algo": 9}, {}, "augment.rawboost.algo", "expected 0 (off) to 8"),
    ({"algo": -1}, {}, "augment.rawboost.algo", "expected 0 (off) to 8"),
    ({"algo": True}, {}, "augment.rawboost.algo", "not an integer"),
    ({"algo": "lnl"}, {}, "augment.rawboost.algo", "not an integer"),
    ({"algo": 1, "probability": 1.5}, {}, "augment.rawboost.probability", "probability"),
    ({"algo": 2, "p": 150}, {}, "augment.rawboost.p", "percentage"),
    ({"algo": 1, "min_f": 500, "max_f": 100}, {}, "augment.rawboost.min_f", "min_f <= max_f"),
    ({"algo": 1, "min_bw": 0}, {}, "augment.rawboost.min_bw", "> 0"),
    ({"algo": 1, "n_f": 0}, {}, "augment.rawboost.n_f", "> 0"),
    ({"algo": 3, "snr_min": 40, "snr_max": 10}, {}, "augment.rawboost.snr_min", "snr_min <= snr_max"),
    ({"algo": 1, "nBands": 3}, {}, "augment.rawboost.nBands", "unknown key"),
    ({"algo": 1, "impulsive": 0.5}, {}, "augment", "rawboost_style"),
    ({"impulsive": 0.5}, {"rawboost_style": {"coloured": 0.1}}, "augment", "rawboost_style"),
])
def test_bad_rawboost_config_names_the_field(rawboost_cfg, extra, field, words):
    with pytest.raises(ConfigError) as err:
        _augment(rawboost_cfg, **extra)
    assert err.value.field == field and words in str(err.value)


def test_notches_must_fit_the_sample_rate():
    cfg = _augment({"algo": 1})
    Augmenter(cfg, 16000)
    with pytest.raises(ConfigError, match="Nyquist") as err:
        Augmenter(cfg, 8000)
    assert err.value.field == "augment.rawboost.max_f"
    Augmenter(_augment({"algo": 1, "max_f": 3900}), 8000)
    Augmenter(_augment({"algo": 2}), 8000)                       # ISD has no filters


def test_per_clip_and_batch_loaders_boost_whole_clips_in_the_workers(corpus):
    from spoofbench.engine.audio import read_audio
    from spoofbench.engine.batch_loader import BatchDataset
    from spoofbench.engine.data import TrainDataset
    from spoofbench.models.policy import InputPolicy

    aug = Augmenter(_augment({"algo": 3}), 16000)
    trials = corpus["train"][:4]
    policy = InputPolicy("full", 0, "repeat", "none")
    dataset = TrainDataset(trials, corpus["root"], sample_rate=16000, policy=policy, min_samples=64, train=True,
                           seed=9, augmenter=aug)
    for index, trial in enumerate(trials):
        wave = dataset[(2, index)][0].numpy()
        clean = read_audio(trial.audio_path(corpus["root"]), 16000)
        assert np.array_equal(wave, aug.channel(clean, sample_generator(9, 2, index), key=trial.id))
        assert not np.allclose(wave, clean)
    fixed = InputPolicy("fixed", 2000, "repeat", "none")
    plain = BatchDataset(trials, corpus["root"], sample_rate=16000, policy=fixed, min_samples=64, seed=9)
    boosted = BatchDataset(trials, corpus["root"], sample_rate=16000, policy=fixed, min_samples=64, seed=9,
                           augmenter=aug)
    assert plain.augmenter is None and boosted.augmenter is aug
    items = [(0, i) for i in range(4)]
    a, b = boosted[items]["waves"], plain[items]["waves"]
    assert torch_equal(a, boosted[items]["waves"]) and not torch_equal(a, b)


def torch_equal(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def test_training_with_rawboost_runs_and_records_it(corpus, tmp_path):
    import yaml

    from spoofbench.engine import train
    cfg = TrainConfig.from_dict(dict(detector="rawcnn_2m", preset="tiny", epochs=1, batch_size=8, eval_batch_size=16,
                                     num_workers=0, seed=3, cpu_threads=1, augment={"rawboost": {"algo": 5}}))
    result = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path / "run",
                   progress=False)
    assert result.epochs_run == 1
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["augment"]
    assert recorded["rawboost"]["algo"] == 5 and recorded["rawboost_style"]["impulsive"] == 0.0
    assert TrainConfig.from_dict(yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())) == cfg
