"""CTC decoding: greedy, prefix beam search (exactness, LM fusion), pyctcdecode backend, joint rescoring."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from speechdl.tasks.asr.decode import CTCDecoder, ctc_greedy, ctc_sequence_logp, prefix_beam_search
from speechdl.tasks.asr.lm import build_arpa
from speechdl.tasks.asr.tokens import CharTokenizer

TOK = CharTokenizer()


def posteriors(steps: list[dict[str, float]], floor: float = 1e-4) -> np.ndarray:
    """``(T, V)`` log-posteriors: per frame the given character probabilities ('' = blank), the rest spread."""
    lp = np.full((len(steps), TOK.vocab_size), floor)
    for t, step in enumerate(steps):
        for ch, p in step.items():
            lp[t, 0 if ch == "" else TOK.labels.index(ch)] = p
        lp[t] /= lp[t].sum()
    return np.log(lp)


def spell(text: str, p: float = 0.97) -> list[dict[str, float]]:
    steps = []
    for ch in text:
        steps += [{ch: p}, {"": p}]
    return steps


def test_prefix_beam_equals_greedy_on_peaky_posteriors():
    rng = np.random.default_rng(0)
    for _ in range(20):
        text = "".join(rng.choice(list("abc de'")) for _ in range(rng.integers(1, 12)))
        steps = []
        for ch in text:                          # random repeats and blank runs, as CTC spikes look
            steps += [{ch: 0.95}] * int(rng.integers(1, 3)) + [{"": 0.95}] * int(rng.integers(1, 3))
        lp = posteriors(steps)
        greedy = ctc_greedy(torch.from_numpy(lp)[None])[0]
        assert prefix_beam_search(lp, TOK.labels, beam=8) == greedy
        assert TOK.decode(greedy) == " ".join(text.split())


def test_prefix_beam_finds_the_most_probable_labelling_exhaustively():
    rng = np.random.default_rng(1)
    labels = ["", "a", "b"]
    for _ in range(5):
        lp = np.log(rng.dirichlet(np.ones(3) * 0.7, size=6))
        seqs = [list(s) for n in range(0, 7) for s in itertools.product([1, 2], repeat=n)]
        exact = ctc_sequence_logp(torch.from_numpy(lp), 6, seqs[1:]).numpy()
        empty = float(lp[:, 0].sum())
        best = seqs[1:][int(exact.argmax())] if exact.max() > empty else []
        ids, score = prefix_beam_search(lp, labels, beam=200, token_min_logp=-1e9, blank_skip_logp=1.0,
                                        beam_prune_logp=-1e9, return_score=True)
        assert ids == best and score == pytest.approx(max(exact.max(), empty), abs=1e-6)
        # and greedy decoding can be worse than the best labelling, never better
        g = ctc_greedy(torch.from_numpy(lp)[None])[0]
        assert score >= (float(ctc_sequence_logp(torch.from_numpy(lp), 6, [g])[0]) if g else empty) - 1e-9


def test_skipping_sure_blank_frames_and_pruning_keep_the_answer():
    rng = np.random.default_rng(2)
    for _ in range(10):
        text = "".join(rng.choice(list("abc de")) for _ in range(rng.integers(3, 10)))
        steps = []
        for ch in text:   # uncertain token frames between runs of sure blanks
            other = str(rng.choice([c for c in "abcde" if c != ch]))
            steps += [{ch: 0.6, other: 0.3}] + [{"": 0.996}] * int(rng.integers(1, 4))
        lp = posteriors(steps)
        exact = prefix_beam_search(lp, TOK.labels, beam=64, token_min_logp=-1e9, blank_skip_logp=1.0,
                                   beam_prune_logp=-1e9, return_score=True)
        fast = prefix_beam_search(lp, TOK.labels, beam=64, return_score=True)
        assert fast[0] == exact[0] and fast[1] == pytest.approx(exact[1], abs=0.05)


@pytest.fixture(scope="module")
def arpa(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    (d / "text.txt").write_text("the cat sat on the mat\nthe cat ran\na cat and a dog\nthe dog sat\n" * 5)
    return build_arpa([d / "text.txt"], order=3, out=d / "lm.arpa")["out"]


def _ambiguous() -> np.ndarray:
    """'the ?at': the acoustics slightly prefer 'k' over 'c'."""
    return posteriors(spell("the ") + [{"k": 0.52, "c": 0.46}, {"": 0.97}] + spell("at"))


def test_lm_changes_the_choice_where_it_should(arpa):
    lp = _ambiguous()
    assert TOK.decode(ctc_greedy(torch.from_numpy(lp)[None])[0]) == "the kat"
    assert CTCDecoder(TOK, beam=8)(torch.from_numpy(lp)[None]) == ["the kat"]
    assert CTCDecoder(TOK, beam=8, lm=arpa, alpha=0.5, beta=1.0)(torch.from_numpy(lp)[None]) == ["the cat"]
    # a clear acoustic signal wins over the LM
    clear = torch.from_numpy(posteriors(spell("the ") + [{"k": 0.97}, {"": 0.97}] + spell("at")))[None]
    assert CTCDecoder(TOK, beam=8, lm=arpa, alpha=0.5)(clear) == ["the kat"]
    # batched, with lengths
    batch = torch.from_numpy(np.stack([lp, np.pad(lp[:8], ((0, len(lp) - 8), (0, 0)))]))
    out = CTCDecoder(TOK, beam=8, lm=arpa)(batch, torch.tensor([len(lp), 8]))
    assert out[0] == "the cat" and out[1] == "the"


def test_pyctcdecode_backend_agrees(arpa):
    # pyctcdecode (--no-deps, by make setup) and kenlm (dev extra) are installed: a missing one fails here
    lp = torch.from_numpy(_ambiguous())[None]
    assert CTCDecoder(TOK, beam=8, backend="pyctcdecode")(lp) == ["the kat"]
    assert CTCDecoder(TOK, beam=8, lm=arpa, backend="pyctcdecode")(lp) == ["the cat"]
