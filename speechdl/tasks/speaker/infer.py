"""Public speaker API: load a bundle, embed waveforms and files, verify pairs; export a training run.

A speaker bundle (``speechdl/pretrained/bundle.py`` format, ``task: speaker``) holds the ``speaker_net``
model, its exact front-end, and ``calibration``: the :func:`~speechdl.tasks.speaker.backends.calibrate`
dict (``scale``/``offset`` of the score -> LLR map and the decision ``threshold`` of its operating
point) that ``verify`` and ``identify`` decide with. Scores are cosine similarities of embeddings.

Files longer than ``max_seconds`` are embedded block by block (bounded memory) and the length-normalised
block embeddings averaged, weighted by block length.

Example:
    >>> # spk = load_speaker("runs/speaker/toy/bundle")
    >>> # spk.verify("a.wav", "b.wav")            # {"score": 0.83, "threshold": 0.41, "same": True, ...}
    >>> # spk.embed_files(["a.wav", "b.wav"])      # (2, D) float32
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
from speechdl.tasks.speaker import model as _models  # noqa: F401  (registers speaker_net)
from speechdl.tasks.speaker.backends import calibrate, calibrated_llr, cosine_scores, length_norm

MIN_BLOCK_SECONDS = 0.5


class SpeakerModel:
    """An embedding extractor: ``speaker_net`` (eval mode) + front-end + calibration.

    Args:
        model: a ``speaker_net`` module. frontend: the :class:`FrontendConfig` it was trained with.
        calibration: a :func:`calibrate` dict (or None: decisions need an explicit threshold).
        meta: the bundle's ``bundle.json`` (for :attr:`fingerprint`).
    """

    def __init__(self, model: torch.nn.Module, frontend: FrontendConfig, calibration: dict[str, Any] | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.cfg, self.frontend = frontend, Frontend(frontend).eval()
        self.calibration = calibration or None
        self.meta = meta or {}

    @classmethod
    def from_bundle(cls, path: str | os.PathLike) -> SpeakerModel:
        """Load a ``speaker`` bundle directory (or shipped name)."""
        b, model = load_model(path, "speaker")
        return cls(model, FrontendConfig.from_dict(b.meta["frontend"]), b.meta.get("calibration"), b.meta)

    @property
    def dim(self) -> int:
        """Embedding size D."""
        return int(self.model.embed_dim)

    @property
    def fingerprint(self) -> str:
        """An identifier of the weights (their sha256 in the bundle), kept by enrollment stores."""
        return str((self.meta.get("weights") or {}).get("sha256") or id(self.model))

    def threshold(self, override: float | None = None) -> float:
        """The decision threshold on cosine scores: ``override`` or the bundle's calibrated one."""
        if override is not None:
            return float(override)
        if not self.calibration:
            raise ConfigError("speaker bundle", "has no calibrated threshold",
                              "pass --threshold, or export the run again (speechdl speaker export)")
        return float(self.calibration["threshold"])

    # ------------------------------------------------------------------ embeddings
    @torch.no_grad()
    def embed_features(self, feats: Sequence[torch.Tensor], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` float32 of ``(T_i, F)`` feature sequences, batched by similar length."""
        out = np.zeros((len(feats), self.dim), np.float32)
        order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
        for k in range(0, len(order), batch_size):
            idx = order[k:k + batch_size]
            x = torch.nn.utils.rnn.pad_sequence([feats[i] for i in idx], batch_first=True)
            n = torch.tensor([len(feats[i]) for i in idx], dtype=torch.long)
            out[idx] = self.model.embed(x, n).float().numpy()
        return out

    def embed_waves(self, waves: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` of mono float32 waveforms ``[(n_i,), ...]`` at the model's rate."""
        return self.embed_features([self.frontend.features_of(w) for w in waves], batch_size)

    def embed_file(self, path: str | os.PathLike, max_seconds: float = 30.0) -> np.ndarray:
        """Embedding ``(D,)`` of an audio file of any format, rate and length (see the module docstring)."""
        info = audio.info(path)
        if info.duration <= max_seconds:
            wave, _ = audio.load(path, sample_rate=self.cfg.sample_rate)
            return self.embed_waves([wave])[0]
        embs, weights = [], []
        for block in audio.stream(path, block_seconds=max_seconds, sample_rate=self.cfg.sample_rate):
            if len(block) >= MIN_BLOCK_SECONDS * self.cfg.sample_rate or not embs:
                embs.append(length_norm(self.embed_waves([block]))[0])
                weights.append(len(block))
        return np.average(np.stack(embs), axis=0, weights=weights).astype(np.float32)

    def embed_files(self, paths: Sequence[str | os.PathLike], batch_size: int = 16,
                    max_seconds: float = 30.0) -> np.ndarray:
        """Embeddings ``(N, D)`` of audio files; files up to ``max_seconds`` are batched."""
        out = np.zeros((len(paths), self.dim), np.float32)
        short = [i for i, p in enumerate(paths) if audio.info(p).duration <= max_seconds]
        for k in range(0, len(short), batch_size):   # read a batch at a time: bounded memory for long lists
            idx = short[k:k + batch_size]
            waves = [audio.load(paths[i], sample_rate=self.cfg.sample_rate)[0] for i in idx]
            out[idx] = self.embed_waves(waves, batch_size)
        for i in sorted(set(range(len(paths))) - set(short)):
            out[i] = self.embed_file(paths[i], max_seconds)
        return out

    # ------------------------------------------------------------------ decisions
    def score(self, a: Any, b: Any) -> np.ndarray:
        """Cosine scores of embedding pairs ``(N, D), (N, D) -> (N,)``."""
        return cosine_scores(a, b)

    def decide(self, score: float, threshold: float | None = None) -> dict[str, Any]:
        """``{"score", "threshold", "same"[, "llr"]}`` for one cosine score."""
        t = self.threshold(threshold)
        out: dict[str, Any] = {"score": round(float(score), 6), "threshold": round(t, 6), "same": bool(score >= t)}
        if self.calibration:
            out["llr"] = round(float(calibrated_llr(self.calibration, [score])[0]), 4)
        return out

    def verify(self, a: str | os.PathLike, b: str | os.PathLike, threshold: float | None = None) -> dict[str, Any]:
        """Same speaker in files ``a`` and ``b``? ``{"enroll", "test", "score", "threshold", "same"[, "llr"]}``."""
        self.threshold(threshold)                      # refuse before any audio is read
        ea, eb = self.embed_files([a, b])
        return {"enroll": str(a), "test": str(b), **self.decide(float(self.score(ea, eb)[0]), threshold)}


def load_speaker(path: str | os.PathLike = "speaker") -> SpeakerModel:
    """:meth:`SpeakerModel.from_bundle` (default: the shipped bundle ``speaker``)."""
    return SpeakerModel.from_bundle(path)


# ---------------------------------------------------------------- export from a training run
def validation_trials(spk: SpeakerModel, cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores and target flags of all pairs of the run's validation utterances (at most 400)."""
    from speechdl.tasks.speaker.task import pair_trials
    from speechdl.train.datamodule import RecipeDataModule

    data = dict(cfg.get("data") or {})
    dm = RecipeDataModule(data.pop("name"), data, seed=int((cfg.get("trainer") or {}).get("seed", 0)))
    dm.setup("fit")
    val = dm.val_set
    if val is None or len(val) < 2:
        raise ConfigError("speaker export", "the run has no validation utterances to calibrate on",
                          "pass --trials LIST --root DIR")
    items = [val[i] for i in range(min(len(val), 400))]
    emb = spk.embed_features([it["x"] for it in items])
    return pair_trials(emb, np.array([int(it["y"]) for it in items]))


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, operating_point: str = "eer",
               trials: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
               half: bool = False) -> Path:
    """Bundle the best checkpoint of a ``speaker`` training run, calibrated at ``operating_point``.

    Calibration trials: every pair of the run's validation utterances (closed-set speakers, unseen
    utterances), or the trial list ``trials`` (paths under ``root``) when given. The calibration
    dict and its EER / minDCF on those trials go into the bundle.
    """
    from speechdl.nn import build
    from speechdl.tasks.speaker.backends import parse_operating_point
    from speechdl.train.averaging import run_checkpoints
    from speechdl.train.config import run_config

    parse_operating_point(operating_point)        # a typo fails before any work
    run = Path(run_dir)
    cfg = run_config(run, ("speaker",))
    ckpt_path = run_checkpoints(run, 1)[-1]
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    meta = ckpt.get("speaker") or {}
    if not meta.get("frontend"):
        raise ConfigError(ckpt_path, "holds no front-end", "re-train with this speechdl version")
    kwargs = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = build(cfg["model"]["name"], **kwargs)
    model.load_state_dict({k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")})
    spk = SpeakerModel(model, FrontendConfig.from_dict(meta["frontend"]))
    if trials is not None:
        from speechdl.tasks.speaker.evaluate import score_trials

        scores, target = score_trials(spk, trials, root)
        source = f"trial list {trials}"
    else:
        scores, target = validation_trials(spk, cfg)
        source = "all pairs of the run's validation utterances"
    from speechdl.metrics.verification import verification_metrics

    cal = calibrate(scores, target, operating_point)
    m = verification_metrics(scores, target)
    metrics = {"calibration_trials": source, "eer": round(m["eer"], 5), "min_dcf_0.01": round(m["min_dcf_0.01"], 5),
               "min_dcf_0.05": round(m["min_dcf_0.05"], 5), "targets": m["targets"], "nontargets": m["nontargets"]}
    return save_bundle(out, task="speaker", model={"name": cfg["model"]["name"], "kwargs": kwargs},
                       state_dict=model.state_dict(), frontend=meta["frontend"],
                       thresholds={"cosine": cal["threshold"]},
                       metrics=metrics, data=dict(cfg.get("data") or {}),
                       reproduce=f"speechdl speaker train <recipe> --out {run}; speechdl speaker export {run} "
                                 f"--bundle {out} --operating-point {operating_point}",
                       card=f"Checkpoint: `{ckpt_path.name}`. Training speakers: {len(meta.get('speakers') or [])}. "
                            f"Scores are cosine similarities; calibrated ({operating_point}) on {source}.",
                       half=half, extra={"calibration": cal, "embedding": {"dim": model.embed_dim, "score": "cosine"}})
