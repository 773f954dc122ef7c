"""``spoofbench train``: train a detector and select it on dev EER (thin over spoofbench.engine)."""
from __future__ import annotations

import argparse
import contextlib
import errno
import os
from typing import Iterator

from spoofbench.cli import add_device_option, command_parser
from spoofbench.errors import SpoofbenchError
from spoofbench.logs import context_logger


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(
        subparsers, "train", help="train a detector on a protocol's train set, selecting on dev EER",
        example="""
        # the demo corpus: written by `spoofbench demo --quick` into runs/demo-quick/corpus
        # several GPUs (or CPU processes on gloo): DistributedDataParallel, rank 0 writes the run dir
        torchrun --nproc_per_node 2 -m spoofbench train --detector rawcnn_2m --protocol \\
            data_manifests/demo/protocol.yaml --manifests-dir runs/demo-quick/corpus --root runs/demo-quick/corpus --out runs/rawcnn_ddp
        spoofbench train --detector rawcnn_2m --preset tiny --train-manifest runs/demo-quick/corpus/demo_a_train.jsonl.gz \\
            --dev-manifest runs/demo-quick/corpus/demo_a_dev.jsonl.gz --root runs/demo-quick/corpus --out runs/rawcnn_demo --epochs 5 --resume
        spoofbench train --detector rawcnn_2m --preset tiny --protocol data_manifests/demo/protocol.yaml --manifests-dir runs/demo-quick/corpus --root runs/demo-quick/corpus --out runs/rawcnn_protocol --epochs 5""")
    p.add_argument("--detector", help="detector name (spoofbench models); may come from --config")
    p.add_argument("--model-module", dest="detector", metavar="PKG.MODULE:FACTORY",
                   help="instead of --detector: a detector from your own module (the contract: README.md, "
                        "'Bring your own detector'); checked (build, probe batch, checkpoint reload) first")
    p.add_argument("--preset", help="detector preset (default: the detector's default)")
    p.add_argument("--protocol", help="protocol YAML whose train/dev sets are used")
    p.add_argument("--manifests-dir", help="where the protocol's manifests live (default: the protocol's)")
    p.add_argument("--train-manifest", help="train manifest (.jsonl[.gz]) instead of a protocol")
    p.add_argument("--dev-manifest", help="dev manifest (.jsonl[.gz]) instead of a protocol")
    p.add_argument("--root", required=True, help="corpus root the manifests' paths are relative to")
    p.add_argument("--out", required=True, help="run directory (checkpoints, log.csv, config.yaml)")
    p.add_argument("--config", help="training config YAML (TrainConfig fields)")
    p.add_argument("--resume", action="store_true", help="continue from the run dir's last complete epoch")
    add_device_option(p)
    p.add_argument("--epochs", type=int, help="override the config's epochs")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--workers", type=int, help="DataLoader worker processes")
    p.add_argument("--batch-size", type=int, help="override the config's batch size")
    p.add_argument("--threads", type=int, help="torch CPU threads while training (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spoofbench.engine import TrainConfig, train_from_files
    from spoofbench.errors import ConfigError

    cli = {"detector": args.detector, "preset": args.preset, "device": args.device, "epochs": args.epochs,
           "seed": args.seed, "num_workers": args.workers, "batch_size": args.batch_size,
           "cpu_threads": args.threads}
    cli = {k: v for k, v in cli.items() if v is not None}
    if args.config:
        config = TrainConfig.from_yaml(args.config)
        config = config.replace(**cli) if cli else config
    else:
        if "detector" not in cli:
            raise ConfigError("no detector: pass --detector NAME or a --config with 'detector'", field="detector")
        config = TrainConfig.from_dict(cli)
    _check_plugin(config)
    try:
        with disk_errors(args.out):
            result = train_from_files(config, root=args.root, out_dir=args.out, protocol=_protocol(args.protocol),
                                      manifests_dir=args.manifests_dir, train_manifest=args.train_manifest,
                                      dev_manifest=args.dev_manifest, resume=args.resume,
                                      progress=not args.no_progress)
    finally:
        _leave_process_group()
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 0
    log = context_logger(__name__, detector=config.detector + (f":{config.preset}" if config.preset else ""),
                         seed=config.seed)
    for warning in result.warnings:
        log.warning(warning)
    print(f"best dev EER {100 * result.best_dev_eer:.3f}% at epoch {result.best_epoch} "
          f"({result.epochs_run} epochs{', stopped early' if result.stopped_early else ''}); "
          f"checkpoint {result.best_checkpoint}")
    from spoofbench.reproduce.record import record_command
    record_command(args.out, None, config, (config.seed,), {k: getattr(args, k) for k in (
        "root", "protocol", "manifests_dir", "train_manifest", "dev_manifest", "resume")}, command="train")
    return 0


def _check_plugin(config) -> None:
    """A ``module:factory`` detector is built, probed and saved/reloaded before any training (one-line error)."""
    from spoofbench.models import DETECTORS
    from spoofbench.models.module_detector import check_plugin

    if config.detector not in DETECTORS:
        check_plugin(config.detector, config.preset, dict(config.overrides))


#: Errors of the disk rather than of the program: reported in one line (what to do), no traceback.
DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM}


@contextlib.contextmanager
def disk_errors(out: str) -> Iterator[None]:
    """Turn a full, read-only or forbidden output disk into a one-line :class:`OutputError`."""
    try:
        yield
    except OSError as err:
        if err.errno not in DISK_ERRNOS:
            raise
        where = err.filename or out
        raise OutputError(f"{where}: cannot write: {err.strerror or err}; free some space or choose "
                          "another --out (a rerun resumes where this one stopped)") from err


class OutputError(SpoofbenchError):
    """The output folder cannot be written (full, read-only or not permitted)."""


def _leave_process_group() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _protocol(name_or_path: str | None):
    """A protocol file, or the name of a shipped one."""
    if not name_or_path:
        return name_or_path
    from ..shipped import resolve_shipped

    return str(resolve_shipped(name_or_path, "protocol"))
