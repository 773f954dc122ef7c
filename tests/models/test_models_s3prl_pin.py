"""spoofbench's random-init WavLM expert mirrors s3prl's ``UpstreamExpert`` internals: checked at the pin."""
from __future__ import annotations

from importlib import metadata

import pytest
import torch

from spoofbench.models.ssl import TINY_WAVLM
from spoofbench.models.ssl_checkpoints import S3PRL_TESTED, S3PRLUpstream

pytest.importorskip("s3prl")


def test_pinned_s3prl_version():
    assert metadata.version("s3prl") == S3PRL_TESTED, (
        "s3prl changed: re-check models/ssl_checkpoints.py:_random_wavlm_expert against its "
        "UpstreamExpert.__init__ (hooks, layerdrop) and update S3PRL_TESTED")


def test_random_expert_equals_s3prls_own_expert_on_the_same_weights(tmp_path):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ours = S3PRLUpstream.random(dict(TINY_WAVLM)).eval()
    path = tmp_path / "wavlm.pt"
    torch.save({"cfg": dict(TINY_WAVLM), "model": ours.expert.model.state_dict()}, path)
    theirs = S3PRLUpstream("wavlm", path).eval()  # s3prl's UpstreamExpert(ckpt) code path
    assert type(theirs.expert).__mro__[0].__module__.startswith("s3prl.")
    waves = 0.1 * torch.randn(2, 4000, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        a, b = ours.hidden_states(waves), theirs.hidden_states(waves)
    assert len(a) == len(b) == ours.num_hidden == theirs.num_hidden
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=0, rtol=0)
