"""Additive and location-aware attention: masking, normalisation, use of previous weights, learning."""

from __future__ import annotations

import pytest
import torch

from speechdl.nn import build
from speechdl.nn.attention import AdditiveAttention, LocationAwareAttention, initial_weights

KINDS = ["additive_attention", "location_attention"]



def make(kind: str, q: int = 6, k: int = 5, a: int = 8):
    extra = {"n_filters": 3, "kernel_size": 5} if kind == "location_attention" else {}
    return build(kind, query_dim=q, key_dim=k, attn_dim=a, **extra)


@pytest.mark.parametrize("kind", KINDS)
def test_weights_normalised_zero_on_padding_and_context_is_weighted_sum(kind):
    torch.manual_seed(0)
    attn = make(kind)
    assert isinstance(attn, LocationAwareAttention if kind == "location_attention" else AdditiveAttention)
    q, keys = torch.randn(3, 6), torch.randn(3, 9, 5)
    mask = torch.arange(9)[None] < torch.tensor([9, 4, 1])[:, None]
    ctx, w = attn(q, keys, mask)
    assert ctx.shape == (3, 5) and w.shape == (3, 9)
    torch.testing.assert_close(w.sum(-1), torch.ones(3))
    assert torch.all(w[~mask] == 0) and torch.all(w[mask] > 0)
    torch.testing.assert_close(ctx, torch.einsum("bt,btk->bk", w, keys))
    assert torch.allclose(w[2, 0], torch.tensor(1.0))  # a single valid frame takes all the weight
    # the padded keys' contents do not matter
    keys2 = keys.clone()
    keys2[~mask] = 1e3
    ctx2, w2 = attn(q, keys2, mask)
    torch.testing.assert_close(ctx, ctx2)
    torch.testing.assert_close(w, w2)
    # precomputed key projections give the same answer
    ctx3, _ = attn(q, keys, mask, processed_keys=attn.process_keys(keys))
    torch.testing.assert_close(ctx, ctx3)


def test_location_attention_uses_previous_weights_additive_does_not():
    torch.manual_seed(0)
    q, keys = torch.randn(2, 6), torch.randn(2, 7, 5)
    mask = torch.ones(2, 7, dtype=torch.bool)
    p1 = torch.zeros(2, 7)
    p1[:, 0] = 1.0
    p2 = torch.zeros(2, 7)
    p2[:, 5] = 1.0
    loc, add = make("location_attention"), make("additive_attention")
    assert (loc(q, keys, mask, p1)[1] - loc(q, keys, mask, p2)[1]).abs().max() > 1e-4
    torch.testing.assert_close(add(q, keys, mask, p1)[1], add(q, keys, mask, p2)[1])
    # without previous weights, the first step uses a uniform distribution over the valid frames
    init = initial_weights(2, 7, mask, keys)
    torch.testing.assert_close(loc(q, keys, mask)[1], loc(q, keys, mask, init)[1])


@pytest.mark.parametrize("kind", KINDS)
def test_every_parameter_gets_a_gradient(kind):
    torch.manual_seed(0)
    attn = make(kind)
    mask = torch.arange(8)[None] < torch.tensor([8, 5])[:, None]
    prev = torch.softmax(torch.randn(2, 8), -1) * mask
    ctx, w = attn(torch.randn(2, 6), torch.randn(2, 8, 5), mask, prev)
    (ctx.sum() + (w * torch.arange(8.0)).sum()).backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_learns_to_attend_to_the_queried_position(kind):
    # keys = [content, one-hot position]; the query names a position: attention must find it.
    torch.manual_seed(0)
    t = 6
    attn = make(kind, q=t, k=4 + t, a=16)
    target = torch.arange(16) % t
    query = torch.nn.functional.one_hot(target, t).float()
    keys = torch.cat([torch.randn(16, t, 4), torch.eye(t).expand(16, t, t)], dim=-1)
    mask = torch.ones(16, t, dtype=torch.bool)
    opt = torch.optim.Adam(attn.parameters(), lr=2e-2)

    def loss_fn():
        w = attn(query, keys, mask)[1]
        return -torch.log(w[torch.arange(16), target]).mean()

    first = loss_fn().item()
    for _ in range(150):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < first / 10
