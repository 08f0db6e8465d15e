"""Public ASR API: load a bundle, transcribe waveforms and files of any length; export a training run.

A bundle (``speechdl/pretrained/bundle.py`` format, ``task: asr``) holds the model, its exact
front-end, the tokenizer (``tokenizer``: its dict, BPE models included) and decoding defaults
(``decoding``: ``beam``, ``alpha``, ``beta``, ``ctc_weight`` and ``lm``, the name of a word n-gram
ARPA file kept in the bundle, used by CTC beam search unless ``lm="none"``).

Files longer than ``max_seconds`` are cut into speech segments by the VAD bundle
(:func:`speechdl.pretrained.segment.speech_segments`) and each segment is read and decoded on its
own, so memory stays bounded; the segments come back with their times (for SRT).

Example:
    >>> # asr = load_asr("runs/asr/ds2/bundle")
    >>> # asr.transcribe("talk.flac", beam=16, lm="lm.arpa")["text"]
    >>> # asr.transcribe_waves([wave])                              # 16 kHz float32 arrays -> texts
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl import audio
from speechdl.errors import ConfigError
from speechdl.features import Frontend, FrontendConfig
from speechdl.pretrained import load_model, save_bundle
from speechdl.tasks.asr import model as _models  # noqa: F401  (registers deepspeech2 / las)
from speechdl.tasks.asr.decode import CTCDecoder, attention_decode
from speechdl.tasks.asr.lm import ArpaLM
from speechdl.tasks.asr.tokens import tokenizer_from_dict

TASKS = ("asr_ctc", "asr_joint")
DEFAULT_DECODING = {"beam": 1, "alpha": 0.5, "beta": 1.0, "ctc_weight": 0.3, "lm": None}
NO_LM = ("none", "")


class ASR:
    """A recogniser: model (eval mode) + front-end + tokenizer + decoding defaults.

    Args:
        model: ``deepspeech2`` (CTC) or ``las`` (attention, optional CTC head) module.
        frontend: the :class:`FrontendConfig` it was trained with. tokenizer: its units.
        decoding: defaults for :meth:`transcribe` (``beam``, ``alpha``, ``beta``, ``ctc_weight``).
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
        None: the bundle's LM if it has one; ``"none"``: no LM).
        Attention models: greedy or beam search, rescored with CTC (``ctc_weight``) when the model has
        a CTC head; an LM is not used by attention decoding.
        """
        d = self.decoding
        beam = int(beam if beam is not None else d["beam"])
        lm = d.get("lm") if lm is None else (None if str(lm).lower() in NO_LM else lm)
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

    def segments(self, path: str | os.PathLike, max_seconds: float = 30.0,
                 vad: str = "vad") -> list[tuple[float, float]]:
        """``[(start, end)]`` s: the whole file when it is at most ``max_seconds`` long, else VAD segments."""
        duration = audio.info(path).duration
        if duration <= max_seconds:
            return [(0.0, round(duration, 3))]
        from speechdl.pretrained.segment import speech_segments

        return speech_segments(path, vad, max_seconds)

    def transcribe(self, path: str | os.PathLike, beam: int | None = None, lm: Any = None,
                   max_seconds: float = 30.0, vad: str = "vad", **options: Any) -> dict[str, Any]:
        """Transcribe an audio file (any format, rate, length).

        Returns ``{"file", "duration", "text", "segments": [{"start", "end", "text"}]}`` (seconds).
        ``options``: ``alpha``, ``beta``, ``ctc_weight`` (see :meth:`transcribe_waves`).
        """
        info = audio.info(path)
        out = []
        for a, b in self.segments(path, max_seconds, vad):
            wave, _ = audio.load(path, sample_rate=self.cfg.sample_rate, offset=a, duration=b - a)
            text = self.transcribe_waves([wave], beam, lm, **options)[0]
            out.append({"start": round(a, 3), "end": round(b, 3), "text": text})
        return {"file": str(path), "duration": round(info.duration, 3),
                "text": " ".join(s["text"] for s in out if s["text"]), "segments": out}


def load_asr(path: str | os.PathLike) -> ASR:
    """:meth:`ASR.from_bundle`."""
    return ASR.from_bundle(path)


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, average: int | None = None,
               half: bool = False, decoding: dict[str, Any] | None = None,
               lm: str | os.PathLike | None = None) -> Path:
    """Bundle an ``asr_ctc`` / ``asr_joint`` training run, averaging its kept top checkpoints.

    ``average``: how many of the ``checkpoints/top/`` files to average (the latest ones; None: all);
    runs without them use the best (else last) checkpoint. The tokenizer and front-end come from the
    checkpoint (the task stores them there). ``decoding``: defaults to store (``beam``, ``alpha``,
    ``beta``); ``lm``: an ARPA file (plain or ``.gz``) copied into the bundle as its default LM.
    """
    import yaml

    from speechdl.nn import build
    from speechdl.train.averaging import average_checkpoints, run_checkpoints

    run = Path(run_dir)
    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text())
    except OSError:
        raise ConfigError(run, "no config.yaml (not a training run directory)", "pass the run's out_dir") from None
    task = (cfg.get("task") or {}).get("name")
    if task not in TASKS:
        raise ConfigError(run, f"task is {task!r}, not asr_ctc or asr_joint", "export an ASR run")
    paths = run_checkpoints(run, average)
    last = torch.load(paths[-1], map_location="cpu", weights_only=False)
    meta = last.get("asr") or {}
    if not meta.get("tokenizer") or not meta.get("frontend"):
        raise ConfigError(paths[-1], "holds no tokenizer / front-end", "re-train with this speechdl version")
    state = average_checkpoints(paths)
    state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    kwargs = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = build(cfg["model"]["name"], **kwargs)
    model.load_state_dict(state)   # fails loudly on a mismatch before anything is written
    dec = {**DEFAULT_DECODING, **{k: v for k, v in (decoding or {}).items() if v is not None}}
    files = {}
    if lm is not None:
        ArpaLM(lm)   # refuse a file that is not ARPA before anything is written
        dec["lm"] = "lm.arpa.gz" if str(lm).endswith(".gz") else "lm.arpa"
        files[dec["lm"]] = lm
    if task == "asr_joint":
        dec["ctc_weight"] = float((cfg.get("task") or {}).get("ctc_weight", dec["ctc_weight"]))
        dec["beam"] = max(dec["beam"], 4)
    names = ", ".join(p.name for p in paths)
    return save_bundle(out, task="asr", model={"name": cfg["model"]["name"], "kwargs": kwargs},
                       state_dict=model.state_dict(), frontend=meta["frontend"],
                       metrics={"averaged_checkpoints": len(paths)}, data=dict(cfg.get("data") or {}),
                       reproduce=f"speechdl asr train <recipe> --out {run}; speechdl asr export {run} --bundle {out}",
                       card=f"Weights: average of {len(paths)} checkpoint(s): {names}.", half=half,
                       extra={"tokenizer": meta["tokenizer"], "decoding": dec}, files=files)
