"""Scoring throughput of every detector: 4-s clips per second, batch 32 vs one clip at a time.

Both runs happen in the same process, on the same clips, under ``torch.inference_mode`` in eval mode,
through ``Detector.score`` with each detector's input policy (fixed-window models see 64,600
samples). SSL pipelines are built with a random-init upstream of the real architecture: throughput
does not depend on the weights values. ``lfcc_gmm`` gets random 512-component mixtures (same cost as
fitted ones). Real-time factor = processing seconds per second of audio (lower is faster).

    python perf/bench_models.py                       # every detector, CPU
    python perf/bench_models.py --detectors aasist rawcnn_2m --device cuda --autocast bf16
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import platform
import time

import torch

from spoofbench.models import DETECTORS, build_detector, count_parameters
from spoofbench.models.base import DetectorFamily

CLIP_SECONDS = 4.0
DEFAULT = ["rawcnn_2m", "aasist", "aasist_l", "rawnet2", "lfcc_lcnn", "lfcc_gmm", "wavlm_base",
           "wavlm_large", "wavlm_large_aasist"]


def build(name: str, device: str):
    builder = DETECTORS.get(name)
    overrides = {}
    if isinstance(builder, DetectorFamily) and "random_init" in {f.name for f in dataclasses.fields(builder.config_cls)}:
        overrides["random_init"] = True
    with torch.random.fork_rng():
        torch.manual_seed(0)
        detector = build_detector(name, **overrides)
        if detector.training_mode == "fit":  # random mixtures: same scoring cost as fitted ones
            for cls in ("bonafide", "spoof"):
                getattr(detector, f"{cls}_means").normal_()
                getattr(detector, f"{cls}_log_weights").fill_(-torch.log(torch.tensor(
                    float(detector.config.gmm_components))))
            detector.fitted.fill_(True)
    return detector.eval().to(device)


def timed(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench(name: str, batch_size: int, singles: int, device: str, autocast: str | None) -> dict:
    detector = build(name, device)
    g = torch.Generator().manual_seed(0)
    raw = 0.1 * torch.randn(batch_size, int(CLIP_SECONDS * detector.sample_rate), generator=g)
    clips = torch.stack([detector.input_policy.apply(w) for w in raw]).to(device)
    lengths = torch.full((batch_size,), clips.shape[1], dtype=torch.int64, device=device)
    ctx = (torch.autocast(device.split(":")[0], dtype=getattr(torch, {"bf16": "bfloat16", "fp16": "float16"}[autocast]))
           if autocast else contextlib.nullcontext())
    with torch.inference_mode(), ctx:
        detector.score(clips[:1], lengths[:1])  # warm-up
        t_batch = timed(lambda: detector.score(clips, lengths), device)
        t_single = timed(lambda: [detector.score(clips[i:i + 1], lengths[i:i + 1]) for i in range(singles)], device)
    batched, single = batch_size / t_batch, singles / t_single
    return {"name": name, "params": count_parameters(detector), "batched": batched, "single": single,
            "ratio": batched / single, "rtf_batched": 1 / (batched * CLIP_SECONDS),
            "rtf_single": 1 / (single * CLIP_SECONDS)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detectors", nargs="*", default=DEFAULT)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--singles", type=int, default=8, help="clips scored one at a time (baseline)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--autocast", choices=["bf16", "fp16"], default=None)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}, autocast {args.autocast}")
    print(f"| detector | parameters | clips/s batch {args.batch_size} | clips/s one at a time | ratio "
          "| RTF batch | RTF single |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.detectors:
        r = bench(name, args.batch_size, args.singles, args.device, args.autocast)
        print(f"| {r['name']} | {r['params']:,} | {r['batched']:.2f} | {r['single']:.2f} | {r['ratio']:.2f}x "
              f"| {r['rtf_batched']:.4f} | {r['rtf_single']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
