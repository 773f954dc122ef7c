"""EER + minDCF of 10 million scores against a bare ``np.sort`` bound measured in the same run.

Run: ``.venv/bin/python perf/bench_metrics.py [--n 10000000] [--repeats 3]``. Prints the best of
``--repeats`` timings of each step and the ratio of EER + minDCF to sorting the scores once.
The full-curve path (what plots and bootstrap use) and the official argsort-based algorithm are
timed too, for reference.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from spoofbench.metrics import SortedScores, compute_metrics
from spoofbench.metrics.dcf import min_dcf_from_sorted
from spoofbench.metrics.dcf import ASVSPOOF5
from spoofbench.metrics.det import det_curve, eer_from_curve, eer_from_sorted, min_cost_from_curve


def best_of(repeats: int, function):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def official_eer(bona: np.ndarray, spoof: np.ndarray) -> float:
    """The ASVspoof 2019/2021 algorithm: one argsort with labels, a point per sorted score."""
    scores = np.concatenate((bona, spoof))
    labels = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))[np.argsort(scores, kind="mergesort")]
    bona_sums = np.cumsum(labels)
    frr = np.concatenate(([0.0], bona_sums / bona.size))
    far = np.concatenate(([1.0], (spoof.size - (np.arange(1, labels.size + 1) - bona_sums)) / spoof.size))
    index = np.argmin(np.abs(frr - far))
    return float((frr[index] + far[index]) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="number of scores")
    parser.add_argument("--bonafide-share", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_bona = int(args.n * args.bonafide_share)
    scores = np.concatenate([rng.normal(2.0, 1.0, n_bona), rng.normal(0.0, 1.0, args.n - n_bona)])
    labels = np.concatenate([np.ones(n_bona, dtype=np.int8), np.zeros(args.n - n_bona, dtype=np.int8)])
    bona, spoof = scores[labels == 1], scores[labels == 0]
    print(f"{args.n:,} scores ({n_bona:,} bona fide), numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, best of {args.repeats}")

    bound, _ = best_of(args.repeats, lambda: np.sort(scores))

    def eer_and_min_dcf():
        sorted_scores = SortedScores.from_classes(bona, spoof)  # validates and sorts each class
        return eer_from_sorted(sorted_scores), min_dcf_from_sorted(sorted_scores)

    ours, ((eer, _), (min_dcf, _)) = best_of(args.repeats, eer_and_min_dcf)
    full, curve = best_of(1, lambda: det_curve(bona, spoof))
    official, official_value = best_of(1, lambda: official_eer(bona, spoof))
    everything, metrics = best_of(1, lambda: compute_metrics(scores, labels))
    assert eer_from_curve(curve)[0] == eer, "fast and full-curve EER differ"
    assert min_cost_from_curve(curve, ASVSPOOF5.cost)[0] / ASVSPOOF5.normaliser == min_dcf, \
        "fast and full-curve minDCF differ"
    print(f"np.sort bound (all scores)      {bound:7.3f} s")
    print(f"EER + minDCF (spoofbench)       {ours:7.3f} s   ratio to bound {ours / bound:5.2f}x   "
          f"EER {eer:.6f}  minDCF {min_dcf:.6f}")
    print(f"full tie-safe DET curve         {full:7.3f} s   ratio to bound {full / bound:5.2f}x")
    print(f"official argsort EER algorithm  {official:7.3f} s   ratio to bound {official / bound:5.2f}x   "
          f"EER {official_value:.6f}")
    print(f"compute_metrics (all metrics)   {everything:7.3f} s   ratio to bound {everything / bound:5.2f}x   "
          f"AUC {metrics['auc']:.6f}  minCllr {metrics['min_cllr']:.4f}")


if __name__ == "__main__":
    main()
