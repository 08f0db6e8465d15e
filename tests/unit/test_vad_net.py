"""The bundle-held VAD frame model: lengths reach nets that take them, and their errors are not swallowed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from speechdl.nn.registry import _MODELS
from speechdl.tasks.vad.net import FrameModel


class _LengthNet(nn.Module):
    """Takes lengths; raises TypeError from inside (a bug the frame model must not hide)."""

    def __init__(self, in_dim: int, fail: bool = False) -> None:
        super().__init__()
        self.lin, self.fail, self.seen = nn.Linear(in_dim, 1), fail, None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        self.seen = lengths
        if self.fail:
            raise TypeError("bug inside the network")
        return self.lin(x)


@pytest.fixture(autouse=True)
def _registered():
    _MODELS.register("_length_net")(_LengthNet)
    yield
    _MODELS._items.pop("_length_net", None)


def test_lengths_reach_a_net_that_takes_them():
    fm = FrameModel("_length_net", {"in_dim": 4})
    lengths = torch.tensor([5, 3])
    assert fm(torch.randn(2, 5, 4), lengths).shape == (2, 5)
    assert fm.net.seen is lengths


def test_a_type_error_inside_the_net_propagates():
    fm = FrameModel("_length_net", {"in_dim": 4, "fail": True})
    with pytest.raises(TypeError, match="bug inside"):
        fm(torch.randn(2, 5, 4), torch.tensor([5, 3]))


def test_frame_wise_dense_net_ignores_lengths():
    fm = FrameModel("dense", {"in_dim": 4, "hidden": [3], "out_dim": 1})
    x = torch.randn(2, 6, 4)
    assert torch.equal(fm(x, torch.tensor([6, 2])), fm(x))
