"""Neural-codec coding clip by clip against batched, in one process: clips/s through EnCodec 24 kHz.

The real architecture (``EncodecModel.encodec_model_24khz(pretrained=False)``, built by the encodec
package) with random weights (codebooks random too), saved as a state dict to a temporary folder and
loaded through spoofbench's loading code, as a ``neural`` channel condition at ``--bandwidth`` kbit/s.
``--clips`` synthetic speech-like clips of ``--min-s``..``--max-s`` s at 16 kHz (seeded) are coded

* **per clip**: ``apply_condition`` once per clip (one forward pass each: what scoring did before);
* **batched**: one ``apply_condition_batch`` call (``--max-batch`` clips per forward pass, sorted by
  length, each padded to its pass's longest clip: what scoring does now for a pool of clips);

in groups of ``--max-batch`` clips, the two ways alternating which goes first, after one warm-up clip (the model is built once and cached). No codec cache. Prints clips/s and audio
seconds per second of each, the speed-up, the largest sample difference between the two (float summation
order only) and /proc/loadavg before and after (the machine may be shared: say so with the figures).

    python perf/bench_neural_batch.py [--clips 32] [--min-s 2] [--max-s 4] [--max-batch 32] [--threads 0]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RATE = 16000


def _weights(folder: Path) -> Path:
    """A random EnCodec 24 kHz checkpoint of the real architecture (the tests' builder, seed 0)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from neural_weights import save_encodec_24khz

    return save_encodec_24khz(folder, seed=0)


def _clips(n: int, low: float, high: float) -> list[np.ndarray]:
    """Harmonic tones under a syllable-rate envelope plus a little noise: speech-like spectra, seeded."""
    rng = np.random.default_rng(7)
    out = []
    for _ in range(n):
        t = np.arange(int(rng.uniform(low, high) * RATE)) / RATE
        f0 = rng.uniform(90, 240)
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) for k in range(1, 12))
        x = x * (0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)) + 0.01 * rng.standard_normal(len(t))
        out.append((0.5 * x / np.abs(x).max()).astype(np.float32))
    return out


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _timed(clips, keys, cond, max_batch: int):
    """Both ways, one group of ``max_batch`` clips at a time, the first way alternating per group, so a
    change of the machine's load during the run falls on both about equally."""
    from spoofbench.codecs import apply_condition, apply_condition_batch

    single, batched, per_clip, batch_s = [], [], 0.0, 0.0
    for g, start in enumerate(range(0, len(clips), max_batch)):
        part, names = clips[start:start + max_batch], keys[start:start + max_batch]
        for way in ((0, 1) if g % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            if way == 0:
                single += [apply_condition(c, RATE, cond, key=k) for c, k in zip(part, names)]
                per_clip += time.perf_counter() - t0
            else:
                batched += apply_condition_batch(part, RATE, cond, names, max_batch=max_batch)
                batch_s += time.perf_counter() - t0
    return single, batched, per_clip, batch_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--min-s", type=float, default=2.0)
    ap.add_argument("--max-s", type=float, default=4.0)
    ap.add_argument("--bandwidth", type=float, default=6.0)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where the neural step codes (cuda: the case scoring batches; needs a GPU)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from spoofbench.codecs import apply_condition
    from spoofbench.codecs.channel import channel_from_dict

    clips = _clips(args.clips, args.min_s, args.max_s)
    keys = [f"clip{i:03d}" for i in range(len(clips))]
    audio_s = sum(len(c) for c in clips) / RATE
    with tempfile.TemporaryDirectory() as tmp:
        cond = channel_from_dict({"id": "bench_encodec", "steps": [
            {"kind": "neural", "model": "encodec_24khz", "bandwidth": args.bandwidth, "weights": str(_weights(Path(tmp))),
             "device": args.device}]})
        apply_condition(clips[0][:RATE], RATE, cond, key="warm-up")  # builds and caches the model
        print(f"device {args.device}; load before: {_loadavg()}; torch threads {torch.get_num_threads()}; "
              f"{len(clips)} clips, {audio_s:.1f} s of audio")
        single, batched, per_clip, batch_s = _timed(clips, keys, cond, args.max_batch)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(single, batched))
    for name, seconds in (("per clip", per_clip), (f"batched ({args.max_batch}/pass)", batch_s)):
        print(f"{name:>20}: {seconds:7.2f} s  {len(clips) / seconds:6.2f} clips/s  "
              f"{audio_s / seconds:6.1f} audio s/s")
    print(f"speed-up {per_clip / batch_s:.2f}x; largest sample difference {diff:.2e}; load after: {_loadavg()}")


if __name__ == "__main__":
    main()
