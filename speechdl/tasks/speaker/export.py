"""``speechdl speaker export``: a training run -> a speaker bundle with its back-end and calibrations.

1. The best checkpoint's ``speaker_net`` and front-end.
2. Back-end training embeddings: whole utterances (no crops, no augmentation) of the run's training data
   (its recipe's ``data.manifests``, or the recipe's training set itself, e.g. ``speaker_toy``), or of
   ``backend_data`` manifest directories; at most ``max_per_speaker`` per speaker, chosen by a seeded draw.
3. :meth:`Scorer.fit <speechdl.tasks.speaker.scoring.Scorer.fit>`: LDA + PLDA and the AS-norm cohort.
4. Calibration trials (all pairs of the run's validation utterances, or a trial list): one
   :func:`~speechdl.tasks.speaker.backends.calibrate` dict per back-end and normalisation.
5. :func:`~speechdl.pretrained.save_bundle` with ``plda.npz`` and ``cohort.npy`` beside the weights.

Example:
    >>> # export_run("runs/speaker/toy_xvector", "bundles/toy", backend="plda", cohort_size=100)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.tasks.speaker.backends import calibrate, parse_operating_point
from speechdl.tasks.speaker.infer import SpeakerModel
from speechdl.tasks.speaker.scoring import BACKENDS, Scorer

MAX_SECONDS = 30.0


def _datamodule(cfg: dict[str, Any]) -> Any:
    from speechdl.train.datamodule import RecipeDataModule

    data = dict(cfg.get("data") or {})
    dm = RecipeDataModule(data.pop("name"), data, seed=int((cfg.get("trainer") or {}).get("seed", 0)))
    dm.setup("fit")
    return dm


def _base(ds: Any) -> tuple[Any, list[int]]:
    """The dataset under ``Subset`` wrappers and the indices into it of ``ds``'s items."""
    idx = list(range(len(ds)))
    while isinstance(ds, torch.utils.data.Subset):
        idx = [int(ds.indices[i]) for i in idx]
        ds = ds.dataset
    return ds, idx


