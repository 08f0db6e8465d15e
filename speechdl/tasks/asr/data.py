"""ASR training data: transcribed utterances of lhotse manifests -> log-Mel frames and token ids.

* :func:`read_utterances`: one row per supervision with text (``id``, ``path``, ``offset``,
  ``duration``, ``text``), from one or more manifest directories (``speechdl data import ...``).
* :class:`ASRUtterances` (recipe dataset ``asr_utts``): items ``{"x": (T, F) float32, "y": (U,) int64}``
  with features computed on the fly (default 80-band log-Mel) and, in training, waveform augmentation:
  speed perturbation (resampling, :func:`speed_perturb`) and, with probability ``augment.prob``, the
  synthetic-corpus conditions (room reverb, coloured noise / hum at an SNR, telephone band, level:
  :func:`speechdl.data.synth.mixer.apply_conditions`). SpecAugment and global CMVN live in the model
  (:mod:`speechdl.tasks.asr.net`). ``durations`` feeds duration-bucketed batching
  (``data.max_batch_seconds``, :mod:`speechdl.train.bucketing`).
* :func:`resolve_tokenizer`: ``char``, a saved tokenizer, or a BPE model trained once on the training
  transcripts and kept in a directory.

Example recipe::

    data: {name: asr_utts, manifests: [/data/asr/train], val_manifests: /data/asr/dev,
           tokenizer: char, speed_perturb: [0.9, 1.0, 1.1], augment: {prob: 0.5, p_telephone: 0.2},
           max_batch_seconds: 160}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl import audio
from speechdl.errors import ConfigError, DataError
from speechdl.features import Frontend, FrontendConfig
from speechdl.tasks.asr.tokens import BPETokenizer, load_tokenizer, normalize_text, tokenizer_from_dict
from speechdl.train.datasets import register_dataset

DEFAULT_FRONTEND = {"kind": "logmel", "n_mels": 80}


def frontend_config(frontend: FrontendConfig | dict | str | None) -> FrontendConfig:
    """The front-end of a recipe's ``data.frontend``: None (80-band log-Mel), ``"logmel"``, or a dict."""
    if isinstance(frontend, FrontendConfig):
        return frontend
    if frontend is None or frontend == "logmel80":
        return FrontendConfig.from_dict(DEFAULT_FRONTEND)
    if frontend == "logmel":
        return FrontendConfig.logmel()
    if not isinstance(frontend, dict):
        raise ConfigError("data.frontend", f"{frontend!r} is not a front-end", "use logmel or a FrontendConfig dict")
    return FrontendConfig.from_dict(dict(frontend))


