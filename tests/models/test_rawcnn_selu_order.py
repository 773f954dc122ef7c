"""At inference rawcnn_2m applies its front-end SELU after max-pooling and its block SELUs in place (a
third of the activations, no extra tensors): scores must equal the textbook order bit for bit, and
training (autograd on) must keep the textbook order itself."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from spoofbench.models import build_detector
from spoofbench.models.layers import frame_mask


def _textbook_logits(model, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """BN → SELU → max-pool in the front-end and out-of-place SELUs everywhere (the earlier forward)."""
    x = nn.functional.max_pool1d(torch.selu(model.front_bn(model.front(waves[:, None, :]))), 3)
    for block in model.blocks:
        out = block.conv1(torch.selu(block.bn1(x)))
        out = block.conv2(torch.selu(block.bn2(out)))
        x = block.pool(out + block.skip(x))
    return model.head(model.pool(x, frame_mask(model._frames(lengths), x.shape[-1])))


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_scores_equal_the_textbook_order(preset):
    torch.manual_seed(0)
    model = build_detector("rawcnn_2m", preset=preset).eval()
    n = model.input_policy.num_samples
    waves = 0.1 * torch.randn(3, n)
    lengths = torch.tensor([n, n // 2, n])
    with torch.inference_mode():
        assert torch.equal(model.logits(waves, lengths), _textbook_logits(model, waves, lengths))


def test_training_keeps_the_textbook_order_and_its_gradients():
    """With autograd on, the forward is the earlier one: gradients equal bit for bit."""
    torch.manual_seed(0)
    model = build_detector("rawcnn_2m", preset="tiny").train()
    reference = build_detector("rawcnn_2m", preset="tiny").train()
    reference.load_state_dict(model.state_dict())
    waves = 0.1 * torch.randn(4, model.input_policy.num_samples)
    lengths = torch.full((4,), waves.shape[1])
    model.logits(waves, lengths).sum().backward()
    _textbook_logits(reference, waves, lengths).sum().backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert p.grad is not None and torch.equal(p.grad, q.grad), name
