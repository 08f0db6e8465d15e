"""Evaluation of a speaker bundle on a trial list: EER, minDCF (p_target 0.01 and 0.05), the error rates
at the bundle's calibrated threshold, and a DET plot.

Every distinct file of the list is embedded once (batched); trials are scored by cosine similarity.

Example:
    >>> # from speechdl.tasks.speaker.infer import load_speaker
    >>> # evaluate(load_speaker("bundle"), "veri_test.txt", root="/data/vox1/wav", plot="det.png")["eer"]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import DataError
from speechdl.metrics.verification import verification_metrics
from speechdl.tasks.speaker.trials import check_files, read_trials, trial_files


def score_trials(spk: Any, trials: str | os.PathLike, root: str | os.PathLike | None = None,
                 batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores ``(N,)`` and target flags ``(N,)`` of the trials of list ``trials`` (paths under ``root``)
    with the :class:`~speechdl.tasks.speaker.infer.SpeakerModel` ``spk``. Every file is checked first."""
    ts = read_trials(trials, root)
    check_files(ts, trials)
    files = trial_files(ts)
    emb = spk.embed_files(files, batch_size)
    index = {f: i for i, f in enumerate(files)}
    enroll = emb[[index[t.enroll] for t in ts]]
    test = emb[[index[t.test] for t in ts]]
    return spk.score(enroll, test), np.array([t.target for t in ts])


def evaluate(spk: Any, trials: str | os.PathLike, root: str | os.PathLike | None = None,
             plot: str | os.PathLike | None = None, batch_size: int = 16) -> dict[str, Any]:
    """Metrics of ``spk`` on a trial list.

    Returns ``trials``, ``targets``, ``nontargets``, ``eer``, ``eer_threshold``, ``min_dcf_0.01``,
    ``min_dcf_0.05`` (and their thresholds), with a calibrated bundle ``threshold``, ``far`` and ``frr``
    there, and ``plot`` (the PNG written) when ``plot`` is given.
    """
    scores, target = score_trials(spk, trials, root, batch_size)
    if not (target.any() and (~target).any()):
        raise DataError(trials, f"has {int(target.sum())} target and {int((~target).sum())} non-target trials",
                        "EER needs trials of both kinds")
    out: dict[str, Any] = {"trials": len(scores), **verification_metrics(scores, target)}
    if spk.calibration:
        t = spk.threshold()
        accept = scores >= t
        out.update(threshold=t, far=float(accept[~target].mean()), frr=float((~accept[target]).mean()))
    if plot:
        from speechdl.metrics.plots import plot_roc_det

        name = str(((spk.meta or {}).get("model") or {}).get("name", "speaker"))
        out["plot"] = str(plot_roc_det({name: (scores, target)}, plot, title=Path(trials).name,
                                       classes=("target trials", "non-target trials")))
    return out
