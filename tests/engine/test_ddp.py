"""DistributedDataParallel path: two CPU processes on the gloo backend train in step."""
from __future__ import annotations

import json
import socket

import pytest
import torch.multiprocessing as mp

from ddp_worker import run_rank

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]  # two processes: 15-30 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_and_agree(corpus, tmp_path):
    out, results = tmp_path / "run", tmp_path / "results"
    results.mkdir()
    mp.spawn(run_rank, args=(2, _free_port(), corpus, str(out), str(results)), nprocs=2, join=True)
    r0 = json.loads((results / "rank0.json").read_text())
    r1 = json.loads((results / "rank1.json").read_text())
    assert r0["weights"] == r1["weights"]          # DDP kept the replicas identical
    assert r0["dev_eer"] == r1["dev_eer"]          # gathered dev scores, same EER on both ranks
    # the train set is split between the ranks: together they cover it once per epoch, the batch
    # list padded by wrapping so both ranks take the same number of steps (9 batches of 4 -> 10)
    assert r0["samples"] == r1["samples"] == [40, 40] and len(corpus["train"]) == 36
    assert (out / "checkpoints" / "best.pt").is_file() and (out / "log.csv").is_file()
