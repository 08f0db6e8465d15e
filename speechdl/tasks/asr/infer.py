"""The ASR engine: a bundle's model + front-end + tokenizer + decoding defaults, on waveforms.

A bundle (``speechdl/pretrained/bundle.py`` format, ``task: asr``) holds the model
(:mod:`speechdl.tasks.asr.net`), its exact front-end, the tokenizer (``tokenizer``: its dict, BPE
models included), decoding defaults (``decoding``: ``beam``, ``alpha``, ``beta``, ``ctc_weight`` and
``lm``, the name of a word n-gram ARPA file kept in the bundle, used by CTC beam search unless
``lm="none"``) and its components (``components``: ``{"segmenter": "vad"}``).

Files, long inputs and the typed result are the pipeline's business
(:class:`speechdl.tasks.asr.pipeline.ASRPipeline`, i.e. ``speechdl.load("asr")``); this class only
turns waveforms into text. Inference imports no Lightning.

Example:
    >>> from speechdl import audio
    >>> asr = load_asr("asr")
    >>> wave, _ = audio.load("speechdl/assets/sample.flac", sample_rate=asr.cfg.sample_rate, duration=3.0)
    >>> asr.transcribe_waves([wave], beam=1, lm="none")      # greedy, no LM: the first three seconds
    ['hee lerting in speache technology start']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig
from speechdl.pretrained import load_model
from speechdl.tasks.asr.decode import CTCDecoder, attention_decode
from speechdl.tasks.asr.tokens import tokenizer_from_dict

TASKS = ("asr_ctc", "asr_joint")
DEFAULT_DECODING = {"beam": 1, "alpha": 0.5, "beta": 1.0, "ctc_weight": 0.3, "lm": None}
NO_LM = ("none", "")
BUNDLE_LM = "bundle"


class ASR:
    """A recogniser: model (eval mode) + front-end + tokenizer + decoding defaults.

    Args:
        model: ``deepspeech2`` (CTC) or ``las`` (attention, optional CTC head) module.
        frontend: the :class:`FrontendConfig` it was trained with. tokenizer: its units.
        decoding: defaults for :meth:`transcribe_waves` (``beam``, ``alpha``, ``beta``, ``ctc_weight``,
            ``lm``: an ARPA path or None).
        meta: the bundle's ``bundle.json``.
    """

    def __init__(self, model: torch.nn.Module, frontend: FrontendConfig, tokenizer: Any,
                 decoding: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.cfg, self.tokenizer = frontend, tokenizer
        self.frontend = Frontend(frontend).eval()
        self.decoding = {**DEFAULT_DECODING, **(decoding or {})}
        self.meta = meta or {}
        self.attention = hasattr(model, "s2s")
        self._decoders: dict[tuple, CTCDecoder] = {}

    @classmethod
    def from_bundle(cls, path: str | os.PathLike) -> ASR:
        """Load an ``asr`` bundle directory."""
        b, model = load_model(path, "asr")
        decoding = dict(b.meta.get("decoding") or {})
        if decoding.get("lm"):   # a file inside the bundle
            decoding["lm"] = str(b.path / decoding["lm"])
        return cls(model, FrontendConfig.from_dict(b.meta["frontend"]), tokenizer_from_dict(b.meta["tokenizer"]),
                   decoding, b.meta)

    @property
    def sample_rate(self) -> int:
        """The rate (Hz) that waveforms must have."""
        return int(self.cfg.sample_rate)

    def set_lm(self, path: str | os.PathLike | None) -> None:
        """Make ``path`` (an ARPA file, plain or ``.gz``) the default LM of CTC beam search; None: no LM.

        A Python / CLI affordance (``speechdl asr transcribe --lm FILE``): over HTTP a client picks only
        ``bundle`` or ``none``, never a path on the server.
        """
        if path is not None and not Path(path).is_file():
            raise ConfigError(path, "LM file not found", "build one with 'speechdl asr lm build TEXT --out lm.arpa'")
        self.decoding["lm"] = None if path is None else str(path)

    def _features(self, waves: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        feats = [self.frontend(torch.from_numpy(np.ascontiguousarray(w, np.float32))[None])[0] for w in waves]
        lengths = torch.tensor([len(f) for f in feats], dtype=torch.long)
        return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), lengths

    @torch.no_grad()
    def transcribe_waves(self, waves: Sequence[np.ndarray], beam: int | None = None, lm: Any = None,
                         alpha: float | None = None, beta: float | None = None,
                         ctc_weight: float | None = None) -> list[str]:
        """Mono float32 waveforms ``[(n,), ...]`` at the model's rate -> normalised texts.

        CTC models: greedy for ``beam=1`` without an LM, else prefix beam search (``lm``: ARPA path;
        None or ``"bundle"``: the default LM (the bundle's, or :meth:`set_lm`'s) if there is one;
        ``"none"``: no LM).
        Attention models: greedy or beam search, rescored with CTC (``ctc_weight``) when the model has
        a CTC head; an LM is not used by attention decoding.
        """
        d = self.decoding
        beam = int(beam if beam is not None else d["beam"])
        if lm is None or str(lm).lower() == BUNDLE_LM:
            lm = d.get("lm")
        elif str(lm).lower() in NO_LM:
            lm = None
        if not waves:
            return []
        x, lengths = self._features(waves)
        if self.attention:
            w = float(ctc_weight if ctc_weight is not None else d["ctc_weight"])
            w = w if getattr(self.model, "ctc_head", None) is not None else 0.0
            max_len = int(x.shape[1]) // 2 + 10
            return [self.tokenizer.decode(ids) for ids in attention_decode(self.model, x, lengths, beam, w, max_len)]
        key = (beam, None if lm is None else str(lm), d["alpha"] if alpha is None else alpha,
               d["beta"] if beta is None else beta)
        if key not in self._decoders:   # an ARPA file is read once, not once per segment
            self._decoders[key] = CTCDecoder(self.tokenizer, beam, lm, key[2], key[3])
        logp, n = self.model(x, lengths)
        return self._decoders[key](logp, n)


def load_asr(path: str | os.PathLike) -> ASR:
    """:meth:`ASR.from_bundle`."""
    return ASR.from_bundle(path)
