"""Entry point of one DDP rank for test_ddp (importable by spawned processes)."""
from __future__ import annotations

import json
import os
from pathlib import Path


def run_rank(rank: int, world: int, port: int, corpus: dict, out: str, result_dir: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)})
    import torch.distributed as dist

    from spoofbench.engine import TrainConfig, train

    cfg = TrainConfig(detector="rawcnn_2m", preset="tiny", epochs=2, batch_size=4, eval_batch_size=8,
                      num_workers=0, seed=5, cpu_threads=1, device="cpu")
    try:
        result = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=out, progress=False)
        Path(result_dir, f"rank{rank}.json").write_text(json.dumps(
            {"weights": result.weights_sha256, "dev_eer": [h["dev_eer"] for h in result.history],
             "samples": [h["train_samples"] for h in result.history]}))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
