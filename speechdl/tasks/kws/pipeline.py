"""Keyword spotting on the application contract: ``speechdl.load("kws").run(audio) -> KwsResult``.

Any length of audio: 1 s windows every 100 ms (:mod:`speechdl.tasks.kws.detect`) give keyword events with
times; a short clip (one spoken command) also gets a ``label``: the keyword of its strongest event, else
``_silence_`` or ``_unknown_`` (whichever the windows favour). ``stream()`` gives the same windows' keyword
scores chunk by chunk, and the events as they close.

Example (an untrained network; ``speechdl.load("kws")`` gives the shipped one):
    >>> import numpy as np
    >>> from speechdl.features import FrontendConfig
    >>> from speechdl.nn import build
    >>> net = build("cnn_fc", in_dim=40, out_dim=22, channels=[4], fc=[8], num_frames=101).eval()
    >>> kws = KwsPipeline(net, FrontendConfig.logmel(), threshold=0.5, labels=LABELS)
    >>> r = kws.run(np.zeros(16000, np.float32), scores=True)
    >>> r.frame_hop, len(r.scores), r.label in LABELS, r.events == [] or r.events[0]["keyword"] in LABELS
    (0.1, 11, True, True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.api import Option, Pipeline, Result, Stream
from speechdl.errors import AudioError
from speechdl.tasks.kws.vocab import KEYWORDS, LABELS, SILENCE, UNKNOWN

SMOOTH = 3   # windows averaged before an event is decided (detect.events_from's default)

OPTIONS = (
    Option("threshold", "float", None, "keyword score (smoothed posterior) that makes an event; default: the "
           "bundle's calibrated one", minimum=0.0, maximum=1.0),
    Option("scores", "bool", False, "include every window's best keyword score (one number per 100 ms)"),
)


@dataclass
class KwsResult(Result):
    """Keywords heard in one input.

    Fields: ``file``, ``duration`` (s), ``model``, ``threshold``, ``label`` (the input as one command:
    a keyword, ``_silence_`` or ``_unknown_``), ``score`` (that keyword's score, or the share of windows
    voting for silence / unknown), ``events`` (``[{"keyword", "time", "start", "end", "score"}]``, times in s
    of the input), ``frame_hop`` (s between window scores), ``scores`` (best keyword score per window, only
    when asked for).
    """

    task = "kws"
    file: str
    duration: float
    model: str
    threshold: float
    label: str
    score: float
    events: list[dict[str, Any]]
    frame_hop: float
    scores: list[float] | None = None

    def to_text(self) -> str:
        """``file  label  events``."""
        ev = ", ".join(f"{e['keyword']}@{e['time']:.1f}s ({e['score']:.2f})" for e in self.events) or "-"
        return f"{self.file}\t{self.label}\t{ev}"


def clip_label(post: np.ndarray, events: list[dict[str, Any]], labels: tuple[str, ...],
               smooth: int = 3) -> tuple[str, float]:
    """The input as one command: the strongest event's keyword; without events, the class of the window whose
    best keyword posterior (averaged over ``smooth`` windows) is highest when that class wins there, else
    ``_silence_`` or ``_unknown_`` by the windows' votes (the classification a command clip needs; the event
    threshold is for spotting in running audio)."""
    if events:
        best = max(events, key=lambda e: e["score"])
        return best["keyword"], best["score"]
    if not len(post):
        return SILENCE, 1.0
    from speechdl.tasks.kws.detect import smoothed

    sm = smoothed(post, smooth)
    kw = [labels.index(k) for k in KEYWORDS if k in labels]
    w = int(sm[:, kw].max(1).argmax())
    c = int(sm[w].argmax())
    if labels[c] in KEYWORDS:
        return labels[c], round(float(sm[w, c]), 4)
    s, u = labels.index(SILENCE), labels.index(UNKNOWN)
    votes = post[:, [s, u]].argmax(1)
    sil = float((votes == 0).mean())
    return (SILENCE, round(sil, 4)) if sil >= 0.5 else (UNKNOWN, round(1 - sil, 4))


def keyword_scores(post: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Best keyword posterior per window ``(W,)`` (what the stream gives)."""
    kw = [labels.index(k) for k in KEYWORDS if k in labels]
    return post[:, kw].max(1) if len(post) else np.zeros(0, np.float32)


