"""Random-weight neural-codec checkpoints of the real architectures, for offline tests and perf scripts."""
from __future__ import annotations

import warnings
from pathlib import Path

ENCODEC_FILE = "encodec_24khz-d7cc33bc.th"


def encodec_24khz_state(seed: int = 1) -> dict:
    """A random EnCodec 24 kHz state dict (built by the encodec package, nothing downloaded); its
    codebooks (zeros until k-means initialises them in training) random too, so that codes differ."""
    import torch
    from encodec import EncodecModel

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        state = EncodecModel.encodec_model_24khz(pretrained=False).state_dict()
    for name, value in state.items():
        if name.endswith("._codebook.embed"):
            value.copy_(0.1 * torch.randn_like(value))
        elif name.endswith("._codebook.inited"):
            value.fill_(1.0)
    return state


def save_encodec_24khz(root: Path, seed: int = 1) -> Path:
    """``root/encodec_24khz/<published file name>``: the layout of the neural weights folder
    (``SPOOFBENCH_NEURAL_WEIGHTS=root``). Returns the file."""
    import torch

    folder = Path(root) / "encodec_24khz"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(encodec_24khz_state(seed), folder / ENCODEC_FILE)
    return folder / ENCODEC_FILE


def assert_weights_key_the_cache(cond_a, cond_b, x, rate: int, cache) -> None:
    """Two conditions that differ only in their weights: different cache keys; a second apply of ``cond_a`` is
    a cache hit with the same samples; ``cond_b`` is coded anew and differs."""
    import numpy as np

    from spoofbench.codecs import apply_condition_report
    from spoofbench.codecs.channel_apply import cache_key

    assert cache_key(cache, x, rate, cond_a, "k") != cache_key(cache, x, rate, cond_b, "k")
    first = apply_condition_report(x, rate, cond_a, key="k", cache=cache)
    again = apply_condition_report(x, rate, cond_a, key="k", cache=cache)
    assert again.cached and not first.cached and np.array_equal(first.wave, again.wave)
    other = apply_condition_report(x, rate, cond_b, key="k", cache=cache)
    assert not other.cached and not np.array_equal(first.wave, other.wave)
