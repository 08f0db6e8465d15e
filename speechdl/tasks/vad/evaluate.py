"""Frame-level evaluation of a VAD on a manifest: ``speechdl vad eval MANIFEST``.

Reference labels come from the manifest: a frame is speech when its centre lies in one of the
recording's speech intervals (``custom["speech"]`` of its supervisions, else the supervision spans;
see :func:`speechdl.data.manifests.speech_intervals`); a recording without supervisions is all
non-speech. Frames follow the toolkit's grid: frame ``t`` centred at ``t * 10 ms``, ``1 + N // 160``
frames for ``N`` samples at 16 kHz.

Any callable ``scorer(wave_16k) -> scores per frame`` can be evaluated (:func:`evaluate`): a
speechdl bundle (``VAD.probabilities``), a baseline from :mod:`speechdl.tasks.vad.baselines`, a stub.

Example:
    >>> num_frames(16000)                             # 1 s at 16 kHz: frames centred every 10 ms
    101
    >>> centre_labels([(0.02, 0.05)], 7).tolist()     # frames whose centre lies in [0.02, 0.05)
    [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechdl import audio
from speechdl.data.manifests import load_manifests, speech_intervals
from speechdl.errors import ConfigError, DataError
from speechdl.metrics.detection import summary

SR = 16000
HOP_S = 0.01
Scorer = Callable[[np.ndarray], Any]
MAX_LENGTH_SLACK = 2  # frames a scorer may return more or fewer than the grid (padded / cropped)


def num_frames(num_samples: int) -> int:
    """Frames of the 10 ms grid for ``num_samples`` at 16 kHz: ``1 + N // 160``."""
    return 1 + int(num_samples) // int(SR * HOP_S)


def centre_labels(intervals: list[tuple[float, float]], n_frames: int, hop_s: float = HOP_S) -> np.ndarray:
    """0/1 per frame ``(n_frames,)``: 1 when the frame centre ``t * hop_s`` lies in ``[start, end)``."""
    centres = np.arange(n_frames) * hop_s
    y = np.zeros(n_frames, np.float32)
    for a, b in intervals:
        y[(centres >= a - 1e-9) & (centres < b - 1e-9)] = 1.0
    return y


def reference_labels(intervals: list[tuple[float, float]], n_frames: int, hop_s: float = HOP_S) -> np.ndarray:
    """Frame labels as the VAD training data makes them (``speechdl.tasks.vad.data.frame_labels``).

    Falls back to :func:`centre_labels` (the same definition) when that module is not available.
    """
    try:
        from speechdl.tasks.vad.data import frame_labels
    except ImportError:
        return centre_labels(intervals, n_frames, hop_s)
    return np.asarray(frame_labels(intervals, n_frames, hop_s), dtype=np.float32).reshape(-1)


def load_recording(rec: Any) -> np.ndarray:
    """Mono float32 samples of a lhotse ``Recording`` at 16 kHz ``(N,)``."""
    src = rec.sources[0] if len(rec.sources) == 1 else None
    if src is not None and src.type == "file":
        return audio.load(src.source, sample_rate=SR)[0]
    try:
        x = np.asarray(rec.load_audio(), dtype=np.float32)
    except Exception as err:  # lhotse raises many types for unreadable sources
        raise DataError(rec.id, f"cannot load recording ({err})", "check its sources in the manifest") from None
    return audio.resample(audio.to_mono(x.T), int(rec.sampling_rate), SR)


@dataclass
class Scored:
    """Scores and reference labels of a manifest, one 1-D array per recording."""

    ids: list[str] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    seconds_audio: float = 0.0
    seconds_compute: float = 0.0

    def concat(self) -> tuple[np.ndarray, np.ndarray]:
        """All frames: ``(scores (F,), labels (F,))``."""
        if not self.scores:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        return np.concatenate(self.scores), np.concatenate(self.labels)

    @property
    def x_real_time(self) -> float:
        """Seconds of audio scored per second of scorer compute."""
        return self.seconds_audio / self.seconds_compute if self.seconds_compute > 0 else float("inf")


