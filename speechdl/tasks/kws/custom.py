"""Custom keywords from a few recordings: the lecture's transfer learning on a frozen keyword encoder.

The shipped classifier's last hidden layer (the input of its final ``Linear``) is a word embedding learned on
thousands of words and voices. A new keyword is added without touching those weights, in one of two ways:

* ``template``: the mean of the L2-normalised embeddings of the enrollment recordings; a window scores its
  cosine similarity to it.
* ``head`` (default): a new logistic-regression output trained on the frozen embeddings: positives are the
  enrollment recordings under random conditions (noise generators, reverb, speed, shift: ``copies`` each),
  negatives the bundle's ``negatives.npy`` (embeddings of the training set's non-keyword words and noise).

Either way the threshold is set from the negatives: the score that at most ``max_negative_share`` of them reach.
Detection slides 1 s windows every 100 ms, as the built-in detector's windows engine (:mod:`speechdl.tasks.kws.detect`).

Example (an untrained encoder and tones instead of speech, to show the calls):
    >>> import numpy as np, torch
    >>> from speechdl.nn import build
    >>> from speechdl.features import FrontendConfig
    >>> net = build("cnn_fc", in_dim=40, out_dim=22, channels=[4], fc=[16], num_frames=101).eval()
    >>> enc = Encoder(net, FrontendConfig.logmel())
    >>> tone = lambda f: (0.3 * np.sin(2 * np.pi * f * np.arange(8000) / 16000)).astype(np.float32)
    >>> neg = enc.embed([tone(f) for f in (300, 900, 2000, 3000)])
    >>> kw = enroll("beep", [tone(1000), tone(1010)], enc, neg, method="template")
    >>> kw.name, kw.method, len(kw.vector) == neg.shape[1]
    ('beep', 'template', True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.kws.data import place
from speechdl.tasks.kws.synth_words import trim_word

SR = 16000
METHODS = ("head", "template")
AUGMENT = {"p_noise": 0.8, "snr_range": [5.0, 30.0], "p_noise_only": 0.0, "p_reverb": 0.3, "p_channel": 0.2,
           "p_real": 0.0, "level_db": [-30.0, -6.0], "families": ["stationary", "weather", "clicks", "vehicles"]}


def last_linear(model: torch.nn.Module) -> torch.nn.Linear:
    """The network's final ``nn.Linear`` (its input is the embedding)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not layers:
        raise ConfigError(type(model).__name__, "has no Linear output layer", "use a cnn_fc, ds_cnn or resnet bundle")
    return layers[-1]


class Encoder:
    """Embeddings of 1 s windows: ``embed(waves) -> (N, D)`` and ``embed_features((N, T, F)) -> (N, D)``."""

    def __init__(self, model: torch.nn.Module, cfg: Any) -> None:
        from speechdl.features import Frontend

        self.model, self.cfg = model.eval(), cfg
        self.frontend = Frontend(cfg).eval()
        self.window = int(round(cfg.sample_rate))
        self._got: list[torch.Tensor] = []
        last_linear(model).register_forward_pre_hook(lambda _m, args: self._got.append(args[0].detach()))

    def embed_features(self, feats: torch.Tensor) -> np.ndarray:
        self._got.clear()
        with torch.no_grad():
            self.model(feats)
        return self._got[-1].reshape(len(feats), -1).numpy().astype(np.float32)

    def embed(self, waves: Sequence[np.ndarray], centre: bool = True) -> np.ndarray:
        """Embeddings of words ``waves`` (each trimmed and centred in a 1 s window when ``centre``)."""
        rng = np.random.default_rng(0)
        wins = [place(trim_word(w, SR) if centre else np.asarray(w, np.float32), self.window, rng, 0.0, SR)
                for w in waves]
        with torch.no_grad():
            feats = self.frontend(torch.from_numpy(np.stack(wins)))
        return self.embed_features(feats)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


@dataclass
class CustomKeyword:
    """One enrolled keyword: ``method``, ``vector`` (template, or head weights), ``bias``, ``threshold``,
    ``mean`` / ``scale`` (the head's input standardisation) and how many ``recordings`` made it."""

    name: str
    method: str
    vector: list[float]
    bias: float
    threshold: float
    recordings: int
    mean: list[float] | None = None
    scale: list[float] | None = None

    def score(self, emb: np.ndarray) -> np.ndarray:
        """Scores ``(N,)`` of embeddings ``(N, D)``: cosine (template) or probability (head)."""
        v = np.asarray(self.vector, np.float32)
        if self.method == "template":
            return unit(emb) @ v
        z = (emb - np.asarray(self.mean, np.float32)) / np.asarray(self.scale, np.float32)
        return 1.0 / (1.0 + np.exp(-(z @ v + self.bias)))


def augmented(waves: Sequence[np.ndarray], copies: int, seed: int = 0) -> list[np.ndarray]:
    """``copies`` random versions of each recording (speed 0.9-1.1, shift, noise generators, reverb, channel)."""
    from speechdl import audio
    from speechdl.data.augment import AugmentConfig, augment_wave

    cfg = AugmentConfig.from_dict(AUGMENT)
    out = []
    for i, w in enumerate(waves):
        word = trim_word(np.asarray(w, np.float32), SR)
        for c in range(copies):
            rng = np.random.default_rng([seed, i, c])
            f = float(rng.uniform(0.9, 1.1))
            x = place(audio.resample(word, int(round(SR * f)), SR) if len(word) > 1 else word, SR, rng, 0.1, SR)
            out.append(augment_wave(x, np.abs(x) > 0, SR, rng, cfg)[0])
    return out