def backend_embeddings(spk: SpeakerModel, cfg: dict[str, Any], manifests: Sequence[str | os.PathLike] | None = None,
                       max_per_speaker: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Embeddings ``(N, D)``, speaker names ``(N,)`` and a description of the back-end training data.

    Whole utterances of ``manifests`` (lhotse manifest directories) or, by default, of the run's training
    data (recipe ``data.manifests``, else its training set with crops and augmentation off); at most
    ``max_per_speaker`` per speaker (a seeded draw, the same on every export). Recordings longer than 30 s
    are embedded in blocks.
    """
    from speechdl.tasks.speaker.data import SpeakerUtterances, read_speaker_utterances

    if max_per_speaker < 1:
        raise ConfigError("--max-per-speaker", f"must be at least 1, got {max_per_speaker}", "e.g. 20")
    data = cfg.get("data") or {}
    manifests = list(manifests or []) or data.get("manifests")
    if manifests:
        paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
        ds = SpeakerUtterances(read_speaker_utterances(paths), spk.cfg, None, None, training=False)
        idx, source = list(range(len(ds))), "manifests " + ", ".join(str(p) for p in paths)
    else:
        ds, idx = _base(_datamodule(cfg).train_set)
        if not isinstance(ds, SpeakerUtterances):
            raise ConfigError(f"data {data.get('name')!r}", "is not a speaker dataset the back-end can read",
                              "pass --backend-data MANIFEST_DIR")
        source = f"the run's training set ({data.get('name')})"
    by_speaker: dict[str, list[int]] = {}
    for i in sorted(idx, key=lambda i: str(ds.rows[i].get("id", i))):
        by_speaker.setdefault(str(ds.rows[i]["speaker"]), []).append(i)
    rng = np.random.default_rng(seed)
    chosen, labels = [], []
    for name in sorted(by_speaker):
        items = by_speaker[name]
        if len(items) > max_per_speaker:
            items = [items[k] for k in sorted(rng.choice(len(items), max_per_speaker, replace=False))]
        chosen += items
        labels += [name] * len(items)
    from speechdl.console import progress

    emb = np.zeros((len(chosen), spk.dim), np.float32)
    block = int(MAX_SECONDS * spk.cfg.sample_rate)
    bar = progress(range(0, len(chosen), 16), total=-(-len(chosen) // 16), desc="back-end embeddings", unit="batch")
    for k in bar:
        waves = [ds.wave(i) for i in chosen[k:k + 16]]       # whole utterances: no crop, no augmentation
        short = [j for j, w in enumerate(waves) if len(w) <= block]
        emb[[k + j for j in short]] = spk.embed_waves([waves[j] for j in short])
        for j in sorted(set(range(len(waves))) - set(short)):
            emb[k + j] = spk.embed_wave(waves[j], MAX_SECONDS)
    return emb, np.array(labels), f"{len(chosen)} utterances of {len(by_speaker)} speakers from {source}"


def validation_trials(spk: SpeakerModel, cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of the run's validation utterances (at most 400): embeddings ``(U, D)``, pair indices
    ``(N,), (N,)`` into them and target flags ``(N,)``."""
    val = _datamodule(cfg).val_set
    if val is None or len(val) < 2:
        raise ConfigError("speaker export", "the run has no validation utterances to calibrate on",
                          "pass --trials LIST --root DIR")
    items = [val[i] for i in range(min(len(val), 400))]
    labels = np.array([int(it["y"]) for it in items])
    i, j = np.triu_indices(len(items), 1)
    return spk.embed_features([it["x"] for it in items]), i, j, labels[i] == labels[j]


def pair_scores(spk: SpeakerModel, emb: np.ndarray, i: np.ndarray, j: np.ndarray, backend: str, norm: str,
                chunk: int = 20000) -> np.ndarray:
    """Scores ``(N,)`` of the pairs ``(emb[i[n]], emb[j[n]])`` of embeddings ``(U, D)``, in chunks."""
    return np.concatenate([spk.score(emb[i[k:k + chunk]], emb[j[k:k + chunk]], backend, norm)
                           for k in range(0, len(i), chunk)] or [np.zeros(0)])


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, operating_point: str = "eer",
               trials: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
               half: bool = False, backend: str = "cosine", cohort_size: int = 200, lda_dim: int | None = None,
               backend_data: Sequence[str | os.PathLike] | None = None, max_per_speaker: int = 20) -> Path:
    """Bundle the best checkpoint of a ``speaker`` training run with its back-end (see the module docstring).

    ``backend``: the bundle's default (``cosine`` or ``plda``); both are fitted and calibrated.
    ``cohort_size``: AS-norm cohort speakers (0: no cohort, no normalisation). ``lda_dim``: default
    ``min(D, speakers - 1, 128)``. Calibration trials: every pair of the run's validation utterances, or the
    trial list ``trials`` (paths under ``root``). Returns the bundle's path.
    """
    from speechdl.metrics.verification import verification_metrics
    from speechdl.pretrained.export import load_run, save_run_bundle

    parse_operating_point(operating_point)        # a typo fails before any work
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend}", "unknown", f"use one of {', '.join(BACKENDS)}")
    if cohort_size < 0 or (lda_dim is not None and lda_dim < 1):
        raise ConfigError("--cohort-size / --lda-dim", "must be positive", "e.g. --cohort-size 200 --lda-dim 128")
    run = load_run(run_dir, ("speaker",), payload_key="speaker")
    cfg, meta, model, ckpt_path = run.config, run.payload, run.model, run.checkpoints[-1]
    if not meta.get("frontend"):
        raise ConfigError(ckpt_path, "holds no front-end", "re-train with this speechdl version")
    spk = SpeakerModel(model, FrontendConfig.from_dict(meta["frontend"]))

    emb, labels, backend_source = backend_embeddings(spk, cfg, backend_data, max_per_speaker)
    scorer = Scorer.fit(emb, labels, lda_dim, cohort_size, backend)
    spk.scorer = scorer
    if trials is not None:
        from speechdl.tasks.speaker.evaluate import trial_embeddings

        u, i, j, target = trial_embeddings(spk, trials, root, desc="calibration trials")
        source = f"trial list {trials}"
    else:
        u, i, j, target = validation_trials(spk, cfg)
        source = "all pairs of the run's validation utterances"
    norms = ["none"] + (["asnorm"] if scorer.cohort is not None else [])
    scores = {(b, n): pair_scores(spk, u, i, j, b, n) for b in scorer.backends for n in norms}
    scorer.calibrations = {b: {n: calibrate(scores[b, n], target, operating_point) for n in norms}
                           for b in scorer.backends}
    cal = scorer.calibration()
    m = verification_metrics(scores[scorer.default, scorer.norm], target)
    metrics = {"calibration_trials": source, "backend": scorer.default, "norm": scorer.norm,
               "eer": round(m["eer"], 5), "min_dcf_0.01": round(m["min_dcf_0.01"], 5),
               "min_dcf_0.05": round(m["min_dcf_0.05"], 5), "targets": m["targets"], "nontargets": m["nontargets"],
               **{f"eer_{b}_{n}": round(c["eer"], 5) for b, per in scorer.calibrations.items() for n, c in per.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        files, desc = scorer.to_files(tmp)
        desc["data"] = backend_source
        return save_run_bundle(
            run, out, task="speaker", frontend=meta["frontend"], half=half, files=files, metrics=metrics,
            thresholds={b: per[scorer.norm]["threshold"] for b, per in scorer.calibrations.items()},
            command=f"speechdl speaker export {run.path} --bundle {out} --operating-point {operating_point} "
                    f"--backend {backend} --cohort-size {cohort_size}",
            card=f"Training speakers: {len(meta.get('speakers') or [])}. "
                 f"Back-end ({', '.join(scorer.backends)}; default {scorer.default}, norm {scorer.norm}) fitted on "
                 f"{backend_source}; calibrated ({operating_point}) on {source}.",
            extra={"calibration": cal, "backend": desc,
                   "embedding": {"dim": model.embed_dim, "score": scorer.default, "norm": scorer.norm}})
