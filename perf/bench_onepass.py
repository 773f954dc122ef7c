"""Full-matrix scoring as it was ("before") and as it is now, side by side on the demo corpus.

Scores the demo's test sets through codec conditions three times in this process, with the same
rawcnn_2m weights:

* **before**: ``score(..., one_pass=False)`` (a DataLoader and a decode of every clip per condition)
  with the earlier inference forward (``textbook_logits`` below: SELU before the front-end's
  max-pool, out-of-place SELUs), i.e. the engine and model as they were;
* **per condition**: the same engine with today's forward (SELU after the max-pool, in place);
* **one pass**: ``score(..., one_pass=True)`` (each clip decoded once and coded through every
  condition in the same worker) with today's forward: what ``spoofbench score/run/demo`` do now.

Prints wall time, CPU utilisation (this process and its DataLoader workers, as a share of all
cores) and the speed-ups against "before", and checks that all three wrote byte-identical score
files when one worker is used (several workers interleave lines differently; the lines are then
compared as sets). The defaults are the demo's scoring settings (batch 16, one worker, torch's
default thread count).

The demo corpus is built (``spoofbench.demo``, quick sizes unless ``--small``) into ``--corpus``
when it is not there. No codec cache is used, so both runs do all the coding.

    python perf/bench_onepass.py [--corpus runs/bench-onepass-corpus] [--small] \\
        [--codecs none,mp3_32k,opus_12k,g711_mulaw,gsm_fr] [--workers 1] [--batch 16] [--threads 0]
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import tempfile
import time
import types
from pathlib import Path

import torch

from spoofbench.demo import QUICK_SIZES, DemoSizes, build_demo_corpus
from spoofbench.engine import ScoreConfig, score
from spoofbench.models import build_detector
from spoofbench.models.layers import frame_mask

TEST_SETS = ("demo_a_eval", "demo_b_eval")
SMALL = DemoSizes(4, 8, 4, 8, 12, 24, 12, 24)


def textbook_logits(model, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """rawcnn_2m's inference forward as it was: BN → SELU → max-pool, every SELU out of place."""
    x = torch.nn.functional.max_pool1d(torch.selu(model.front_bn(model.front(waves[:, None, :]))), 3)
    for block in model.blocks:
        out = block.conv1(torch.selu(block.bn1(x)))
        out = block.conv2(torch.selu(block.bn2(out)))
        x = block.pool(out + block.skip(x))
    return model.head(model.pool(x, frame_mask(model._frames(lengths), x.shape[-1])))


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(detector, manifests: dict, root: Path, out: Path, codecs: tuple[str, ...], one_pass: bool,
        args: argparse.Namespace) -> tuple[float, float]:
    """Score every test set; returns (wall seconds, CPU utilisation of all cores)."""
    cfg = ScoreConfig(codecs=codecs, batch_size=args.batch, num_workers=args.workers, cpu_threads=args.threads,
                      device="cpu", resume=False)
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    for name in TEST_SETS:
        score(detector, manifests[name], root=root, out_dir=out, testset=name, config=cfg, progress=False,
              one_pass=one_pass)
    wall = time.perf_counter() - t0
    return wall, (_cpu_seconds() - cpu0) / (wall * (os.cpu_count() or 1))


def compare(a: Path, b: Path, ordered: bool) -> int:
    """Score files of ``a`` and ``b`` that differ (byte for byte, or as sets of lines)."""
    differ = 0
    for path in sorted(a.glob("*.txt")):
        x, y = path.read_text(), (b / path.name).read_text()
        differ += (x != y) if ordered else (sorted(x.splitlines()) != sorted(y.splitlines()))
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="runs/bench-onepass-corpus")
    parser.add_argument("--small", action="store_true", help="a small demo corpus (36 clips per test set)")
    parser.add_argument("--codecs", default="none,mp3_32k,opus_12k,g711_mulaw,gsm_fr")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads while scoring; 0 = torch's default")
    args = parser.parse_args()
    codecs = tuple(args.codecs.split(","))

    corpus = build_demo_corpus(args.corpus, quick=True, sizes=SMALL if args.small else QUICK_SIZES, progress=False)
    torch.manual_seed(0)
    detector = build_detector("rawcnn_2m").eval()
    clips = sum(sum(corpus.counts[name].values()) for name in TEST_SETS)
    print(f"demo corpus {corpus.root}: {clips} test clips × {len(codecs)} conditions ({', '.join(codecs)}); "
          f"rawcnn_2m, batch {args.batch}, {args.workers} worker(s), {args.threads} thread(s), "
          f"{os.cpu_count()} cores")
    before = copy.deepcopy(detector)
    before.logits = types.MethodType(textbook_logits, before)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, model, one_pass in (("before", before, False), ("per condition", detector, False),
                                       ("one pass", detector, True)):
            out = Path(tmp) / label.replace(" ", "_")
            results[label] = run(model, corpus.manifests, corpus.root, out, codecs, one_pass, args)
            wall, util = results[label]
            cpu = util * wall * (os.cpu_count() or 1)
            print(f"{label:14s} wall {wall:7.2f} s   CPU {cpu:7.2f} s = {100 * util:5.1f}% of all cores   "
                  f"{clips * len(codecs) / wall:6.1f} clip-conditions/s   "
                  f"{results['before'][0] / wall:5.2f}x before")
        differ = sum(compare(Path(tmp) / "before", Path(tmp) / other, ordered=args.workers <= 1)
                     for other in ("per_condition", "one_pass"))
    speedup = results["before"][0] / results["one pass"][0]
    print(f"speed-up of one pass (today) over before: {speedup:.2f}x; score files that differ: {differ}")


if __name__ == "__main__":
    main()