class KwsStream(Stream):
    """Chunk-by-chunk detection: ``{"scores": [...], "events": [...]}`` per chunk; events when they close."""

    def __init__(self, pipeline: KwsPipeline, threshold: float) -> None:
        self.pipeline, self.threshold = pipeline, threshold

    def init_state(self) -> Any:
        from speechdl.tasks.kws.detect import Detector

        n = len(self.pipeline.labels)
        # buf: the posteriors from window `base` on; events are looked for from window `scan` on (everything
        # before it is reported or below the threshold), so a long stream keeps a short buffer
        return {"detector": Detector(self.pipeline.model, self.pipeline.cfg), "buf": np.zeros((0, n), np.float32),
                "base": 0, "scan": 0}

    def _out(self, post: np.ndarray, state: dict[str, Any], final: bool) -> dict[str, Any]:
        from speechdl.tasks.kws.detect import events_from

        hop = state["detector"].hop_s
        buf = np.concatenate([state["buf"], post]) if len(post) else state["buf"]
        base, last = state["base"], state["base"] + len(buf) - 1
        ev = [e for e in events_from(buf, hop, self.threshold, labels=self.pipeline.labels, t0=base * hop,
                                     smooth=SMOOTH) if round(e["start"] / hop) >= state["scan"]]
        closed = [e for e in ev if final or round(e["end"] / hop) < last]
        still_open = [e for e in ev if e not in closed]
        state["scan"] = round(still_open[0]["start"] / hop) if still_open else last + 1
        keep = max(base, state["scan"] - SMOOTH)
        state["buf"], state["base"] = buf[keep - base:], keep
        return {"scores": keyword_scores(post, self.pipeline.labels).round(6).tolist(), "events": closed}

    def forward_chunk(self, samples: Any, state: Any) -> tuple[dict[str, Any], Any]:
        """Mono float32 samples (model rate, any length) -> this chunk's window scores and closed events."""
        return self._out(state["detector"].push(np.asarray(samples, np.float32)), state, False), state

    def finish(self, state: Any) -> dict[str, Any]:
        """The end of the audio: the last windows and events."""
        return self._out(state["detector"].finish(), state, True)


class KwsPipeline(Pipeline):
    """Keyword spotting: audio -> command label and keyword events with times; streams."""

    task = "kws"
    inputs = "audio"
    options = OPTIONS
    streaming = True
    stream_field = "scores"
    description = ("Keyword spotting: the ten commands (yes no up down left right on off stop go) and the "
                   "ten digits, with times, in audio of any length.")

    def __init__(self, model: Any, cfg: Any, threshold: float, labels: tuple[str, ...], path: Path | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        super().__init__(path, meta or {}, cfg.sample_rate)
        self.model, self.cfg, self.threshold, self.labels = model, cfg, float(threshold), labels

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> KwsPipeline:
        """Load a ``kws`` bundle directory."""
        from speechdl.features import FrontendConfig
        from speechdl.pretrained.bundle import load_model

        bundle, model = load_model(path, "kws")
        labels = tuple(bundle.meta.get("labels") or LABELS)
        thr = float((bundle.meta.get("thresholds") or {}).get("keyword", 0.5))
        return cls(model, FrontendConfig.from_dict(bundle.meta["frontend"]), thr, labels, path, meta)

    def _run(self, inputs: Any, threshold: float | None = None, scores: bool = False) -> KwsResult:
        from speechdl import audio as audio_io
        from speechdl.tasks.kws.detect import detect, events_from, window_hop

        if isinstance(inputs, str | os.PathLike):
            name = str(inputs)
            wave, _ = audio_io.load(inputs, sample_rate=self.sample_rate)
        else:
            wave = np.asarray(inputs, np.float32)
            if wave.ndim != 1:
                raise AudioError("waveform", f"expected mono (samples,), got shape {wave.shape}", "pass mono audio")
            name = "<waveform>"
        thr = self.threshold if threshold is None else float(threshold)
        post = detect(self.model, self.cfg, wave)
        hop = window_hop(self.model, self.cfg)
        events = events_from(post, hop, thr, labels=self.labels)
        label, score = clip_label(post, events, self.labels)
        return KwsResult(file=name, duration=round(len(wave) / self.sample_rate, 6), model=self.name,
                         threshold=round(thr, 4), label=label, score=round(float(score), 4), events=events,
                         frame_hop=round(hop, 6),
                         scores=keyword_scores(post, self.labels).round(6).tolist() if scores else None)

    def stream(self, threshold: float | None = None, **options: Any) -> KwsStream:
        """A chunk-by-chunk detector (``forward_chunk``): window scores and closed events per chunk."""
        self.check_options({"threshold": threshold, **options})
        return KwsStream(self, self.threshold if threshold is None else float(threshold))

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """One window as an ONNX graph ``waveform (1, samples)`` -> ``logits (1, classes)`` (front-end
        included), checked against torch (:mod:`speechdl.tasks.kws.onnx`)."""
        from speechdl.tasks.kws.onnx import export_kws

        return export_kws(self.model, self.cfg, out)
