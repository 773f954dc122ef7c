"""Does the loader keep up? Shards (``spoofbench pack``) against decoding the FLAC files, in the same run.

1. Loader throughput: 4-s training crops (fixed input policy, 64,000 samples at 16 kHz) from the demo
   corpus's train + dev sets, by one process with one torch thread (one worker's work without the hand-over)
   and by ``--workers`` DataLoader workers (the main process getting float32 waves as the trainer does):
   the per-clip loader (:class:`spoofbench.engine.data.TrainDataset`, ``data.loader: per_clip``) from the
   FLAC files (``data.pack: off``) and from the pack (``on``), and the batch loader
   (:class:`spoofbench.engine.batch_loader.BatchDataset`, ``data.loader: batch``) from the pack, its workers
   handing batches over through the ring of shared buffers (the trainer's) and, for comparison, torch's own
   way (a fresh shared-memory segment per batch), all in the same run. Target: shards ≥ 10× the FLAC path
   per DataLoader worker.
2. One training epoch of ``rawcnn_2m`` on the demo corpus with the demo's training settings (batch 16,
   one loader worker, one torch thread), from FLAC and from the pack with the per-clip loader, and from the
   pack with the batch loader: wall time and the share of the epoch's training time the model waited for its
   next batch (``data_wait_seconds`` / ``train_seconds`` of the epoch's history row). Target ≤ 5%. The two
   per-clip runs' weights must be identical (the batch loader draws other crops: other weights).
3. Index memory: a synthetic 600,000-clip pack index (300 shards × 2,000 rows, written as
   ``spoofbench pack`` writes them) loaded and looked up for a streamed 600,000-trial manifest, and
   the pack planner over that manifest (every file absent: its worst case, one failure record per
   trial), each in a fresh process; peak RSS. Target < 1 GB.

    .venv/bin/python perf/bench_loader.py [--corpus runs/bench-loader-corpus] [--workers 1] [--seconds 20]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def clips_per_s(dataset, workers: int, seconds: float, batch: int = 16, ring: bool = True) -> tuple[float, int]:
    """Clips/s reading ``dataset`` through a DataLoader (``workers`` processes; 0 = this one) for ~``seconds``.
    A :class:`~spoofbench.engine.batch_loader.BatchDataset` is read a batch per item (the trainer's loader;
    ``ring``: its workers hand batches over through the ring of shared buffers, else torch's own way)."""
    from spoofbench.engine.batch_loader import BatchDataset, batch_loader
    from spoofbench.engine.data import collate_train, worker_init

    index = [(0, i) for i in range(len(dataset))]
    batches = [index[i:i + batch] for i in range(0, len(index), batch)]
    if isinstance(dataset, BatchDataset):
        loader = batch_loader(dataset, batches, workers=workers, cuda=False, ring=ring)
    else:
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                                             collate_fn=collate_train,
                                             worker_init_fn=worker_init if workers else None,
                                             persistent_workers=workers > 0)
    from spoofbench.engine.batch_loader import train_view

    threads = torch.get_num_threads()
    if not workers:
        torch.set_num_threads(1)    # in-process = one worker: one intra-op thread, as worker_init gives a worker
    try:
        for _ in loader:  # warm-up pass: workers started, page cache filled for both paths alike
            break
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for b in loader:
                train_view(b, None, torch.device("cpu"))   # float32 waves as the model gets them (int16 scaled)
                done += int(b["targets"].numel()) + int(b["failed"])
        return done / (time.perf_counter() - start), done
    finally:
        torch.set_num_threads(threads)


_NAMES = {"off": "FLAC, per-clip loader", "on": "pack, per-clip loader", "batch": "pack, batch loader (ring)",
          "batch_noring": "pack, batch loader, torch's hand-over (no ring)"}