def iter_references(manifest: str | os.PathLike, limit: int | None = None,
                    max_seconds: float | None = None, desc: str | None = None
                    ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(recording id, wave_16k (N,), labels (1 + N // 160,))`` for the manifest's recordings.

    ``limit`` keeps the first recordings only; ``max_seconds`` crops each recording (smoke tests);
    ``desc``: a progress bar (recordings) under that name on a terminal.
    """
    from speechdl.console import progress

    recordings, supervisions = load_manifests(manifest)
    per_rec: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sup in supervisions or []:
        per_rec[sup.recording_id].extend(speech_intervals(sup))
    total = len(recordings) if limit is None else min(limit, len(recordings))
    for i, rec in enumerate(progress(recordings, total=total, desc=desc or "", unit="rec", enabled=desc is not None)):
        if limit is not None and i >= limit:
            break
        wave = load_recording(rec)
        if max_seconds is not None:
            wave = wave[: int(max_seconds * SR)]
        yield rec.id, wave, reference_labels(per_rec.get(rec.id, []), num_frames(wave.size))


def to_grid(probs: np.ndarray, frame_hop: float, n_frames: int) -> np.ndarray:
    """Frame scores at another hop (frame ``j`` centred at ``j * frame_hop`` s) on the 10 ms grid ``(n_frames,)``.

    Linear interpolation between the two nearest frame centres (edge values held), so a 20 ms model is
    scored on the same frames as the reference labels; a 10 ms input is returned unchanged.

    >>> to_grid(np.array([0.0, 1.0], np.float32), 0.02, 4).tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    p = np.asarray(probs, np.float32).reshape(-1)
    if abs(frame_hop - HOP_S) < 1e-9 or p.size == 0:
        return p
    return np.interp(np.arange(n_frames) * HOP_S, np.arange(p.size) * frame_hop, p).astype(np.float32)


def fit_length(scores: Any, n_frames: int, where: str = "") -> np.ndarray:
    """``scores`` as float32 ``(n_frames,)``: a frame or two too many/few is cropped/edge-padded."""
    if hasattr(scores, "detach"):
        scores = scores.detach().cpu().numpy()
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    if abs(s.size - n_frames) > MAX_LENGTH_SLACK or s.size == 0:
        raise ConfigError(where or None, f"scorer returned {s.size} frames, expected {n_frames} (1 + samples // 160)",
                          "the scorer must return one score per 10 ms frame of 16 kHz audio")
    if s.size >= n_frames:
        return s[:n_frames]
    return np.pad(s, (0, n_frames - s.size), mode="edge")


def score_items(items: Iterable[tuple[str, np.ndarray, np.ndarray]], scorer: Scorer,
                where: str | os.PathLike = "", clock: Callable[[], float] = time.perf_counter) -> Scored:
    """Run ``scorer`` on ``(id, wave_16k, labels)`` items (e.g. :func:`iter_references`, preloaded).

    ``clock`` times the scorer calls (wall clock; a benchmark at 1 thread may pass ``time.thread_time``).
    """
    out = Scored()
    for rid, wave, labels in items:
        t0 = clock()
        s = scorer(wave)
        out.seconds_compute += clock() - t0
        out.seconds_audio += wave.size / SR
        out.ids.append(rid)
        out.scores.append(fit_length(s, labels.size, rid))
        out.labels.append(labels)
    if not out.ids:
        raise DataError(where or None, "no recordings to evaluate", "check the manifest")
    return out


def score_manifest(manifest: str | os.PathLike, scorer: Scorer, limit: int | None = None,
                   max_seconds: float | None = None, desc: str | None = None) -> Scored:
    """Run ``scorer`` on every recording of ``manifest``; keep scores, labels and compute time (``desc``: a
    progress bar)."""
    return score_items(iter_references(manifest, limit, max_seconds, desc), scorer, manifest)


def metrics_of(scored: Scored, threshold: float) -> dict[str, Any]:
    """Metrics of scored frames at ``threshold`` (see :func:`speechdl.metrics.detection.summary`)."""
    s, y = scored.concat()
    m = summary(s, y, threshold)
    return {"recordings": len(scored.ids), "hours": scored.seconds_audio / 3600, "frames": int(m["frames"]),
            "speech_fraction": m["speech_fraction"], "threshold": float(threshold),
            "accuracy": m["accuracy"], "precision": m["precision"], "recall": m["recall"], "f1": m["f1"],
            "roc_auc": m["roc_auc"], "eer": m["eer"], "eer_threshold": m["eer_threshold"],
            "false_alarm": m["fpr"], "miss": m["miss"], "x_real_time": scored.x_real_time}


def evaluate(manifest: str | os.PathLike, scorer: Scorer, threshold: float = 0.5,
             plot: str | os.PathLike | None = None, name: str = "speechdl", desc: str | None = None) -> dict[str, Any]:
    """Frame accuracy, precision, recall, F1 (at ``threshold``), ROC-AUC and EER of ``scorer``.

    Args:
        manifest: manifest directory or file (see :func:`speechdl.data.manifests.load_manifests`).
        scorer: ``scorer(wave_16k (N,)) -> scores (1 + N // 160,)``, higher = speech.
        threshold: frames with ``score >= threshold`` are decided speech.
        plot: write a ROC + DET PNG here.
        name: the system's name in the plot legend.
        desc: show a progress bar (recordings) under this name on a terminal.

    Returns:
        dict: ``recordings, hours, frames, speech_fraction, threshold, accuracy, precision, recall,
        f1, roc_auc, eer, eer_threshold, false_alarm, miss, x_real_time`` (and ``plot``).
    """
    scored = score_manifest(manifest, scorer, desc=desc)
    result = metrics_of(scored, threshold)
    if plot:
        from speechdl.metrics.plots import plot_roc_det

        result["plot"] = str(plot_roc_det({name: scored.concat()}, plot, title=Path(str(manifest)).name))
    return result


# ------------------------------------------------------------------------------------ command line


def load_vad(model: str | os.PathLike | None) -> Any:
    """A loaded speechdl ``VAD`` (:mod:`speechdl.tasks.vad.infer`) from a bundle; ``None``: the shipped one."""
    try:
        from speechdl.tasks.vad.infer import VAD
    except ImportError as err:
        raise ConfigError(None, f"the VAD inference module is not available ({err})", "update speechdl") from None
    return VAD.from_bundle(model) if model is not None else VAD.from_bundle()


def bundle_threshold(vad: Any, default: float = 0.5) -> float:
    """The decision threshold a bundle carries (its post-processing onset), else ``default``."""
    post = getattr(vad, "post", None)
    return float(getattr(post, "onset", getattr(vad, "threshold", default)))


def load_scorer(model: str | None) -> tuple[Scorer, float, str]:
    """``(scorer, bundle threshold, name)`` of a speechdl VAD bundle (``None``: the shipped one)."""
    vad = load_vad(model)
    threshold = bundle_threshold(vad)
    name = Path(model).stem if model else "speechdl"
    return grid_scorer(vad), threshold, name


def grid_scorer(vad: Any) -> Scorer:
    """``wave_16k -> probabilities on the 10 ms grid`` of a speechdl ``VAD`` (any frame hop)."""
    if abs(vad.frame_hop - HOP_S) < 1e-9:
        return vad.probabilities
    return lambda wave: to_grid(vad.probabilities(wave), vad.frame_hop, num_frames(np.asarray(wave).size))


def _table(result: dict[str, Any]) -> list[dict[str, Any]]:
    pct = ("speech_fraction", "accuracy", "precision", "recall", "f1", "eer", "false_alarm", "miss")
    rows = []
    for k, v in result.items():
        if k in pct and isinstance(v, float):
            v = f"{100 * v:.2f} %"
        rows.append({"metric": k, "value": v})
    return rows


def run_eval(args: argparse.Namespace, scorer: Scorer | None = None) -> int:
    """Handler of ``speechdl vad eval``; ``scorer`` replaces the bundle (tests, other systems)."""
    from speechdl.console import START_OVER, emit, interruptible

    threshold, name = args.threshold, "speechdl"
    if scorer is None:
        scorer, bundle_threshold, name = load_scorer(args.model)
        threshold = bundle_threshold if threshold is None else threshold
    threshold = 0.5 if threshold is None else threshold
    with interruptible("vad eval", "recordings", "nothing was written; " + START_OVER):
        result = evaluate(args.manifest, scorer, threshold, plot=args.plot, name=name, desc="vad eval")
    emit(result, args.format, table=_table(result))
    return 0


def add_eval(verbs: Any) -> argparse.ArgumentParser:
    """Register ``eval`` on the ``speechdl vad`` sub-parsers ``verbs``; returns its parser."""
    from speechdl.console import add_format_option

    p = verbs.add_parser("eval", help="frame accuracy/precision/recall/F1, ROC-AUC, EER on a manifest",
                         description="Evaluate a VAD bundle frame by frame (10 ms) against the manifest's "
                                     "speech intervals.")
    p.add_argument("manifest", metavar="MANIFEST", help="manifest directory or file with speech intervals")
    p.add_argument("--model", default=None, help="VAD bundle (default: the shipped one)")
    from speechdl import validate
    # any finite number: a bundle's scores are probabilities, a baseline's (energy, logits) need not be
    p.add_argument("--threshold", type=validate.flag("--threshold", example=0.5), default=None,
                   help="decision threshold on the score (default: the bundle's onset)")
    p.add_argument("--plot", default=None, metavar="PNG", type=validate.file_arg("--plot"),
                   help="write a ROC + DET plot here")
    add_format_option(p)
    p.set_defaults(func=run_eval)
    return p
