"""Full-matrix scoring as it was ("before") and as it is now, side by side on the demo corpus.

Scores the demo's test sets through codec conditions four times in this process, same rawcnn_2m weights:

* **before**: one ``score`` call per condition (a DataLoader and a decode of every clip per condition),
  the earlier inference forward (``textbook_logits`` below: SELU before the front-end's max-pool,
  out-of-place SELUs), one batch at a time on all torch threads, the demo's one loader worker then;
* **one pass**: one ``score`` call (each clip decoded once and coded through every condition in the
  same worker) with today's forward (SELU after the max-pool, in place);
* **+ streams**: as many batches at once as torch threads, each single-threaded (``ScoreConfig.streams``);
* **+ N workers**: and the demo's loader workers now (``--workers-now``): what ``spoofbench demo`` does.

Prints wall time, CPU utilisation (this process and its DataLoader workers, as a share of all
cores) and the speed-ups against "before", then compares each row's score files with "before":
"one pass" must be byte-identical (same arithmetic); single-threaded streams change the last bits
(a convolution split over two threads sums in another order), so their largest score difference is
printed; with several workers the lines' order follows the workers' interleaving.

The demo corpus is built (``spoofbench.demo``, quick sizes unless ``--small``) into ``--corpus``
when it is not there. No codec cache is used, so every row does all the coding.

    python perf/bench_onepass.py [--corpus runs/bench-onepass-corpus] [--small] \\
        [--codecs none,mp3_32k,opus_12k,g711_mulaw,gsm_fr] [--workers 1] [--workers-now 2] [--batch 16] [--threads 0]
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import tempfile
import time
import types
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Setting:
    """One row: engine (one pass or a pass per condition), forward, scoring streams, loader workers."""
    label: str
    one_pass: bool
    textbook: bool
    streams: int      # 1: one batch at a time on all threads; 0: as many as threads, one thread each
    workers: int


def run(detector, manifests: dict, root: Path, out: Path, codecs: tuple[str, ...], setting: Setting,
        args: argparse.Namespace) -> tuple[float, float]:
    """Score every test set; returns (wall seconds, CPU utilisation of all cores)."""
    cfg = ScoreConfig(codecs=codecs, batch_size=args.batch, num_workers=setting.workers, cpu_threads=args.threads,
                      device="cpu", resume=False, streams=setting.streams)
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    for name in TEST_SETS:
        if setting.one_pass:
            score(detector, manifests[name], root=root, out_dir=out, testset=name, config=cfg, progress=False)
        else:  # the earlier engine: a pass (a DataLoader, a decode of every clip) per condition
            for codec in codecs:
                score(detector, manifests[name], root=root, out_dir=out, testset=name,
                      config=replace(cfg, codecs=(codec,)), progress=False)
    wall = time.perf_counter() - t0
    return wall, (_cpu_seconds() - cpu0) / (wall * (os.cpu_count() or 1))


def read(path: Path) -> dict[str, float]:
    return {utt: float(value) for utt, value in (line.split() for line in path.read_text().splitlines())}


def compare(a: Path, b: Path) -> tuple[int, int, float]:
    """(files whose bytes differ, files whose trials differ, largest |score difference|) of ``a`` vs ``b``."""
    differ_bytes = differ_trials = 0
    largest = 0.0
    for path in sorted(a.glob("*.txt")):
        x, y = path.read_bytes(), (b / path.name).read_bytes()
        differ_bytes += x != y
        sx, sy = read(path), read(b / path.name)
        differ_trials += sx.keys() != sy.keys()
        largest = max([largest] + [abs(sx[k] - sy[k]) for k in sx.keys() & sy.keys()])
    return differ_bytes, differ_trials, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="runs/bench-onepass-corpus")
    parser.add_argument("--small", action="store_true", help="a small demo corpus (36 clips per test set)")
    parser.add_argument("--codecs", default="none,mp3_32k,opus_12k,g711_mulaw,gsm_fr")
    parser.add_argument("--workers", type=int, default=1, help="loader workers of the 'before' rows (the demo's then)")
    parser.add_argument("--workers-now", type=int, default=2, help="loader workers of the demo's scoring now")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads while scoring; 0 = torch's default")
    args = parser.parse_args()
    codecs = tuple(args.codecs.split(","))

    corpus = build_demo_corpus(args.corpus, quick=True, sizes=SMALL if args.small else QUICK_SIZES, progress=False)
    torch.manual_seed(0)
    detector = build_detector("rawcnn_2m").eval()
    clips = sum(sum(corpus.counts[name].values()) for name in TEST_SETS)
    print(f"demo corpus {corpus.root}: {clips} test clips × {len(codecs)} conditions ({', '.join(codecs)}); "
          f"rawcnn_2m, batch {args.batch}, torch threads {args.threads or torch.get_num_threads()}, "
          f"{os.cpu_count()} cores")
    before = copy.deepcopy(detector)
    before.logits = types.MethodType(textbook_logits, before)
    settings = [Setting("before", False, True, 1, args.workers),
                Setting("one pass", True, False, 1, args.workers),
                Setting("+ streams", True, False, 0, args.workers),
                Setting(f"+ {args.workers_now} workers", True, False, 0, args.workers_now)]
    with tempfile.TemporaryDirectory() as tmp:
        walls = {}
        for setting in settings:
            out = Path(tmp) / setting.label.replace(" ", "_")
            wall, util = run(before if setting.textbook else detector, corpus.manifests, corpus.root, out, codecs,
                             setting, args)
            walls[setting.label] = wall
            print(f"{setting.label:14s} ({setting.workers} worker(s), streams {setting.streams or 'auto'}) "
                  f"wall {wall:6.2f} s  CPU {util * wall * (os.cpu_count() or 1):6.2f} s = {100 * util:5.1f}% of all "
                  f"cores  {clips * len(codecs) / wall:5.1f} clip-conditions/s  {walls['before'] / wall:4.2f}x before")
        for setting in settings[1:]:
            differ_bytes, differ_trials, largest = compare(Path(tmp) / "before",
                                                           Path(tmp) / setting.label.replace(" ", "_"))
            print(f"score files of '{setting.label}' vs 'before': {differ_bytes} differ in bytes, "
                  f"{differ_trials} in trials; largest |score difference| {largest:.2g}")


if __name__ == "__main__":
    main()