def loader_section(corpus, args) -> dict:
    from spoofbench.corpora.manifest import read_manifest
    from spoofbench.engine.batch_loader import BatchDataset
    from spoofbench.engine.config import DataConfig
    from spoofbench.engine.data import TrainDataset, with_pack
    from spoofbench.models.policy import InputPolicy

    trials = [t for name in ("demo_a_train", "demo_a_dev") for t in read_manifest(corpus.manifests[name])]
    policy = InputPolicy(mode="fixed", num_samples=64000)
    out = {"clips": len(trials), "loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
    w = args.workers
    for mode in ("off", "on", "batch", "batch_noring"):
        root = with_pack(corpus.root, 16000, DataConfig(pack="off" if mode == "off" else "on"))
        if mode.startswith("batch"):
            dataset = BatchDataset(trials, root, sample_rate=16000, policy=policy, min_samples=64000, seed=0)
        else:
            dataset = TrainDataset(trials, root, sample_rate=16000, policy=policy, min_samples=64000, train=True,
                                   seed=0)
        for workers in ((w,) if mode == "batch_noring" else (0, w)):   # in-process: no hand-over, no ring
            rate, n = clips_per_s(dataset, workers, args.seconds, ring=mode != "batch_noring")
            out[f"{mode}_w{workers}"] = rate
            print(f"  {_NAMES[mode]}: {workers or 'in-process'} worker(s): {rate:8.1f} clips/s "
                  f"({rate / max(workers, 1):8.1f} per worker, {n} clips)", flush=True)
    out["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    for mode in ("on", "batch", "batch_noring"):
        if mode != "batch_noring":
            out[f"ratio_{mode}_per_worker"] = out[f"{mode}_w0"] / out["off_w0"]
            print(f"  {_NAMES[mode]} / FLAC per-clip, in-process (one worker's work, no hand-over): "
                  f"{out[f'ratio_{mode}_per_worker']:.1f}x")
        out[f"ratio_{mode}_w{w}"] = out[f"{mode}_w{w}"] / out[f"off_w{w}"]
        print(f"  {_NAMES[mode]} / FLAC per-clip, through {w} DataLoader worker(s) (clips/s per worker): "
              f"{out[f'ratio_{mode}_w{w}']:.1f}x")
    print(f"  load average before / after: {' '.join(out['loadavg_before'])} / {' '.join(out['loadavg_after'])}")
    return out


def epoch_section(corpus, tmp: Path) -> dict:
    from spoofbench.corpora.manifest import read_manifest
    from spoofbench.engine import TrainConfig, train

    train_set, dev_set = (list(read_manifest(corpus.manifests[n])) for n in ("demo_a_train", "demo_a_dev"))
    out = {}
    names = {"off": "FLAC, per-clip", "on": "pack, per-clip", "batch": "pack, batch loader"}
    for mode in ("off", "on", "batch"):
        data = {"pack": "on", "loader": "batch"} if mode == "batch" else {"pack": mode}
        cfg = TrainConfig.from_dict({"detector": "rawcnn_2m", "epochs": 1, "batch_size": 16, "eval_batch_size": 32,
                                     "num_workers": 1, "cpu_threads": 1, "seed": 0, "data": data,
                                     "optim": {"lr": 1e-3, "scheduler": "cosine"}})
        start = time.perf_counter()
        result = train(cfg, train_set, dev_set, root=corpus.root, out_dir=tmp / f"epoch_{mode}", progress=False)
        wall = time.perf_counter() - start
        row = result.history[0]
        share = row["data_wait_seconds"] / row["train_seconds"]
        out[mode] = {"wall_s": wall, "train_s": row["train_seconds"], "wait_s": row["data_wait_seconds"],
                     "wait_share": share, "samples_per_s": row["samples_per_s"], "weights": result.weights_sha256}
        print(f"  {names[mode]}: epoch wall {wall:6.2f} s (training {row['train_seconds']:.2f} s, "
              f"{row['samples_per_s']:.1f} clips/s), waiting for data {row['data_wait_seconds']:.2f} s = "
              f"{100 * share:.1f}%", flush=True)
    out["identical_weights"] = out["on"]["weights"] == out["off"]["weights"]
    print(f"  per-clip weights identical (FLAC vs pack): {out['identical_weights']}")
    return out


_CHILD = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from spoofbench.engine.pack import Pack, _plan, PackIndex, PackResult, key_hash, entry_key
from spoofbench.corpora.manifest import read_manifest
what, pack_dir, manifest, root = sys.argv[1:5]

def hwm():  # this process's peak RSS in MB (VmHWM: ru_maxrss would carry the parent's over fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

base = hwm()
t0 = time.perf_counter()
if what == "lookup":
    pack = Pack(pack_dir)
    found, batch = 0, []
    for trial in read_manifest(manifest):
        batch.append(trial)
        if len(batch) == 10000:
            found += int((pack.rows_of(batch) >= 0).sum()); batch = []
    found += int((pack.rows_of(batch) >= 0).sum()) if batch else 0
    extra = {"rows": len(pack), "found": found, "index_bytes": pack.index.nbytes()}
else:
    result = PackResult(Path(pack_dir))
    todo = _plan([manifest], root, PackIndex.load(Path(pack_dir)), result)
    extra = {"trials": result.trials, "failed": len(result.failed), "todo": len(todo)}
print(json.dumps({"peak_rss_mb": hwm(), "before_mb": base, "seconds": time.perf_counter() - t0, **extra}))
"""


def synthetic_index(directory: Path, manifest: Path, n: int, per_shard: int = 2000) -> None:
    """``n`` trials in a manifest and a pack index holding every one (no audio: the index alone)."""
    import gzip

    from spoofbench.engine.pack import ROW, entry_key, key_hash

    (directory / "shards").mkdir(parents=True)
    (directory / "pack.json").write_text(json.dumps({"format": "spoofbench-pack", "version": 1, "sample_rate": 16000,
                                                     "dtype": "auto"}))
    with gzip.open(manifest, "wt", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"LA_T_{i:07d}", "path": f"flac/LA_T_{i:07d}.flac", "label":
                                     "spoof" if i % 10 else "bonafide", "corpus": "synthetic600k", "split": "train"})
                         + "\n")
    for shard, start in enumerate(range(0, n, per_shard)):
        ids = [f"LA_T_{i:07d}" for i in range(start, min(start + per_shard, n))]
        keys = [entry_key("synthetic600k", f"flac/{i}.flac") for i in ids]
        rows = np.zeros(len(ids), ROW)
        rows["key"], rows["shard"], rows["length"] = key_hash(keys), shard, 48000
        rows["offset"] = np.arange(len(ids)) * 96000
        rows["source_rate"], rows["source_samples"] = 16000, 48000
        np.savez(directory / "shards" / f"{shard:05d}.index.npz", rows=rows, ids=np.array([i.encode() for i in ids]),
                 keys=np.array([k.encode() for k in keys]))


def memory_section(tmp: Path, n: int) -> dict:
    pack, manifest = tmp / "pack600k", tmp / "synthetic600k.jsonl.gz"
    start = time.perf_counter()
    synthetic_index(pack, manifest, n)
    print(f"  synthetic manifest + index of {n} trials written in {time.perf_counter() - start:.1f} s")
    out = {}
    for what in ("lookup", "plan"):
        proc = subprocess.run([sys.executable, "-c", _CHILD, what, str(pack), str(manifest), str(tmp / "nowhere")],
                              capture_output=True, text=True, check=True)
        out[what] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  {what}: peak RSS {out[what]['peak_rss_mb']:.0f} MB (interpreter + imports "
              f"{out[what]['before_mb']:.0f} MB) in {out[what]['seconds']:.1f} s  {json.dumps(out[what])}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="runs/bench-loader-corpus", help="demo corpus folder (built if absent)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of the multi-process rows")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per throughput measurement")
    parser.add_argument("--trials", type=int, default=600_000, help="synthetic manifest size for the memory test")
    parser.add_argument("--skip", default="", help="comma list of sections to skip: loader,epoch,memory")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    from spoofbench.demo import build_demo_corpus
    from spoofbench.engine.pack import DEFAULT_DIR, pack_manifests

    figures: dict = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        if not {"loader", "epoch"} <= skip:
            corpus = build_demo_corpus(args.corpus, quick=True, progress=False, workers=1)
            start = time.perf_counter()
            packed = pack_manifests([corpus.manifests[n] for n in ("demo_a_train", "demo_a_dev")], root=corpus.root,
                                    out=corpus.root / DEFAULT_DIR, workers=args.workers, progress=False)
            figures["pack"] = {**packed.to_dict(), "wall_s": time.perf_counter() - start}
            print(f"pack: {packed.trials} clips ({packed.packed} decoded now, {packed.unchanged} already packed) in "
                  f"{figures['pack']['wall_s']:.1f} s")
        if "loader" not in skip:
            print("loader throughput, 4-s crops:")
            figures["loader"] = loader_section(corpus, args)
        if "epoch" not in skip:
            print("one training epoch of rawcnn_2m (demo settings):")
            figures["epoch"] = epoch_section(corpus, Path(tmp))
        if "memory" not in skip:
            print(f"index memory, {args.trials} trials:")
            figures["memory"] = memory_section(Path(tmp), args.trials)
    figures["peak_rss_mb_parent"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
