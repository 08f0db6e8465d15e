"""Evaluation of a speaker bundle on a trial list: EER, minDCF (p_target 0.01 and 0.05), the error rates
at the bundle's calibrated threshold, and a DET plot.

Every distinct file of the list is embedded once (batched); trials are scored with the bundle's back-end
(cosine or PLDA, AS-norm when it has a cohort) or the one asked for.

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


def trial_embeddings(spk: Any, trials: str | os.PathLike, root: str | os.PathLike | None = None,
                     batch_size: int = 16, desc: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings ``(U, D)`` of the distinct files of list ``trials`` (paths under ``root``), each trial's
    enrollment and test row in them ``(N,), (N,)`` and target flags ``(N,)``. Every file is checked first."""
    ts = read_trials(trials, root)
    check_files(ts, trials)
    files = trial_files(ts)
    emb = spk.embed_files(files, batch_size, desc=desc)   # desc: a progress bar (files)
    index = {f: i for i, f in enumerate(files)}
    return (emb, np.array([index[t.enroll] for t in ts], dtype=np.int64),
            np.array([index[t.test] for t in ts], dtype=np.int64), np.array([t.target for t in ts], dtype=bool))


def score_trials(spk: Any, trials: str | os.PathLike, root: str | os.PathLike | None = None,
                 batch_size: int = 16, backend: str | None = None, norm: str | None = None,
                 desc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(N,)`` (``backend`` and ``norm``, default: the bundle's) and target flags ``(N,)`` of the trials
    of list ``trials`` with the :class:`~speechdl.tasks.speaker.infer.SpeakerModel` ``spk``."""
    emb, i, j, target = trial_embeddings(spk, trials, root, batch_size, desc)
    scores = np.concatenate([spk.score(emb[i[k:k + 20000]], emb[j[k:k + 20000]], backend, norm)
                             for k in range(0, len(i), 20000)])
    return scores, target


def evaluate(spk: Any, trials: str | os.PathLike, root: str | os.PathLike | None = None,
             plot: str | os.PathLike | None = None, batch_size: int = 16, backend: str | None = None,
             norm: str | None = None, desc: str | None = None) -> dict[str, Any]:
    """Metrics of ``spk`` on a trial list, scored with ``backend`` / ``norm`` (default: the bundle's).

    Returns ``backend``, ``norm``, ``trials``, ``targets``, ``nontargets``, ``eer``, ``eer_threshold``,
    ``min_dcf_0.01``, ``min_dcf_0.05`` (and their thresholds), with a calibrated bundle ``threshold``, ``far``
    and ``frr`` there, and ``plot`` (the PNG written) when ``plot`` is given. ``desc``: a progress bar (files).
    """
    backend, norm = spk.scorer.check(backend, norm)    # a bundle without that back-end fails before embedding
    scores, target = score_trials(spk, trials, root, batch_size, backend, norm, desc)
    if not (target.any() and (~target).any()):
        raise DataError(trials, f"has {int(target.sum())} target and {int((~target).sum())} non-target trials",
                        "EER needs trials of both kinds")
    out: dict[str, Any] = {"backend": backend, "norm": norm, "trials": len(scores),
                           **verification_metrics(scores, target)}
    if spk.scorer.calibration(backend, norm):
        t = spk.threshold(None, backend, norm)
        accept = scores >= t
        out.update(threshold=t, far=float(accept[~target].mean()), frr=float((~accept[target]).mean()))
    if plot:
        from speechdl.metrics.plots import plot_roc_det

        name = str(((spk.meta or {}).get("model") or {}).get("name", "speaker"))
        out["plot"] = str(plot_roc_det({f"{name} {backend}": (scores, target)}, plot, title=Path(trials).name,
                                       classes=("target trials", "non-target trials")))
    return out
