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
    args = parser.parse_args()
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