def read_utterances(manifests: str | os.PathLike | Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Rows ``{"id", "path", "offset", "duration", "text"}`` of every supervision with text.

    Raises :class:`DataError` when a manifest has no transcribed supervision.
    """
    from speechdl.data.manifests import supervision_rows

    return supervision_rows(manifests, "text", "ASR needs manifests with text", label="transcript (text)")


def speed_perturb(wave: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Play ``wave`` ``(n,)`` ``factor`` times faster (pitch shifts too, as in Ko et al. 2015): ``(n / factor,)``."""
    if factor == 1.0:
        return wave
    return audio.resample(wave, int(round(sample_rate * factor)), sample_rate)


def resolve_tokenizer(spec: dict | str | None, texts: Sequence[str]):
    """Tokenizer of a recipe's ``data.tokenizer``.

    ``"char"`` / None: characters. A path: a saved tokenizer directory. ``{kind: bpe, vocab_size: N,
    dir: DIR}``: load ``DIR`` if it holds one, else train BPE on ``texts`` and save it there (so
    every run and the exported bundle use the same pieces).
    """
    if isinstance(spec, dict) and spec.get("kind") == "bpe" and spec.get("vocab_size") and not spec.get("model"):
        out = spec.get("dir")
        if not out:
            raise ConfigError("data.tokenizer", "a BPE tokenizer trained from the transcripts needs a 'dir'",
                              "add dir: PATH (it is trained once and kept there)")
        if (Path(out) / "tokenizer.json").exists():
            return load_tokenizer(out)
        return BPETokenizer.train(texts, int(spec["vocab_size"]), out)
    return tokenizer_from_dict(spec)


class ASRUtterances(Dataset):
    """Transcribed utterances -> ``{"x": (T, F) float32 features, "y": (U,) int64 token ids}``.

    Args:
        manifests: manifest directories (or files) with transcribed supervisions, or the rows of
            :func:`read_utterances` themselves.
        tokenizer: a tokenizer object or a :func:`resolve_tokenizer` spec.
        frontend: :func:`frontend_config` spec (default 80-band log-Mel).
        min_duration / max_duration: utterances outside (s) are left out.
        speed_perturb: speed factors drawn uniformly per item in training (e.g. ``[0.9, 1.0, 1.1]``).
        augment: ``{"prob": p, **Conditions fields}``: with probability ``p`` apply reverb / noise /
            telephone / level from :class:`~speechdl.data.synth.mixer.Conditions` (``snr_range``,
            ``p_clean``, ``p_reverb``, ``rt60_range``, ``p_telephone``, ...).
        training: augmentation on (False: the clean features, for validation and evaluation).
        seed: augmentation draws.
    """

    def __init__(self, manifests: str | Sequence[str] | list[dict[str, Any]], tokenizer: Any = "char",
                 frontend: Any = None, min_duration: float = 0.1, max_duration: float = 30.0,
                 speed_perturb: Sequence[float] | None = None, augment: dict[str, Any] | None = None,
                 training: bool = True, seed: int = 0) -> None:
        given = isinstance(manifests, list) and bool(manifests) and isinstance(manifests[0], dict)
        rows = list(manifests) if given else read_utterances(manifests)  # type: ignore[arg-type]
        self.tokenizer = resolve_tokenizer(tokenizer, [r["text"] for r in rows]) if (
            tokenizer is None or isinstance(tokenizer, str | dict)) else tokenizer
        self.cfg = frontend_config(frontend)
        self.frontend = Frontend(self.cfg).eval()
        self.rows = []
        for r in rows:
            ids = self.tokenizer.encode(r["text"])
            if ids and min_duration <= r["duration"] <= max_duration:
                self.rows.append({**r, "ids": ids})
        if not self.rows:
            raise DataError(str(manifests), f"no utterance of {min_duration}-{max_duration} s with words",
                            "check data.min_duration / data.max_duration and the transcripts")
        self.durations = [r["duration"] for r in self.rows]
        self.speeds = [float(f) for f in speed_perturb] if speed_perturb else [1.0]
        from speechdl.data.synth.mixer import parse_augment

        self.aug_prob, self.conditions = parse_augment(augment)
        self.training, self.seed, self._draws = training, seed, 0

    def __len__(self) -> int:
        return len(self.rows)

    def texts(self) -> list[str]:
        """Normalised transcripts, in item order."""
        return [normalize_text(r["text"]) for r in self.rows]

    def wave(self, i: int) -> np.ndarray:
        """Mono float32 audio ``(n,)`` of utterance ``i`` at the front-end's rate."""
        r = self.rows[i]
        return audio.load(r["path"], sample_rate=self.cfg.sample_rate, offset=r["offset"], duration=r["duration"])[0]

    def features(self, wave: np.ndarray) -> torch.Tensor:
        """``(n,)`` waveform -> ``(T, F)`` features."""
        with torch.no_grad():
            return self.frontend(torch.from_numpy(np.ascontiguousarray(wave, np.float32))[None])[0]

    def _augmented(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        from speechdl.data.synth.mixer import apply_conditions

        sr = self.cfg.sample_rate
        factor = float(rng.choice(self.speeds))
        wave = speed_perturb(wave, factor, sr)
        if self.aug_prob > 0 and rng.random() < self.aug_prob:
            wave, _ = apply_conditions(wave, np.ones(len(wave), bool), sr, rng, self.conditions)
        return wave

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        wave = self.wave(i)
        if self.training and (len(self.speeds) > 1 or self.speeds[0] != 1.0 or self.aug_prob > 0):
            rng = np.random.default_rng([self.seed, i, self._draws])
            self._draws += 1
            wave = self._augmented(wave, rng)
        return {"x": self.features(wave), "y": torch.tensor(self.rows[i]["ids"], dtype=torch.long)}


@register_dataset("asr_utts")
def asr_utts(manifests: str | list[str], val_manifests: str | list[str] | None = None, tokenizer: Any = "char",
             frontend: Any = None, min_duration: float = 0.1, max_duration: float = 30.0,
             speed_perturb: list[float] | None = None, augment: dict[str, Any] | None = None,
             seed: int = 0) -> ASRUtterances | tuple[ASRUtterances, ASRUtterances]:
    """Recipe dataset ``asr_utts``: augmented training utterances; with ``val_manifests`` a
    ``(train, val)`` pair (validation clean, same tokenizer and front-end). See :class:`ASRUtterances`.

    Without ``val_manifests`` the engine's ``val_fraction`` split takes its validation items from this
    (augmented) training set; pass ``val_manifests`` for clean validation."""
    train = ASRUtterances(manifests, tokenizer, frontend, min_duration, max_duration, speed_perturb, augment,
                          True, seed)
    if val_manifests is None:
        return train
    val = ASRUtterances(val_manifests, train.tokenizer, train.cfg, 0.0, float("inf"), None, None, False, seed)
    return train, val
