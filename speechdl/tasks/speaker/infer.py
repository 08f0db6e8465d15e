"""The speaker engine: load a bundle, embed waveforms and files, score, verify and identify.

The application contract (``speechdl.load("speaker")``, :mod:`speechdl.tasks.speaker.pipeline`) runs on this
engine; enrollment stores, evaluation and export use it directly.

A speaker bundle (``speechdl/pretrained/bundle.py`` format, ``task: speaker``) holds the ``speaker_net`` model
(:mod:`speechdl.tasks.speaker.net`), its exact front-end and its back-end (:mod:`speechdl.tasks.speaker.scoring`):
cosine and, in bundles made by ``speechdl speaker export``, LDA + PLDA and an AS-norm cohort, with one
:func:`~speechdl.tasks.speaker.backends.calibrate` dict (``scale``/``offset`` of the score -> LLR map and the
decision ``threshold`` of its operating point) per back-end and normalisation. ``verify`` and ``identify``
decide with the bundle's default back-end unless told otherwise. Older bundles score with cosine only.
Bundles are made by :func:`speechdl.tasks.speaker.export.export_run`.

Recordings longer than ``max_seconds`` are embedded block by block (bounded memory) and the
length-normalised block embeddings averaged, weighted by block length.

Example:
    >>> spk = load_speaker("speaker")
    >>> spk.backends, spk.backend, spk.norm, spk.dim
    (('cosine', 'plda'), 'cosine', 'asnorm', 192)
    >>> e = spk.embed_file("speechdl/assets/sample.flac")          # (D,) float32
    >>> d = spk.decide(float(spk.score(e, e)[0]))                 # the bundle's back-end and threshold
    >>> d["same"], d["backend"], d["norm"]
    (True, 'cosine', 'asnorm')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from speechdl import audio
from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig
from speechdl.pretrained import load_model
from speechdl.tasks.speaker.backends import calibrated_llr, length_norm
from speechdl.tasks.speaker.scoring import Scorer

MIN_BLOCK_SECONDS = 0.5
BATCH_FRAMES = 1600         # padded frames a batch may hold (16 s at a 10 ms hop)


class SpeakerModel:
    """An embedding extractor and its back-end: ``speaker_net`` (eval mode) + front-end + :class:`Scorer`.

    Args:
        model: a ``speaker_net`` module. frontend: the :class:`FrontendConfig` it was trained with.
        calibration: a :func:`calibrate` dict of cosine scores (or None: decisions need an explicit
            threshold); ignored when ``scorer`` is given.
        meta: the bundle's ``bundle.json`` (for :attr:`fingerprint`).
        scorer: the back-end (:class:`Scorer`); default: cosine with ``calibration``.
    """

    def __init__(self, model: torch.nn.Module, frontend: FrontendConfig, calibration: dict[str, Any] | None = None,
                 meta: dict[str, Any] | None = None, scorer: Scorer | None = None) -> None:
        self.model = model.eval()
        self.cfg, self.frontend = frontend, Frontend(frontend).eval()
        self.scorer = scorer or Scorer(calibrations={"cosine": {"none": calibration}} if calibration else None)
        self.meta = meta or {}

    @classmethod
    def from_bundle(cls, path: str | os.PathLike) -> SpeakerModel:
        """Load a ``speaker`` bundle directory (or shipped name), with its back-end files when it has them."""
        b, model = load_model(path, "speaker")
        return cls(model, FrontendConfig.from_dict(b.meta["frontend"]), meta=b.meta,
                   scorer=Scorer.from_bundle(b.path, b.meta))

    @property
    def dim(self) -> int:
        """Embedding size D."""
        return int(self.model.embed_dim)

    @property
    def fingerprint(self) -> str:
        """An identifier of the weights (their sha256 in the bundle), kept by enrollment stores."""
        return str((self.meta.get("weights") or {}).get("sha256") or id(self.model))

    @property
    def backends(self) -> tuple[str, ...]:
        """Back-ends the bundle can score with: ``("cosine",)`` or ``("cosine", "plda")``."""
        return self.scorer.backends

    @property
    def backend(self) -> str:
        """The bundle's default back-end (``cosine`` or ``plda``)."""
        return self.scorer.default

    @property
    def norm(self) -> str:
        """The bundle's default score normalisation (``asnorm`` when it has a cohort, else ``none``)."""
        return self.scorer.norm

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The :func:`calibrate` dict of the default back-end and normalisation (None when uncalibrated)."""
        return self.scorer.calibration()

    def threshold(self, override: float | None = None, backend: str | None = None, norm: str | None = None) -> float:
        """The decision threshold on ``(backend, norm)`` scores: ``override`` or the bundle's calibrated one."""
        backend, norm = self.scorer.check(backend, norm)
        if override is not None:
            return float(override)
        cal = self.scorer.calibration(backend, norm)
        if not cal:
            raise ConfigError(self.scorer.where, f"has no calibrated threshold for --backend {backend} --norm {norm}",
                              "pass --threshold, or export the run again (speechdl speaker export)")
        return float(cal["threshold"])

    # ------------------------------------------------------------------ embeddings
    @torch.no_grad()
    def embed_features(self, feats: Sequence[torch.Tensor], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` float32 of ``(T_i, F)`` feature sequences, batched by similar length.

        A batch holds at most ``batch_size`` sequences and at most ``BATCH_FRAMES`` padded frames: a few long
        files do not make their batch mostly padding, and small batches stay in the CPU's caches (on the
        2-core development machine 1,600 frames ran 3x faster than 32 sequences of any length).
        """
        out = np.zeros((len(feats), self.dim), np.float32)
        order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
        batches: list[list[int]] = [[]]
        for i in order:                       # ascending lengths: the newest item is the batch's longest
            b = batches[-1]
            if b and (len(b) == batch_size or (len(b) + 1) * len(feats[i]) > BATCH_FRAMES):
                batches.append(b := [])
            b.append(i)
        for idx in filter(None, batches):
            x = torch.nn.utils.rnn.pad_sequence([feats[i] for i in idx], batch_first=True)
            n = torch.tensor([len(feats[i]) for i in idx], dtype=torch.long)
            out[idx] = self.model.embed(x, n).float().numpy()
        return out

    def embed_waves(self, waves: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` of mono float32 waveforms ``[(n_i,), ...]`` at the model's rate."""
        return self.embed_features([self.frontend.features_of(w) for w in waves], batch_size)

    def embed_blocks(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """Embedding ``(D,)`` of one recording given as consecutive blocks ``(n_i,)``: the length-weighted
        average of the length-normalised block embeddings (a last block under 0.5 s is dropped)."""
        embs, weights = [], []
        for block in blocks:
            if len(block) >= MIN_BLOCK_SECONDS * self.cfg.sample_rate or not embs:
                embs.append(length_norm(self.embed_waves([block]))[0])
                weights.append(len(block))
        return np.average(np.stack(embs), axis=0, weights=weights).astype(np.float32)

    def embed_wave(self, wave: np.ndarray, max_seconds: float = 30.0) -> np.ndarray:
        """Embedding ``(D,)`` of one mono float32 waveform ``(n,)`` at the model's rate; longer than
        ``max_seconds``: in blocks of that length (see :meth:`embed_blocks`)."""
        block = int(max_seconds * self.cfg.sample_rate)
        if len(wave) <= block:
            return self.embed_waves([wave])[0]
        return self.embed_blocks(wave[s:s + block] for s in range(0, len(wave), block))

    def embed_file(self, path: str | os.PathLike, max_seconds: float = 30.0) -> np.ndarray:
        """Embedding ``(D,)`` of an audio file of any format, rate and length (see the module docstring)."""
        info = audio.info(path)
        if info.duration <= max_seconds:
            wave, _ = audio.load(path, sample_rate=self.cfg.sample_rate)
            return self.embed_waves([wave])[0]
        return self.embed_blocks(audio.stream(path, block_seconds=max_seconds, sample_rate=self.cfg.sample_rate))

    def embed_files(self, paths: Sequence[str | os.PathLike], batch_size: int = 16,
                    max_seconds: float = 30.0, desc: str | None = None) -> np.ndarray:
        """Embeddings ``(N, D)`` of audio files; files up to ``max_seconds`` are batched.
        ``desc``: show a progress bar (files) under that name on a terminal."""
        from speechdl.console import progress

        out = np.zeros((len(paths), self.dim), np.float32)
        short = [i for i, p in enumerate(paths) if audio.info(p).duration <= max_seconds]
        bar = progress(None, total=len(paths), desc=desc or "", unit="file", enabled=desc is not None)
        for k in range(0, len(short), batch_size):   # read a batch at a time: bounded memory for long lists
            idx = short[k:k + batch_size]
            waves = [audio.load(paths[i], sample_rate=self.cfg.sample_rate)[0] for i in idx]
            out[idx] = self.embed_waves(waves, batch_size)
            bar.update(len(idx))
        for i in sorted(set(range(len(paths))) - set(short)):
            out[i] = self.embed_file(paths[i], max_seconds)
            bar.update(1)
        bar.close()
        return out

    # ------------------------------------------------------------------ scores and decisions
    def score(self, a: Any, b: Any, backend: str | None = None, norm: str | None = None) -> np.ndarray:
        """Scores of embedding pairs ``(N, D), (N, D) -> (N,)``: cosine or PLDA LLR, then AS-norm when ``norm``
        is ``asnorm`` (defaults: the bundle's back-end and normalisation)."""
        return self.scorer.score(a, b, backend, norm)

    def score_matrix(self, enroll: Any, test: Any, backend: str | None = None, norm: str | None = None
                     ) -> np.ndarray:
        """Scores of every enrollment embedding with every test embedding: ``(E, D), (T, D) -> (E, T)``."""
        return self.scorer.score_matrix(enroll, test, backend, norm)

    def decide(self, score: float, threshold: float | None = None, backend: str | None = None,
               norm: str | None = None) -> dict[str, Any]:
        """``{"score", "threshold", "same", "backend", "norm"[, "llr"]}`` for one ``(backend, norm)`` score."""
        backend, norm = self.scorer.check(backend, norm)
        t = self.threshold(threshold, backend, norm)
        out: dict[str, Any] = {"score": round(float(score), 6), "threshold": round(t, 6), "same": bool(score >= t),
                               "backend": backend, "norm": norm}
        cal = self.scorer.calibration(backend, norm)
        if cal:
            out["llr"] = round(float(calibrated_llr(cal, [score])[0]), 4)
        return out

    def verify(self, a: str | os.PathLike, b: str | os.PathLike, threshold: float | None = None,
               backend: str | None = None, norm: str | None = None) -> dict[str, Any]:
        """Same speaker in files ``a`` and ``b``? ``{"enroll", "test", "score", "threshold", "same", "backend",
        "norm"[, "llr"]}``."""
        self.threshold(threshold, backend, norm)       # refuse before any audio is read
        ea, eb = self.embed_files([a, b])
        return {"enroll": str(a), "test": str(b),
                **self.decide(float(self.score(ea, eb, backend, norm)[0]), threshold, backend, norm)}

    def identify(self, paths: Sequence[str | os.PathLike], store: Any, top: int = 3, threshold: float | None = None,
                 backend: str | None = None, norm: str | None = None, desc: str | None = None
                 ) -> list[dict[str, Any]]:
        """Closest enrolled speakers of each file, scored with ``(backend, norm)`` against the
        :class:`~speechdl.tasks.speaker.store.SpeakerStore` ``store``'s speaker means.

        Returns one ``{"file", "speaker" (None below the threshold), "score", "threshold", "backend", "norm",
        "candidates": [{"name", "score"}, ...]}`` per file, best candidate first. ``desc``: a progress bar.
        """
        backend, norm = self.scorer.check(backend, norm)
        t = self.threshold(threshold, backend, norm)
        store.identify([0.0] * self.dim)               # nobody enrolled / wrong size: fail before embedding
        ranked = store.identify_many(self.embed_files(paths, desc=desc), top,
                                     scorer=lambda e, x: self.score_matrix(e, x, backend, norm))
        return [{"file": str(f), "speaker": r[0]["name"] if r[0]["score"] >= t else None,
                 "score": round(r[0]["score"], 6), "threshold": round(t, 6), "backend": backend, "norm": norm,
                 "candidates": [{**c, "score": round(c["score"], 6)} for c in r]} for f, r in zip(paths, ranked)]


def load_speaker(path: str | os.PathLike = "speaker") -> SpeakerModel:
    """:meth:`SpeakerModel.from_bundle` (default: the shipped bundle ``speaker``)."""
    return SpeakerModel.from_bundle(path)
