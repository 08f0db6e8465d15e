"""Segment rules of a VAD picked on dev audio: which post-processing gives the best frame F1 after it.

The onset threshold comes first (best frame F1 of the raw posteriors, :func:`speechdl.metrics.detection.
tune_threshold`); then every rule of :data:`RULE_GRID` (hysteresis width, median window, minimum speech and
silence) turns the posteriors into segments (:func:`speechdl.tasks.vad.post.segments`, what users get), the
segments are read back on the 10 ms reference grid, and their F1 is measured. :func:`pick_rule` takes the rule
with the best mean rank over several dev sets (the folds of ``recipes/vad/lofo.py``), so one setting serves them
all and none of the folds' test families is looked at. ``speechdl vad calibrate`` (:func:`calibrate_bundle`) fits
both to a user's own labelled audio.

Example:
    >>> import numpy as np
    >>> y = np.zeros(300, np.float32); y[100:200] = 1                     # 1 s of speech on the 10 ms grid
    >>> p = np.where(y > 0, 0.9, 0.1).astype(np.float32)
    >>> p[20:26] = p[250:256] = 0.9                                         # two 60 ms blips of noise
    >>> scores = rule_f1([p], [y], 0.01, onset=0.5, candidates=[(0.0, 1, 0.15, 0.1), (0.0, 1, 0.0, 0.1)])
    >>> round(scores[(0.0, 1, 0.15, 0.1)], 3), round(scores[(0.0, 1, 0.0, 0.1)], 3)   # blips dropped / kept
    (0.971, 0.87)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.metrics.detection import frame_metrics
from speechdl.tasks.vad.post import PostConfig, segments

Rule = tuple[float, int, float, float]  # (onset - offset, median window in model frames, min speech s, min silence s)

RULE_GRID: dict[str, tuple[float, ...]] = {
    "offset_delta": (0.0, 0.05, 0.1, 0.15),
    "smooth_frames": (1, 3, 5),
    "min_speech": (0.15, 0.25, 0.4),
    "min_silence": (0.1, 0.2),
}
PAD = 0.03


def rules(grid: dict[str, tuple[float, ...]] | None = None) -> list[Rule]:
    """Every combination of ``grid`` (default :data:`RULE_GRID`), in a fixed order."""
    g = grid or RULE_GRID
    return [(float(d), int(w), float(s), float(q)) for d, w, s, q in
            itertools.product(g["offset_delta"], g["smooth_frames"], g["min_speech"], g["min_silence"])]


def post_of(rule: Rule, onset: float, pad: float = PAD) -> PostConfig:
    """The :class:`PostConfig` of ``rule`` at ``onset`` (window 1: no smoothing).

    >>> post_of((0.0, 3, 0.25, 0.1), 0.43)
    PostConfig(onset=0.43, offset=0.43, smoothing='median', smooth_frames=3, min_speech=0.25, min_silence=0.1, pad=0.03)
    """
    delta, window, min_speech, min_silence = rule
    return PostConfig(onset=onset, offset=max(0.01, round(onset - delta, 6)),
                      smoothing="median" if window > 1 else "none", smooth_frames=int(window),
                      min_speech=min_speech, min_silence=min_silence, pad=pad)


def decisions(probs: np.ndarray, frame_hop: float, n_frames: int, post: PostConfig) -> np.ndarray:
    """Speech (True) per 10 ms reference frame ``(n_frames,)`` from the segments of ``probs`` ``(T,)`` (one
    recording, frames ``frame_hop`` s apart): a frame is speech when its centre lies in a segment."""
    from speechdl.tasks.vad.evaluate import centre_labels

    return centre_labels([(g["start"], g["end"]) for g in segments(probs, frame_hop, post)], n_frames, 0.01) > 0.5


def segment_f1(probs: Sequence[np.ndarray], labels: Sequence[np.ndarray], frame_hop: float, post: PostConfig) -> float:
    """Frame F1 of ``post``'s segments over recordings ``probs[i] (T_i,)`` with 10 ms ``labels[i]``."""
    pred = np.concatenate([decisions(p, frame_hop, y.size, post) for p, y in zip(probs, labels, strict=True)])
    return frame_metrics(pred, np.concatenate([np.asarray(y) for y in labels]), 0.5)["f1"]


def rule_f1(probs: Sequence[np.ndarray], labels: Sequence[np.ndarray], frame_hop: float, onset: float,
            candidates: list[Rule] | None = None) -> dict[Rule, float]:
    """Frame F1 after each rule's segments at ``onset`` (:func:`segment_f1`), per rule."""
    return {rule: segment_f1(probs, labels, frame_hop, post_of(rule, onset)) for rule in candidates or rules()}


def pick_rule(per_set: Sequence[dict[Rule, float]]) -> tuple[Rule, dict[Rule, float]]:
    """The rule with the best mean rank (1 = best F1) over dev sets, and every rule's mean rank.

    >>> a, b = {(0.0, 1, 0.1, 0.1): 0.9, (0.1, 1, 0.1, 0.1): 0.8}, {(0.0, 1, 0.1, 0.1): 0.7, (0.1, 1, 0.1, 0.1): 0.75}
    >>> pick_rule([a, a, b])[0]
    (0.0, 1, 0.1, 0.1)
    """
    ranks: dict[Rule, list[int]] = {}
    for scores in per_set:
        for i, rule in enumerate(sorted(scores, key=lambda r: -scores[r])):
            ranks.setdefault(rule, []).append(i + 1)
    mean = {r: float(np.mean(v)) for r, v in ranks.items() if len(v) == len(per_set)}
    return min(mean, key=lambda r: (mean[r], r)), mean


