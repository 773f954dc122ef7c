"""The batch-level training loader (data.loader: batch): determinism, crops, padding, transform, training."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from spoofbench.engine import TrainConfig, train
from spoofbench.engine.audio import read_audio
from spoofbench.engine.augment import Augmenter
from spoofbench.engine.batch_loader import (
    BatchDataset,
    BatchTransform,
    RingLoader,
    as_is,
    batch_generator,
    batch_loader,
    ring_slots,
    train_view,
)
from spoofbench.engine.data import BucketBatchSampler, PackedRoot, with_pack
from spoofbench.engine.pack import DEFAULT_DIR, pack_manifests
from spoofbench.errors import ConfigError
from spoofbench.models.policy import InputPolicy

pytestmark = pytest.mark.timeout(120)
SR = 16000


@pytest.fixture(scope="module")
def packed(corpus, tmp_path_factory) -> dict:
    """The engine corpus copied and its train set packed."""
    root = tmp_path_factory.mktemp("batch_loader") / "corpus"
    shutil.copytree(corpus["root"], root)
    pack_manifests([corpus["manifests"] / "train.jsonl.gz"], root=root, out=root / DEFAULT_DIR, workers=0,
                   progress=False)
    waves = {t.id: read_audio(t.audio_path(root), SR) for t in corpus["train"]}
    return {**corpus, "root": root, "waves": waves}


def _dataset(packed, policy, root=None, **kw) -> BatchDataset:
    root = with_pack(packed["root"], SR) if root is None else root
    return BatchDataset(packed["train"], root, sample_rate=SR, policy=policy, min_samples=kw.pop("min_samples", 64),
                        seed=kw.pop("seed", 3), **kw)


def _items(epoch: int, indices) -> list[tuple[int, int]]:
    return [(epoch, int(i)) for i in indices]


def _waves(batch: dict) -> torch.Tensor:
    """The float32 waves the trainer sees (an int16 batch scaled as the pack decodes it)."""
    return train_view(batch, None, torch.device("cpu"))


def test_batches_are_deterministic_for_seed_and_epoch(packed):
    policy = InputPolicy("fixed", 4000, "repeat", "none")     # every clip is longer: a random crop each
    data = _dataset(packed, policy)
    assert isinstance(data.root, PackedRoot)
    items = _items(0, range(16))
    first = data[items]
    again = _dataset(packed, policy)[items]      # a fresh dataset (another worker) gives the same batch
    assert torch.equal(first["waves"], again["waves"]) and first["seed"] == again["seed"]
    as_packed = _dataset(packed, policy, int16_batches=True)[items]    # for a GPU: 16-bit clips travel as int16
    assert as_packed["waves"].dtype == torch.int16 and first["waves"].dtype == torch.float32
    assert torch.equal(_waves(as_packed), first["waves"])              # scaled on the device: the same floats
    other_epoch = data[_items(1, range(16))]
    other_seed = _dataset(packed, policy, seed=4)[items]
    assert not torch.equal(first["waves"], other_epoch["waves"])
    assert not torch.equal(first["waves"], other_seed["waves"])
    # the same draws as the documented generator: start = floor(u * (length - crop + 1))
    rng = batch_generator(3, 0, range(16))
    draws = rng.random(16)
    for b, trial in enumerate(packed["train"][:16]):
        clip = packed["waves"][trial.id]
        start = int(draws[b] * (clip.size - 4000 + 1))
        assert np.array_equal(_waves(first)[b].numpy(), clip[start:start + 4000])


def test_crops_lie_inside_their_clips_and_pack_equals_files(packed):
    policy = InputPolicy("fixed", 5000, "repeat", "none")
    items = _items(2, [5, 1, 30, 7, 7, 12])
    batch = _dataset(packed, policy)[items]
    from_files = _dataset(packed, policy, root=packed["root"])[items]   # no pack: decoded from the files
    assert from_files["waves"].dtype == torch.float32
    assert torch.equal(_waves(batch), from_files["waves"])               # same samples, same crops
    assert batch["indices"].tolist() == [5, 1, 30, 7, 7, 12] and batch["failed"] == 0
    assert batch["targets"].tolist() == [packed["train"][i].target for i in [5, 1, 30, 7, 7, 12]]
    for row, index in zip(_waves(batch).numpy(), batch["indices"].tolist()):
        clip = packed["waves"][packed["train"][index].id]
        windows = np.lib.stride_tricks.sliding_window_view(clip, 5000)
        assert (windows == row).all(axis=1).any()                         # a contiguous window of its clip


@pytest.mark.parametrize("pad", ["repeat", "zero"])
def test_short_clips_are_tiled_or_zero_padded_per_policy(packed, pad):
    n = 20000                                                             # longer than every clip (<= 0.9 s)
    batch = _dataset(packed, InputPolicy("fixed", n, pad, "none"))[_items(0, [0, 9, 20])]
    assert batch["waves"].shape == (3, n) and batch["lengths"].tolist() == [n] * 3
    for row, index, valid in zip(_waves(batch).numpy(), batch["indices"].tolist(), batch["valid"].tolist()):
        clip = packed["waves"][packed["train"][index].id]
        assert valid == clip.size
        expected = np.resize(clip, n) if pad == "repeat" else np.concatenate([clip, np.zeros(n - clip.size,
                                                                                           np.float32)])
        assert np.array_equal(row, expected)


def test_full_policy_caps_crops_pads_to_the_longest_and_tiles_to_min_samples(packed):
    policy = InputPolicy("full", None, "repeat", "none")
    data = _dataset(packed, policy, max_samples=9000, min_samples=7000)
    batch = data[_items(0, range(10))]
    sizes = [packed["waves"][t.id].size for t in packed["train"][:10]]
    want = [max(min(s, 9000), 7000) for s in sizes]
    assert batch["lengths"].tolist() == want and batch["waves"].shape == (10, max(want))
    for row, size, length in zip(_waves(batch).numpy(), sizes, want):
        assert not row[length:].any()                                     # zero beyond the clip's input
        assert np.array_equal(row[min(size, 9000):length], row[:length - min(size, 9000)])   # tiled


def test_unreadable_clips_are_dropped_and_counted(packed, tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(packed["root"], root)
    broken = packed["train"][4]
    (root / broken.path).write_bytes(b"RIFF")            # changed file: the pack is stale for it, the file bad
    batch = _dataset(packed, InputPolicy("fixed", 4000, "repeat", "none"),
                     root=with_pack(root, SR))[_items(0, range(8))]
    assert batch["failed"] == 1 and 4 not in batch["indices"].tolist() and batch["waves"].shape == (7, 4000)


def test_a_worker_returns_the_same_batches_as_the_main_process(packed):
    policy = InputPolicy("fixed", 4000, "repeat", "none")
    data = _dataset(packed, policy)
    sampler = BucketBatchSampler([4000] * len(data), data.targets, 8, seed=1)
    sampler.set_epoch(2)
    here = [b["waves"] for b in batch_loader(data, sampler, workers=0, cuda=False)]
    there = [b["waves"] for b in batch_loader(data, sampler, workers=1, cuda=False)]
    assert len(here) == len(sampler) and all(torch.equal(a, b) for a, b in zip(here, there))
    assert as_is(here) is here


def test_transform_normalises_over_real_samples_and_keeps_padding_zero():
    waves = torch.zeros(2, 10)
    waves[0, :6] = torch.tensor([1.0, 2, 3, 4, 5, 6])
    waves[1] = torch.arange(10.0)
    batch = {"lengths": torch.tensor([10, 10]), "valid": torch.tensor([6, 10]), "seed": 1}
    out = BatchTransform(None, InputPolicy("fixed", 10, "zero", "mean"))(waves, batch)
    assert torch.allclose(out[0, :6].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(out[0, :6].std(unbiased=False), torch.tensor(1.0), atol=1e-5)
    assert not out[0, 6:].any()
    peak = BatchTransform(None, InputPolicy("fixed", 10, "zero", "peak"))(waves, batch)
    assert torch.allclose(peak.abs().amax(1), torch.ones(2), atol=1e-6)


def test_transform_augments_every_operator_seeded_and_within_lengths():
    cfg = TrainConfig.from_dict({"detector": "x", "augment": {
        "gain_probability": 1.0, "resample_probability": 1.0,
        "rawboost": {"linear_nonlinear": 1.0, "impulsive": 1.0, "coloured": 1.0}}}).augment
    transform = BatchTransform(Augmenter(cfg, SR), InputPolicy("full", None, "zero", "none"))
    assert transform.augmenting
    t = torch.arange(4000) / SR
    waves = torch.stack([0.5 * torch.sin(2 * torch.pi * 300 * t), 0.3 * torch.sin(2 * torch.pi * 900 * t)])
    waves[1, 3000:] = 0
    batch = {"lengths": torch.tensor([4000, 3000]), "valid": torch.tensor([4000, 3000]), "seed": 11}
    one, two = transform(waves.clone(), batch), transform(waves.clone(), batch)
    assert torch.equal(one, two) and one.shape == waves.shape and torch.isfinite(one).all()
    assert not torch.allclose(one, waves)
    assert not one[1, 3000:].any()                                        # padding stays zero
    assert not torch.equal(one, transform(waves.clone(), {**batch, "seed": 12}))
    assert BatchTransform(Augmenter(cfg, SR), InputPolicy(), train=False)(waves, batch) is waves


def _config(loader: str, epochs: int = 1, num_workers: int = 0, **kw) -> TrainConfig:
    return TrainConfig.from_dict(dict(detector="rawcnn_2m", preset="tiny", epochs=epochs, batch_size=8,
                                      eval_batch_size=16, num_workers=num_workers, seed=5, cpu_threads=1,
                                      augment={"gain_probability": 0.5, "rawboost": {"impulsive": 0.5,
                                                                                      "coloured": 0.3}},
                                      data={"pack": "on", "loader": loader}, **kw))


def test_training_with_the_batch_loader_is_deterministic_and_learns(packed, tmp_path):
    from spoofbench.engine.runtime import seeded
    from spoofbench.engine.trainer import weights_digest
    from spoofbench.models import build_detector

    with seeded(5, torch.device("cpu")):
        initial = weights_digest(build_detector("rawcnn_2m", "tiny"))
    runs = [train(_config("batch"), packed["train"], packed["dev"], root=packed["root"], out_dir=tmp_path / name,
                  progress=False) for name in ("a", "b")]
    assert runs[0].weights_sha256 == runs[1].weights_sha256 != initial   # trained, and the same for a seed
    row = runs[0].history[0]
    assert row["train_samples"] == len(packed["train"]) and np.isfinite(row["train_loss"])
    assert 0 <= row["data_wait_seconds"] <= row["train_seconds"]
    per_clip = train(_config("per_clip"), packed["train"], packed["dev"], root=packed["root"],
                     out_dir=tmp_path / "c", progress=False)
    assert per_clip.weights_sha256 != runs[0].weights_sha256              # other crops: other weights
    with pytest.raises(ConfigError, match="data.loader was 'batch', now 'per_clip'"):
        train(_config("per_clip", epochs=2), packed["train"], packed["dev"], root=packed["root"],
              out_dir=tmp_path / "a", resume=True, progress=False)


def test_a_resumed_batch_loader_run_ends_with_the_uninterrupted_weights(packed, tmp_path):
    def stop(epoch: int, step: int) -> None:
        if epoch == 1 and step == 1:
            raise KeyboardInterrupt

    whole = train(_config("batch", epochs=2), packed["train"], packed["dev"], root=packed["root"],
                  out_dir=tmp_path / "whole", progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(_config("batch", epochs=2), packed["train"], packed["dev"], root=packed["root"],
              out_dir=tmp_path / "cut", progress=False, on_batch_end=stop)
    resumed = train(_config("batch", epochs=2), packed["train"], packed["dev"], root=packed["root"],
                    out_dir=tmp_path / "cut", resume=True, progress=False)
    assert resumed.weights_sha256 == whole.weights_sha256


def test_codec_augmentation_codes_whole_clips_in_the_worker_before_cropping(packed, tmp_path, require_ffmpeg):
    from spoofbench import codecs

    cfg = TrainConfig.from_dict({"detector": "x", "augment": {"codec": {
        "probability": 1.0, "conditions": ["g711_mulaw"], "cache_dir": str(tmp_path / "cache")}}}).augment
    policy = InputPolicy("fixed", 4000, "repeat", "none")
    data = _dataset(packed, policy, augmenter=Augmenter(cfg, SR))
    assert data.augmenter is not None
    batch = data[_items(0, [3, 17])]
    assert batch["waves"].dtype == torch.float32 and torch.equal(batch["waves"], data[_items(0, [3, 17])]["waves"])
    for row, index in zip(batch["waves"].numpy(), [3, 17]):
        trial = packed["train"][index]
        coded = codecs.apply_condition(packed["waves"][trial.id], SR, "g711_mulaw", key=trial.id)
        windows = np.lib.stride_tricks.sliding_window_view(np.asarray(coded, np.float32), 4000)
        assert (windows == row).all(axis=1).any()                         # a window of the coded clip
    assert not BatchTransform(Augmenter(cfg, SR), policy).augmenting      # nothing left for the device


# --- the ring of shared-memory batch buffers (workers -> main process) ------------------------------

def _same_batch(got: dict, want: dict) -> bool:
    """Two batch dicts hold the same samples (dtype included) and the same metadata."""
    return got["waves"].dtype == want["waves"].dtype and torch.equal(got["waves"], want["waves"]) and all(
        torch.equal(got[k], want[k]) for k in ("lengths", "valid", "targets", "indices")) and all(
        got[k] == want[k] for k in ("failed", "seed"))


def _mixed(packed, policy, **kw) -> BatchDataset:
    """The packed train set and six dev clips the pack does not hold: int16 batches and float32 ones."""
    return BatchDataset(packed["train"] + packed["dev"][:6], with_pack(packed["root"], SR), sample_rate=SR,
                        policy=policy, min_samples=64, seed=3, **kw)


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")
@pytest.mark.parametrize("int16", [False, True])
def test_ring_gives_every_batch_of_the_in_process_loader_with_many_workers_and_the_smallest_ring(packed, int16):
    policy = InputPolicy("fixed", 9000, "zero", "none")     # some clips cropped, the shorter ones zero-padded
    data = _mixed(packed, policy, int16_batches=int16)
    sampler = BucketBatchSampler([9000] * len(data), data.targets, 3, seed=1)
    loader = batch_loader(data, sampler, workers=3, cuda=False, prefetch=1)
    assert isinstance(loader, RingLoader) and loader.ring.shape[0] == ring_slots(3, 1) == 5
    assert len(loader) == len(sampler) == 14
    kinds = set()
    for epoch in (0, 1, 2):
        sampler.set_epoch(epoch)
        if epoch == 1:                    # an abandoned epoch: the next one still gets the right batches
            next(iter(loader))
        want = [data[items] for items in sampler]
        got = list(loader)                                  # persistent workers across the epochs
        assert len(got) == len(want) and all(_same_batch(g, w) for g, w in zip(got, want))
        kinds |= {str(g["waves"].dtype) for g in got}
    # on a CPU every batch arrives as float32 (int16 scaled in the main process: bit-identical floats); with
    # int16_batches the packed ones stay int16, the decoded dev clips' batches are float32
    assert kinds == ({"torch.int16", "torch.float32"} if int16 else {"torch.float32"})


def test_ring_works_with_spawned_workers(packed):
    policy = InputPolicy("fixed", 4000, "repeat", "none")
    data = _dataset(packed, policy)
    sampler = BucketBatchSampler([4000] * len(data), data.targets, 8, seed=2)
    loader = batch_loader(data, sampler, workers=1, cuda=False, prefetch=2,
                          context=torch.multiprocessing.get_context("spawn"))
    assert isinstance(loader, RingLoader)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        got = list(loader)
        assert len(got) == len(sampler) and all(_same_batch(g, data[items]) for g, items in zip(got, sampler))


def test_ring_refuses_too_few_slots_and_detects_an_overwritten_slot(packed):
    policy = InputPolicy("fixed", 4000, "repeat", "none")
    data = _dataset(packed, policy)
    with pytest.raises(ValueError, match="at least 10 slots"):
        RingLoader(data, [], workers=2, prefetch=4, cuda=False, slot_bytes=8 * 4000 * 4, slots=9)
    loader = RingLoader(data, [], workers=1, prefetch=1, cuda=False, slot_bytes=8 * 4000 * 4)
    worker = loader.loader.dataset                          # the worker side, called here
    first, second = _items(0, range(8)), _items(0, range(8, 16))
    meta = worker[(0, first)]
    assert "waves" not in meta and meta["slot"] == 0 and meta["int16"]
    assert _same_batch(loader.take(dict(meta)), data[first])
    worker[(3, second)]                                     # batch 3 lands in slot 0 (3 slots) ...
    with pytest.raises(RuntimeError, match="ring slot 0 of batch 0 was overwritten by batch 3"):
        loader.take(dict(meta))                             # ... while batch 0 was still in flight
    small = RingLoader(data, [], workers=1, prefetch=1, cuda=False, slot_bytes=8 * 4000 * 2 - 4)
    whole = small.loader.dataset[(0, first)]                # larger than a slot: its own tensor, as before
    assert "slot" not in whole and _same_batch(whole, data[first])


def test_no_ring_where_a_batch_is_unbounded_or_in_process(packed):
    full = _dataset(packed, InputPolicy("full", None, "repeat", "none"))        # as long as its longest clip
    sampler = BucketBatchSampler([4000] * len(full), full.targets, 8, seed=1)
    assert not isinstance(batch_loader(full, sampler, workers=1, cuda=False), RingLoader)
    capped = _dataset(packed, InputPolicy("full", None, "repeat", "none"), max_samples=9000)
    assert isinstance(batch_loader(capped, sampler, workers=1, cuda=False), RingLoader)
    assert not isinstance(batch_loader(capped, sampler, workers=0, cuda=False), RingLoader)
    assert not isinstance(batch_loader(capped, sampler, workers=1, cuda=False, ring=False), RingLoader)


def test_training_through_a_worker_and_the_ring_ends_with_the_in_process_weights(packed, tmp_path, monkeypatch):
    taken, take = [], RingLoader.take
    monkeypatch.setattr(RingLoader, "take", lambda self, batch: taken.append(1) or take(self, batch))
    runs = [train(_config("batch", num_workers=workers), packed["train"], packed["dev"], root=packed["root"],
                  out_dir=tmp_path / f"w{workers}", progress=False) for workers in (0, 1)]
    assert runs[0].weights_sha256 == runs[1].weights_sha256                # the ring's floats are bit-identical
    assert len(taken) == runs[1].history[0]["train_samples"] // 8 + 1      # every batch came through the ring
