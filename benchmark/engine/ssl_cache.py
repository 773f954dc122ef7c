"""A content-addressed cache of frozen SSL features, so an epoch does not recompute them.

With ``ssl.cache_features`` a frozen upstream's ``hidden_states(waves)`` (every layer: the layer
weighting after it is trained) is looked up per clip by the sha256 of the exact input samples
(after decoding, codec coding and cropping: a clip under another codec condition is another
entry) and of the upstream's weights. Entries are ``(layers, frames, dim)`` float16 ``.npy``
files; the cache evicts the least recently used entries beyond ``max_bytes``. A clip's features
are rounded to float16 whether they come from the cache or are computed, so a run gives the same
numbers with a cold or a warm cache.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import ConfigError
from ..filecache import evict_lru, lru_entries
from .config import SSLConfig
from .ssl import find_frontend


class FeatureCache:
    """``(layers, frames, dim)`` float16 arrays by key under ``directory``, at most ``max_bytes``."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int, namespace: str):
        self.directory, self.max_bytes, self.namespace = Path(directory), int(max_bytes), namespace
        self.directory.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0
        self._bytes = sum(p.stat().st_size for p in self.directory.glob("*/*.npy"))

    def key(self, wave: torch.Tensor) -> str:
        digest = hashlib.sha256(self.namespace.encode())
        digest.update(wave.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # absent, or a file cut short by a crash: recompute it
            self.misses += 1
            return None
        os.utime(path)  # recently used
        self.hits += 1
        return array

    def put(self, key: str, array: np.ndarray) -> None:
        path = self._path(key)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, array.astype(np.float16), allow_pickle=False)
        self._bytes += path.stat().st_size
        if self._bytes > self.max_bytes:
            self._evict()

    def _evict(self) -> None:
        """Drop least recently used entries until the cache holds at most 90% of ``max_bytes``."""
        entries = lru_entries(self.directory, "*/*.npy")
        self._bytes = sum(size for _, size, _ in entries) - sum(evict_lru(entries, self.max_bytes, keep=0.9))

    @property
    def size_bytes(self) -> int:
        return self._bytes


def upstream_digest(module: torch.nn.Module) -> str:
    """sha256 over the class name and the weights of ``module`` (the cache's namespace)."""
    digest = hashlib.sha256(type(module).__qualname__.encode())
    for name, value in module.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_hidden_states(upstream: Any, cache: FeatureCache) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """``upstream.hidden_states`` through ``cache`` (bypassed while the upstream is in train mode)."""
    compute = upstream.hidden_states

    def hidden_states(waves: torch.Tensor) -> list[torch.Tensor]:
        if upstream.training:  # dropout active: features are not a function of the input
            return compute(waves)
        keys = [cache.key(w) for w in waves]
        found = [cache.get(k) for k in keys]
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            with torch.no_grad():
                fresh = torch.stack(compute(waves[missing]), dim=1).float()  # (b, layers, frames, dim)
            for row, i in enumerate(missing):
                found[i] = fresh[row].to(torch.float16).cpu().numpy()
                cache.put(keys[i], found[i])
        batch = torch.from_numpy(np.stack(found)).to(waves.device, torch.float32)
        return list(batch.unbind(dim=1))

    return hidden_states


def enable_feature_cache(detector: Any, cfg: SSLConfig, run_dir: Path, augmenting: bool) -> tuple[FeatureCache, str]:
    """Route ``detector``'s frozen upstream through a :class:`FeatureCache`; a ConfigError when the
    run does not allow it. Returns the cache and a note for the run record."""
    name = getattr(detector, "name", type(detector).__name__)
    frontend = find_frontend(detector)
    if frontend is None or not callable(getattr(frontend, "hidden_states", None)):
        raise ConfigError(f"ssl.cache_features: detector {name!r} has no SSL upstream with hidden_states() "
                          "to cache; set it to false", field="ssl.cache_features")
    if any(p.requires_grad for p in frontend.parameters()):
        raise ConfigError(f"ssl.cache_features needs a frozen front-end, but {name!r} trains its upstream; set "
                          "ssl.freeze_frontend: true or use a frozen preset", field="ssl.cache_features")
    if augmenting:
        raise ConfigError("ssl.cache_features needs training without augmentation (every augmented clip is "
                          "new input); set the augment probabilities to 0", field="ssl.cache_features")
    directory = Path(cfg.cache_dir) if cfg.cache_dir else run_dir / "ssl_feature_cache"
    cache = FeatureCache(directory, cfg.cache_max_bytes, upstream_digest(frontend))
    frontend.hidden_states = cached_hidden_states(frontend, cache)
    return cache, (f"cached frozen SSL features (float16) in {directory}, at most {cfg.cache_max_bytes} bytes; "
                   "training clips take the eval crop")