def write_post(bundle: str | os.PathLike, post: PostConfig, dev_f1: float | None = None) -> None:
    """Write ``post`` (onset, offset, segment rules) into a bundle directory's ``bundle.json``, atomically;
    ``dev_f1`` (the raw frame F1 at the onset) is recorded in its metrics."""
    meta_path = Path(bundle) / "bundle.json"
    meta = json.loads(meta_path.read_text())
    meta["post"] = post.to_dict()
    meta["thresholds"] = {"onset": post.onset, "offset": round(post.offset_threshold, 4)}
    if dev_f1 is not None:
        meta.setdefault("metrics", {})["dev_f1_at_onset"] = round(float(dev_f1), 4)
    tmp = meta_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, meta_path)


def at_onset(post: PostConfig, onset: float) -> PostConfig:
    """``post`` moved to ``onset``, its hysteresis width kept."""
    from dataclasses import replace

    return replace(post, onset=onset, offset=max(0.01, round(onset - (post.onset - post.offset_threshold), 6)))


def calibrate_bundle(model: str | os.PathLike, manifest: str | os.PathLike, out: str | os.PathLike,
                     rules_too: bool = True, desc: str | None = None) -> dict[str, object]:
    """Copy bundle ``model`` to ``out`` with its onset (best frame F1) and, with ``rules_too``, its segment rules
    (best F1 after segmentation over :func:`rules`) fitted to the labelled audio of ``manifest``; the report.

    ``out`` appears complete or not at all (written beside it, then renamed); an existing ``out`` is refused.
    """
    import shutil

    from speechdl.errors import ConfigError, DataError
    from speechdl.metrics.detection import tune_threshold
    from speechdl.pretrained.locate import resolve_bundle
    from speechdl.tasks.vad.evaluate import iter_references, load_vad, to_grid

    src, dst = resolve_bundle(model), Path(out)
    if dst.exists():
        raise ConfigError(str(dst), "already exists", "choose another --out or remove it")
    vad = load_vad(str(src))
    probs, labels = [], []
    for _, wave, y in iter_references(manifest, desc=desc):
        probs.append(vad.probabilities(wave))
        labels.append(y)
    y_all = np.concatenate(labels) if labels else np.zeros(0)
    if y_all.size == 0 or y_all.min() == y_all.max():
        raise DataError(str(manifest), "needs recordings with both speech and non-speech frames to calibrate on",
                        "add recordings whose speech intervals leave pauses (or silence-only recordings)")
    grid = np.concatenate([to_grid(p, vad.frame_hop, y.size)[: y.size] for p, y in zip(probs, labels, strict=True)])
    thr, raw_f1 = tune_threshold(grid, y_all[: grid.size], criterion="f1")
    onset = round(float(thr), 4)

    # the bundle as it is and at the fitted onset stay candidates: calibration never makes this audio worse
    candidates: dict[Rule | str, PostConfig] = {"bundle": vad.post, "bundle rules at the fitted onset":
                                                at_onset(vad.post, onset)}
    if rules_too:
        candidates.update({r: post_of(r, onset) for r in rules()})
    scores = {k: segment_f1(probs, labels, vad.frame_hop, p) for k, p in candidates.items()}
    best = max(scores, key=lambda k: scores[k])              # first of equals: the bundle's own rules win ties
    post = candidates[best]
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    write_post(tmp, post, raw_f1 if post.onset == onset else None)
    before, after = scores["bundle"], scores[best]
    card = tmp / "MODEL_CARD.md"
    note = (f"\n\n## Recalibrated\n`speechdl vad calibrate {manifest}` ({len(probs)} recordings): {post}; frame F1 "
            f"after segmentation {100 * before:.1f} -> {100 * after:.1f} % on that audio.\n")
    card.write_text((card.read_text() if card.is_file() else "") + note)
    os.replace(tmp, dst)
    return {"model": str(src), "out": str(dst), "recordings": len(probs), "chosen": str(best),
            "post": post.to_dict(), "previous_post": vad.post.to_dict(), "fitted_onset": onset,
            "frame_f1_raw_at_fitted_onset": round(float(raw_f1), 4), "f1_after_segments_before": round(before, 4),
            "f1_after_segments": round(after, 4)}


def run_calibrate(args: argparse.Namespace) -> int:
    """Handler of ``speechdl vad calibrate``."""
    from speechdl.console import START_OVER, emit, interruptible

    with interruptible("vad calibrate", "recordings", "nothing was written; " + START_OVER):
        report = calibrate_bundle(args.model, args.manifest, args.out, rules_too=not args.threshold_only,
                                  desc="vad calibrate")
    emit(report, args.format)
    return 0


def add_calibrate(verbs: Any) -> None:
    """Register ``calibrate`` on the ``speechdl vad`` sub-parsers ``verbs``."""
    from speechdl import validate
    from speechdl.console import add_format_option

    p = verbs.add_parser(
        "calibrate", help="fit a bundle's threshold and segment rules to your labelled audio",
        description="Copy a VAD bundle with its onset threshold (best frame F1) and its segment rules (hysteresis, "
                    "median window, minimum speech and silence: best F1 after segmentation) fitted to the speech "
                    "intervals of MANIFEST, e.g. a dev set from your own microphones and rooms.")
    p.add_argument("manifest", metavar="MANIFEST", help="manifest directory or file with speech intervals")
    p.add_argument("--model", default="vad", metavar="BUNDLE", help="bundle directory or shipped name (vad)")
    p.add_argument("--out", required=True, metavar="DIR", type=validate.dir_arg("--out"),
                   help="the calibrated copy (a new directory)")
    p.add_argument("--threshold-only", action="store_true", help="keep the bundle's segment rules")
    add_format_option(p)
    p.set_defaults(func=run_calibrate)
