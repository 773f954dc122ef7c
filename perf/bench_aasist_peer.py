"""Peer benchmark: the official clovaai/aasist evaluation loop vs ``spoofbench score``, whole processes.

For AASIST and AASIST-L (official weights, ../shared/reference/aasist/) on the same real ASVspoof 2019 LA
dev clips, runs back to back, each as its own process:

* **official**: clovaai/aasist's own code, imported from a checkout given with ``--aasist-repo`` (its
  ``models/AASIST.py`` Model, ``data_utils.Dataset_ASVspoof2019_devNeval``, a DataLoader of batch 24 as in its
  ``get_loader``, and the loop of its ``produce_evaluation_file``: ``torch.no_grad``, score = output[:, 1]);
* **spoofbench**: ``spoofbench score --detector aasist|aasist_l --checkpoint ...`` with its defaults.

and the same for ``rawcnn_2m`` (seeded random weights saved as a checkpoint) against a plain PyTorch loop
(soundfile, the detector's input policy, a DataLoader, ``torch.no_grad``) at batch 24, and ``spoofbench
score --batch-size 24``, and ``spoofbench score`` with its defaults. Prints per row the median wall time,
the peak RSS (the largest process, from ``wait4``) and the peak of the process tree's summed PSS
(sampled every 50 ms; loader workers included, pages they share with their parent counted once) and the largest score difference against the reference row; a last row scores ``--clips-80`` real
2019 + 2021 clips (80 by default; the 2021 ones libsndfile cannot decode are read by PyAV) with spoofbench's
defaults, for the RSS target. Nothing is fetched at run time: the official code comes from the checkout.

Getting the official code (commit a04c9863, the one ``expected.json`` was made with)::

    git clone https://github.com/clovaai/aasist /tmp/clovaai-aasist && git -C /tmp/clovaai-aasist checkout a04c9863

A bare git directory (e.g. a mirror) is also accepted: its HEAD is exported to a temporary folder.

    python perf/bench_aasist_peer.py --aasist-repo /tmp/clovaai-aasist [--clips 48] [--repeats 3] \\
        [--models aasist,aasist_l,rawcnn_2m] [--out runs/bench-aasist-peer]
    python perf/bench_aasist_peer.py --ablation [--models aasist] [--ablation-batch 4] [--repeats 2]

``--ablation`` needs no official code: it times each inference-only change to AASIST's forward on its own
row (cumulative, one thread, real clips), then torch.compile (compile time apart) and bf16 autocast.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
SHARED = HERE.parents[2] / "shared"
REFERENCE = SHARED / "reference" / "aasist"
LA19 = SHARED / "corpora" / "asvspoof2019_la_mini"
LA21 = SHARED / "corpora" / "asvspoof2021_samples"
WEIGHTS = {"aasist": ("AASIST.pth", "AASIST.conf"), "aasist_l": ("AASIST-L.pth", "AASIST-L.conf")}
HOW_TO_GET = ("clone it first: git clone https://github.com/clovaai/aasist /tmp/clovaai-aasist && "
              "git -C /tmp/clovaai-aasist checkout a04c9863 ; then --aasist-repo /tmp/clovaai-aasist")


# ---------------------------------------------------------------------------------------------- children

def child_official(args: argparse.Namespace) -> None:
    """The official evaluation loop, with the official code imported from the checkout."""
    sys.path.insert(0, args.repo)
    import torch
    from torch.utils.data import DataLoader

    from data_utils import Dataset_ASVspoof2019_devNeval  # clovaai/aasist
    from models.AASIST import Model  # clovaai/aasist

    config = json.loads(Path(args.conf).read_text())
    model = Model(config["model_config"])
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    ids = Path(args.ids).read_text().split()
    loader = DataLoader(Dataset_ASVspoof2019_devNeval(list_IDs=ids, base_dir=Path(args.base_dir)),
                        batch_size=args.batch, shuffle=False, drop_last=False, pin_memory=True)
    model.eval()
    names, scores = [], []
    for batch_x, utt_id in loader:
        with torch.no_grad():
            _, batch_out = model(batch_x)
            scores.extend(batch_out[:, 1].data.cpu().numpy().ravel().tolist())
        names.extend(utt_id)
    Path(args.scores).write_text("".join(f"{n} {s}\n" for n, s in zip(names, scores)))


def child_plain(args: argparse.Namespace) -> None:
    """A plain PyTorch loop for a spoofbench detector: soundfile, its input policy, DataLoader, no_grad."""
    import soundfile as sf
    import torch
    from torch.utils.data import DataLoader, Dataset

    from spoofbench.models import build_detector

    detector = build_detector(args.detector, None, checkpoint=args.weights).eval()
    ids = Path(args.ids).read_text().split()

    class Clips(Dataset):
        def __len__(self) -> int:
            return len(ids)

        def __getitem__(self, i: int):
            wave, _ = sf.read(str(Path(args.base_dir) / "flac" / f"{ids[i]}.flac"), dtype="float32")
            return detector.input_policy.apply(wave), ids[i]

    names, scores = [], []
    for waves, utt in DataLoader(Clips(), batch_size=args.batch, shuffle=False):
        with torch.no_grad():
            scores.extend(detector.score(waves).tolist())
        names.extend(utt)
    Path(args.scores).write_text("".join(f"{n} {s}\n" for n, s in zip(names, scores)))


# ---------------------------------------------------------------------------------------------- parent

def measure(cmd: list[str], env: dict | None = None) -> tuple[float, int, int]:
    """Run ``cmd`` to the end: (wall seconds, peak RSS of its largest process, peak sampled PSS sum of the process tree)."""
    import psutil

    t0 = time.perf_counter()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    top = psutil.Process(proc.pid)
    tree_peak = 0
    status = rusage = None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            tree = sum(p.memory_full_info().pss for p in [top] + top.children(recursive=True))
            tree_peak = max(tree_peak, tree)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.seek(0)
    err = log.read().decode(errors="replace")
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, rusage.ru_maxrss * 1024, tree_peak


def read_scores(path: Path) -> dict[str, float]:
    return {parts[0]: float(parts[-1]) for parts in (line.split() for line in path.read_text().splitlines())}


def la19_ids(n: int) -> list[str]:
    protocol = LA19 / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
    return [line.split()[1] for line in protocol.read_text().splitlines()][:n]


def write_manifest(path: Path, items: list[tuple[str, str, str]]) -> None:
    """``items``: (id, path relative to the root, label)."""
    from spoofbench.corpora.manifest import Trial
    from spoofbench.corpora.manifest import write_manifest as write

    write(path, [Trial(id=i, path=p, label=label, corpus="asvspoof_peer", split="eval") for i, p, label in items])


def official_source(repo: str, work: Path) -> str:
    """A folder holding the official code: ``repo`` itself, or HEAD of a bare git dir exported."""
    path = Path(repo)
    if (path / "models" / "AASIST.py").is_file():
        return str(path)
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        out = work / "clovaai-aasist"
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", f"--git-dir={path}", "archive", "HEAD"], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(out, filter="data")
        return str(out)
    raise SystemExit(f"--aasist-repo {repo}: no clovaai/aasist checkout there; {HOW_TO_GET}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aasist-repo", help=f"a clovaai/aasist checkout (or bare git dir); {HOW_TO_GET}")
    parser.add_argument("--clips", type=int, default=48, help="2019 LA dev clips per peer row (at most 100)")
    parser.add_argument("--clips-80", type=int, default=80, help="clips of the RSS-target row (2019 + the 10 of 2021)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="aasist,aasist_l,rawcnn_2m")
    parser.add_argument("--batch", type=int, default=24, help="the official loop's (and the plain loop's) batch")
    parser.add_argument("--out", default="runs/bench-aasist-peer")
    parser.add_argument("--ablation", action="store_true",
                        help="instead: each inference-only change on its own row, in-process (first of --models)")
    parser.add_argument("--ablation-batch", type=int, default=4)
    args = parser.parse_args()
    if args.ablation:
        return ablation(args)
    if not args.aasist_repo:
        raise SystemExit(f"--aasist-repo is required; {HOW_TO_GET}")

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    repo = official_source(args.aasist_repo, out)
    ids = la19_ids(args.clips)
    (out / "ids.txt").write_text("\n".join(ids) + "\n")
    dev = LA19 / "ASVspoof2019_LA_dev"
    write_manifest(out / "peer.jsonl", [(i, f"flac/{i}.flac", "bonafide") for i in ids])
    spoofbench = str(Path(sys.executable).with_name("spoofbench"))
    me = [sys.executable, str(HERE), "_child"]

    import torch

    from spoofbench.models import build_detector, save_checkpoint

    rows: list[tuple[str, str, list]] = []   # (model, label, [(wall, rss, tree, maxdiff)])

    def run(model: str, label: str, cmd: list[str], scores: Path, reference: Path | None) -> None:
        wall, rss, tree = measure(cmd)
        diff = None
        if reference is not None:
            a, b = read_scores(reference), read_scores(scores)
            if a.keys() != b.keys():
                raise SystemExit(f"{label}: scored other trials than the reference ({len(a)} vs {len(b)})")
            diff = max(abs(a[k] - b[k]) for k in a)
        for row in rows:
            if row[0] == model and row[1] == label:
                row[2].append((wall, rss, tree, diff))
                break
        else:
            rows.append((model, label, [(wall, rss, tree, diff)]))
        print(f"  {model:9s} {label:34s} {wall:7.1f} s  peak RSS {rss / 2**30:5.2f} GiB (tree PSS {tree / 2**30:5.2f})"
              + (f"  max |Δscore| {diff:.2g}" if diff is not None else ""), flush=True)

    models = args.models.split(",")
    if "rawcnn_2m" in models:
        torch.manual_seed(0)
        save_checkpoint(build_detector("rawcnn_2m").eval(), out / "rawcnn_2m.pt")
    for rep in range(args.repeats):
        print(f"repeat {rep + 1} of {args.repeats}", flush=True)
        for model in models:
            if model in WEIGHTS:
                weights, conf = (str(REFERENCE / f) for f in WEIGHTS[model])
                ref = out / f"{model}_official.txt"
                run(model, "official loop (batch %d)" % args.batch,
                    me + ["official", "--repo", repo, "--conf", conf, "--weights", weights, "--ids", str(out / "ids.txt"),
                          "--base-dir", str(dev), "--batch", str(args.batch), "--scores", str(ref)], ref, None)
                sb = out / f"{model}_spoofbench"
                run(model, "spoofbench score (defaults)",
                    [spoofbench, "-q", "score", "--detector", model, "--checkpoint", weights, "--manifest",
                     str(out / "peer.jsonl"), "--root", str(dev), "--out", str(sb), "--no-resume", "--no-progress"],
                    sb / "peer__none.txt", ref)
            else:
                weights = str(out / f"{model}.pt")
                ref = out / f"{model}_plain.txt"
                run(model, "plain PyTorch loop (batch %d)" % args.batch,
                    me + ["plain", "--detector", model, "--weights", weights, "--ids", str(out / "ids.txt"),
                          "--base-dir", str(dev), "--batch", str(args.batch), "--scores", str(ref)], ref, None)
                for label, extra in ((f"spoofbench score --batch-size {args.batch}", ["--batch-size", str(args.batch)]),
                                     ("spoofbench score (defaults)", [])):
                    sb = out / f"{model}_spoofbench{'_b' if extra else ''}"
                    run(model, label, [spoofbench, "-q", "score", "--detector", model, "--checkpoint", weights,
                                       "--manifest", str(out / "peer.jsonl"), "--root", str(dev), "--out", str(sb),
                                       "--no-resume", "--no-progress", *extra], sb / "peer__none.txt", ref)
    if args.clips_80 and "aasist" in models:
        n21 = sorted(p.name for p in (LA21 / "flac").glob("*.flac"))
        n19 = la19_ids(max(args.clips_80 - len(n21), 0))
        items = [(i, f"asvspoof2019_la_mini/ASVspoof2019_LA_dev/flac/{i}.flac", "bonafide") for i in n19]
        items += [(n[:-5], f"asvspoof2021_samples/flac/{n}", "bonafide") for n in n21][:args.clips_80 - len(items)]
        write_manifest(out / "clips80.jsonl", items)
        sb = out / "aasist_80"
        run("aasist", f"spoofbench score (defaults), {len(items)} clips",
            [spoofbench, "-q", "score", "--detector", "aasist", "--checkpoint", str(REFERENCE / "AASIST.pth"),
             "--manifest", str(out / "clips80.jsonl"), "--root", str(SHARED / "corpora"), "--out", str(sb),
             "--no-resume", "--no-progress"], sb / "clips80__none.txt", None)
        summary = json.loads((sb / "clips80__none.json").read_text())
        print(f"    ({summary['n_scored']} of {summary['n_expected']} scored; memory plan: {summary.get('memory')})")

    print(f"\nmedian of {args.repeats} (whole processes, back to back; {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {len(ids)} clips per peer row)")
    print("| model | row | wall (s) | peak RSS, largest process (GiB) | peak PSS, process tree (GiB) | "
          "max abs score diff | speed-up |")
    print("|---|---|---|---|---|---|---|")
    baseline: dict[str, float] = {}
    for model, label, runs in rows:
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        tree = statistics.median(r[2] for r in runs)
        diffs = [r[3] for r in runs if r[3] is not None]
        first = model not in baseline
        baseline.setdefault(model, wall)
        versus = ("(reference)", "") if first else ((f"{max(diffs):.2g}", f"{baseline[model] / wall:.2f}x")
                                                    if diffs else ("-", "-"))
        print(f"| {model} | {label} | {wall:.1f} | {rss / 2**30:.2f} | {tree / 2**30:.2f} | {versus[0]} | {versus[1]} |")


# ---------------------------------------------------------------------------------------------- ablation

def ablation(args: argparse.Namespace) -> None:
    """Each inference-only change to AASIST's forward on its own row (cumulative), in this process, one
    thread, a batch of real clips: forward seconds (best of ``--repeats``) and max |score - eval forward|.
    Then torch.compile (its compile time apart) and bf16 autocast, each on top of the final path."""
    import soundfile as sf
    import torch
    import torch.nn.functional as F

    from spoofbench.models import build_detector
    from spoofbench.models.aasist import _channels_last, _max_pool_time, _one_channel_conv, fold_batchnorm

    torch.set_num_threads(1)
    model = args.models.split(",")[0]
    detector = build_detector(model, None, checkpoint=REFERENCE / WEIGHTS[model][0]).eval()
    waves = torch.stack([detector.input_policy.apply(sf.read(str(LA19 / "ASVspoof2019_LA_dev" / "flac" / f"{i}.flac"),
                                                                dtype="float32")[0])
                         for i in la19_ids(args.ablation_batch)])

    def block(b, x, fold, inplace, cl, onech, gpool):
        w = (lambda t: _channels_last(t)) if cl else (lambda t: t)
        down = b.conv_downsample
        if fold:
            weight, bias = fold_batchnorm(b.conv1, b.bn2)
        if onech and x.shape[1] == 1 and down is not None:
            out = torch.selu_(_one_channel_conv(x, weight, bias, b.conv1.padding))
            out = F.conv2d(out, w(b.conv2.weight), b.conv2.bias + down.bias, padding=b.conv2.padding)
            _one_channel_conv(x, down.weight, None, down.padding, accumulate=out)
        else:
            out = (F.conv2d(x, w(weight), bias, padding=b.conv1.padding) if fold
                   else b.bn2(F.conv2d(x, w(b.conv1.weight), b.conv1.bias, padding=b.conv1.padding)))
            out = torch.selu_(out) if inplace else F.selu(out)
            out = F.conv2d(out, w(b.conv2.weight), b.conv2.bias, padding=b.conv2.padding)
            skip = F.conv2d(x, w(down.weight), down.bias, padding=down.padding) if down is not None else x
            out = out.add_(skip) if inplace else out + skip
        return _max_pool_time(out, b.pool.kernel_size) if gpool else b.pool(out)

    def variant(**flags):
        def run(x):
            h = detector.conv_time(x[:, None, :])
            h = detector.act(detector.first_bn(F.max_pool2d(h.abs()[:, None], (3, 3))))
            if flags.get("cl"):
                h = h.contiguous(memory_format=torch.channels_last)
            for seq in detector.encoder:
                h = block(seq[0], h, **flags)
            return detector.out_layer(detector.graph_readout(h.contiguous()))[:, 1]
        return run

    off = dict(fold=False, inplace=False, cl=False, onech=False, gpool=False)
    rows = [("eval forward under no_grad (the layer-by-layer path)", "no_grad", variant(**off)),
            ("+ torch.inference_mode", "inference", variant(**off)),
            ("+ BN folded into conv1, SELU and residual sum in place", "inference", variant(**{**off, "fold": True, "inplace": True})),
            ("+ channels-last convolutions", "inference", variant(**{**off, "fold": True, "inplace": True, "cl": True})),
            ("+ first block as matrix products, shortcut accumulated", "inference",
             variant(fold=True, inplace=True, cl=True, onech=True, gpool=False)),
            ("+ time max-pool as a grouped max (= spoofbench now)", "inference", lambda x: detector.score(x))]

    def timed(fn, mode, autocast=False):
        best, out = float("inf"), None
        for _ in range(args.repeats):
            ctx = torch.no_grad() if mode == "no_grad" else torch.inference_mode()
            with ctx, torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                t0 = time.perf_counter()
                out = fn(waves).float()
                best = min(best, time.perf_counter() - t0)
        return best, out

    print(f"{model}: {len(waves)} real clips, one thread, best of {args.repeats}; torch {torch.__version__}")
    print("| change (cumulative) | forward (s) | vs first row | max abs score diff |")
    print("|---|---|---|---|")
    timed(rows[0][2], rows[0][1])  # warm-up (first-call allocations, oneDNN primitive caches)
    base_time = reference = None
    for label, mode, fn in rows:
        seconds, out = timed(fn, mode)
        if reference is None:
            base_time, reference = seconds, out
        print(f"| {label} | {seconds:.2f} | {base_time / seconds:.2f}x | {(out - reference).abs().max():.2g} |",
              flush=True)
    t0 = time.perf_counter()
    compiled = torch.compile(lambda x: detector.score(x))
    with torch.inference_mode():
        compiled(waves)  # the first call compiles
    compile_s = time.perf_counter() - t0
    seconds, out = timed(compiled, "inference")
    print(f"| torch.compile on top (first call incl. compiling: {compile_s:.1f} s) | {seconds:.2f} | "
          f"{base_time / seconds:.2f}x | {(out - reference).abs().max():.2g} |", flush=True)
    seconds, out = timed(lambda x: detector.score(x), "inference", autocast=True)
    print(f"| bf16 autocast on top (opt-in: precision bf16) | {seconds:.2f} | {base_time / seconds:.2f}x | "
          f"{(out - reference).abs().max():.2g} |", flush=True)


def child_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("official", "plain"))
    for name in ("--repo", "--conf", "--weights", "--ids", "--base-dir", "--scores", "--detector"):
        parser.add_argument(name)
    parser.add_argument("--batch", type=int, default=24)
    args = parser.parse_args(sys.argv[2:])
    (child_official if args.mode == "official" else child_plain)(args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main()
    else:
        main()