def _threshold(neg_scores: np.ndarray, max_negative_share: float) -> float:
    return float(np.quantile(neg_scores, 1.0 - max_negative_share)) if len(neg_scores) else 0.5


def enroll(name: str, waves: Sequence[np.ndarray], encoder: Encoder, negatives: np.ndarray, method: str = "head",
           copies: int = 16, max_negative_share: float = 0.005, seed: int = 0) -> CustomKeyword:
    """A :class:`CustomKeyword` from recordings ``waves`` (16 kHz float32; each one utterance of the keyword).

    ``negatives``: ``(M, D)`` embeddings of other words and noise (the bundle's ``negatives.npy``).
    """
    if method not in METHODS:
        raise ConfigError("kws enroll", f"method={method!r}", f"use one of {', '.join(METHODS)}")
    waves = [np.asarray(w, np.float32).reshape(-1) for w in waves]
    if not waves or any(np.abs(w).max(initial=0.0) < 1e-4 for w in waves):
        raise DataError(name, "needs recordings with sound in them", "record the keyword 3-5 times, one per file")
    pos = encoder.embed(augmented(waves, copies, seed), centre=False)
    pos = np.concatenate([encoder.embed(waves), pos])
    if method == "template":
        v = unit(unit(pos[: len(waves)]).mean(0))
        thr = _threshold(unit(negatives) @ v, max_negative_share)
        return CustomKeyword(name, method, v.round(6).tolist(), 0.0, round(thr, 6), len(waves))
    x = np.concatenate([pos, negatives]).astype(np.float32)
    y = np.r_[np.ones(len(pos)), np.zeros(len(negatives))].astype(np.float32)
    mean, scale = x.mean(0), x.std(0) + 1e-4
    z = torch.from_numpy((x - mean) / scale)
    t = torch.from_numpy(y)
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    pw = torch.tensor(len(negatives) / max(1, len(pos)))
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, t, pos_weight=pw) + 1e-3 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    kw = CustomKeyword(name, method, w.detach().numpy().round(6).tolist(), round(float(b.item()), 6), 0.5,
                       len(waves), mean.round(6).tolist(), scale.round(6).tolist())
    kw.threshold = round(max(0.5, _threshold(kw.score(negatives), max_negative_share)), 6)
    return kw


def save_store(path: str | os.PathLike, keywords: Sequence[CustomKeyword], model: str) -> None:
    """Write the custom keywords (JSON, atomically) with the bundle they were enrolled on."""
    from speechdl.audio import atomic_write

    with atomic_write(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps({"model": model, "keywords": [asdict(k) for k in keywords]}, indent=1))


def load_store(path: str | os.PathLike) -> tuple[str, list[CustomKeyword]]:
    """``(bundle name, keywords)`` of a store written by :func:`save_store` (missing file: none yet)."""
    p = Path(path)
    if not p.exists():
        return "", []
    try:
        d = json.loads(p.read_text())
        return str(d.get("model", "")), [CustomKeyword(**k) for k in d.get("keywords", [])]
    except (ValueError, TypeError, KeyError) as err:
        raise DataError(p, f"is not a custom keyword store ({err})",
                        "pass the file speechdl kws enroll wrote") from None


def window_embeddings(encoder: Encoder, wave: np.ndarray, hop: int = 10) -> np.ndarray:
    """Embeddings ``(W, D)`` of the 1 s windows every ``hop`` frames of ``wave`` ``(n,)`` (16 kHz), with the
    built-in detector's silence padding: window ``w`` is centred at ``w * hop * 10 ms`` of the input."""
    from speechdl.tasks.kws.detect import PAD, WINDOW

    pad = np.zeros(int(PAD * SR), np.float32)
    with torch.no_grad():
        frames = encoder.frontend(torch.from_numpy(np.concatenate([pad, np.asarray(wave, np.float32), pad]))[None])[0]
    starts = list(range(0, len(frames) - WINDOW + 1, hop))
    out = [encoder.embed_features(torch.stack([frames[i:i + WINDOW] for i in starts[s:s + 256]]))
           for s in range(0, len(starts), 256)]
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def events_of(emb: np.ndarray, keywords: Sequence[CustomKeyword], hop_s: float = 0.1,
              smooth: int = 3) -> list[dict[str, Any]]:
    """Events of ``keywords`` from window embeddings ``(W, D)``, each keyword at its own threshold."""
    from speechdl.tasks.kws.detect import events_from

    if not keywords or not len(emb):
        return []
    post = np.stack([k.score(emb) for k in keywords], 1)
    names = [k.name for k in keywords]
    return events_from(post, hop_s, [k.threshold for k in keywords], smooth, labels=names, keywords=names)


def custom_events(encoder: Encoder, wave: np.ndarray, keywords: Sequence[CustomKeyword],
                  hop: int = 10, smooth: int = 3) -> list[dict[str, Any]]:
    """Events of the custom ``keywords`` in ``wave`` ``(n,)`` (16 kHz): 1 s windows every ``hop`` frames with
    0.5 s of silence around the signal (the built-in detector's windows engine), each keyword at its own
    threshold."""
    if not keywords:
        return []
    hop_s = hop * encoder.cfg.hop_length / encoder.cfg.sample_rate
    return events_of(window_embeddings(encoder, wave, hop), keywords, hop_s, smooth)
