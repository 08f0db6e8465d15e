"""RecurrentNet: shapes, packed-length invariance, pooling, streaming, gradients, learning, config errors."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from speechdl.errors import ConfigError
from speechdl.nn import RecurrentNet, build
from tests.unit.nn_checks import assert_doctests_pass, assert_gradients_flow, assert_learns, one_thread, projection_loss


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield

CELLS = ["rnn", "gru", "lstm"]


@pytest.mark.parametrize("cell,bidirectional", list(itertools.product(CELLS, [False, True])))
def test_shapes(cell, bidirectional):
    torch.manual_seed(0)
    x, n = torch.randn(3, 11, 5), torch.tensor([11, 6, 1])
    dirs = 2 if bidirectional else 1
    net = RecurrentNet(5, hidden_size=7, num_layers=2, cell=cell, bidirectional=bidirectional)
    assert net(x).shape == (3, 11, 7 * dirs) and net.output_size == 7 * dirs
    assert net(x, n).shape == (3, 11, 7 * dirs)
    for pool in ["last", "mean", "max"]:
        head = RecurrentNet(5, hidden_size=7, cell=cell, bidirectional=bidirectional, pool=pool, out_dim=4,
                            proj_dim=6)
        assert head(x, n).shape == (3, 4)


def test_cells_are_what_they_claim():
    vanilla = RecurrentNet(3, 4, cell="rnn").rnn
    assert isinstance(vanilla, nn.RNN) and vanilla.nonlinearity == "tanh"
    assert isinstance(RecurrentNet(3, 4, cell="gru").rnn, nn.GRU)
    lstm = RecurrentNet(3, 4, cell="lstm", num_layers=3, dropout=0.3, bidirectional=True).rnn
    assert isinstance(lstm, nn.LSTM) and lstm.num_layers == 3 and lstm.dropout == 0.3 and lstm.bidirectional


@pytest.mark.parametrize("cell,bidirectional,pool",
                         list(itertools.product(CELLS, [False, True], [None, "last", "mean", "max"])))
def test_padded_batch_equals_each_sequence_alone(cell, bidirectional, pool):
    torch.manual_seed(0)
    net = RecurrentNet(4, hidden_size=6, num_layers=2, cell=cell, bidirectional=bidirectional, dropout=0.2,
                       pool=pool, out_dim=3, proj_dim=5).eval()
    lengths = torch.tensor([9, 4, 1, 7])
    seqs = [torch.randn(n, 4) for n in lengths.tolist()]
    batch = torch.full((4, 9, 4), 1e3)  # loud garbage in the padding
    for i, s in enumerate(seqs):
        batch[i, : len(s)] = s
    out = net(batch, lengths)
    for i, s in enumerate(seqs):
        alone = net(s[None])[0]
        if pool is None:
            torch.testing.assert_close(out[i, : len(s)], alone, atol=1e-5, rtol=1e-5)
            assert (out[i, len(s):] == 0).all()
        else:
            torch.testing.assert_close(out[i], alone, atol=1e-5, rtol=1e-5)


def test_last_pool_is_final_forward_state_and_first_backward_output():
    torch.manual_seed(0)
    net = RecurrentNet(4, hidden_size=6, cell="gru", bidirectional=True, pool="last").eval()
    frames = RecurrentNet(4, hidden_size=6, cell="gru", bidirectional=True)
    frames.load_state_dict(net.state_dict())
    x, n = torch.randn(2, 8, 4), torch.tensor([8, 5])
    y, last = frames.eval()(x, n), net(x, n)
    for i, k in enumerate(n.tolist()):
        torch.testing.assert_close(last[i], torch.cat([y[i, k - 1, :6], y[i, 0, 6:]]))


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_streaming_equals_offline(cell):
    torch.manual_seed(0)
    net = build("rnn", in_dim=4, hidden_size=6, num_layers=2, cell=cell, out_dim=2).eval()
    x = torch.randn(2, 17, 4)
    state, chunks = net.init_state(2), []
    for a, b in [(0, 1), (1, 6), (6, 7), (7, 17)]:
        y, state = net.forward_chunk(x[:, a:b], state)
        chunks.append(y)
    torch.testing.assert_close(torch.cat(chunks, 1), net(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(ConfigError, match="streaming"):
        build("rnn", in_dim=4, hidden_size=6, bidirectional=True).forward_chunk(x)


@pytest.mark.parametrize("cell,pool", [("rnn", None), ("gru", "last"), ("lstm", "mean"), ("lstm", "max")])
def test_gradients_flow(cell, pool):
    torch.manual_seed(0)
    net = RecurrentNet(4, hidden_size=5, num_layers=2, cell=cell, bidirectional=True, proj_dim=6,
                       proj_activation="tanh", out_dim=3, pool=pool)
    assert_gradients_flow(net, projection_loss(net(torch.randn(3, 7, 4), torch.tensor([7, 3, 5]))))


@pytest.mark.parametrize("cell", CELLS)
def test_learns_frame_labels(cell):
    torch.manual_seed(0)
    net = RecurrentNet(4, hidden_size=16, cell=cell, bidirectional=True, out_dim=3)
    x, n = torch.randn(4, 10, 4), torch.tensor([10, 8, 6, 10])
    y = torch.randint(0, 3, (4, 10))
    mask = torch.arange(10)[None] < n[:, None]

    def loss() -> torch.Tensor:
        return nn.functional.cross_entropy(net(x, n)[mask], y[mask])

    assert_learns(net, loss, steps=300, lr=3e-2)


@pytest.mark.parametrize("pool", ["last", "mean"])
def test_learns_sequence_labels(pool):
    torch.manual_seed(0)
    net = RecurrentNet(4, hidden_size=16, cell="lstm", pool=pool, out_dim=4)
    x, n, y = torch.randn(12, 9, 4), torch.randint(3, 10, (12,)), torch.randint(0, 4, (12,))
    assert_learns(net, lambda: nn.functional.cross_entropy(net(x, n), y), steps=300, lr=3e-2)


def test_config_errors():
    with pytest.raises(ConfigError, match="bad_kwarg"):
        build("rnn", in_dim=3, bad_kwarg=1)
    with pytest.raises(ConfigError, match="cell"):
        RecurrentNet(3, cell="transformer")
    with pytest.raises(ConfigError, match="pool"):
        RecurrentNet(3, pool="first")
    with pytest.raises(ConfigError, match="lengths"):
        RecurrentNet(3, 4)(torch.randn(2, 5, 3), torch.tensor([5, 0]))


def test_docstring_examples_run():
    import speechdl.nn.recurrent as module

    assert_doctests_pass(module)
