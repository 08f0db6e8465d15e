"""VAD training run -> bundle: the shared export (:mod:`speechdl.pretrained.export`) plus the VAD's hooks
(the front-end of the recipe, the onset/offset thresholds and post-processing defaults).

Example:
    >>> frontend_of_config({"data": {"frontend": "logmel"}})["kind"]
    'logmel'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.pretrained.export import load_run, save_run_bundle
from speechdl.tasks.vad.net import FrameModel
from speechdl.tasks.vad.post import PostConfig


def frontend_of_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The FrontendConfig dict of a resolved recipe's ``data.frontend`` (``vad_frames``: a dict,
    ``"mfcc39"`` (the default) or ``"logmel"``)."""
    fe = (cfg.get("data") or {}).get("frontend")
    if fe is None or fe == "mfcc39":
        return FrontendConfig.mfcc39().to_dict()
    if fe == "logmel":
        return FrontendConfig.logmel().to_dict()
    if not isinstance(fe, dict):
        raise ConfigError("recipe", f"data.frontend={fe!r} is not a FrontendConfig", "use mfcc39, logmel or a dict")
    return FrontendConfig.from_dict(dict(fe)).to_dict()


def _frame_model(cfg: dict[str, Any]) -> FrameModel:
    return FrameModel(cfg["model"]["name"], {k: v for k, v in cfg["model"].items() if k != "name"})


def _to_frame_model_keys(state: dict[str, Any]) -> dict[str, Any]:
    """The task's ``model.*`` weights are the frame model's ``net.*``; ``norm.*`` (input norm) stays."""
    return {("net." + k[len("model."):] if k.startswith("model.") else k): v for k, v in state.items()}


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, post: PostConfig | None = None,
               half: bool = False, card: str = "") -> Path:
    """Bundle the best checkpoint of a ``vad`` training run (resolved ``config.yaml`` + checkpoint)."""
    run = load_run(run_dir, ("vad",), build=_frame_model, rename=_to_frame_model_keys)
    post = post or PostConfig()
    return save_run_bundle(run, out, task="vad", frontend=frontend_of_config(run.config),
                           command=f"speechdl vad export {run.path} --bundle {out}",
                           thresholds={"onset": post.onset, "offset": round(post.offset_threshold, 6)},
                           post=post.to_dict(), half=half,
                           card=card or f"Recipe:\n```yaml\n{json.dumps(run.config, indent=1)}\n```")
