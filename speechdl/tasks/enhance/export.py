"""Enhancement training run -> bundle: the shared export (:mod:`speechdl.pretrained.export`) with the
enhancer's framing as the bundle's front-end record and the held-out split in its data summary.

Example:
    >>> frontend_of({"model": {"n_fft": 320, "sample_rate": 16000}})["hop_length"]
    160
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from speechdl.pretrained.export import load_run, save_run_bundle
from speechdl.tasks.enhance import splits


def frontend_of(cfg: dict[str, Any]) -> dict[str, Any]:
    """The STFT the network holds (for the record: the network computes it itself)."""
    m = cfg.get("model") or {}
    n_fft = int(m.get("n_fft", 320))
    return {"sample_rate": int(m.get("sample_rate", splits.SAMPLE_RATE)), "n_fft": n_fft, "win_length": n_fft,
            "hop_length": n_fft // 2, "window": "sqrt_hann", "kind": "stft_mask"}


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, metrics: dict[str, Any] | None = None,
               card: str = "", half: bool = False) -> Path:
    """Bundle the best checkpoint of an ``enhance`` training run (resolved ``config.yaml`` + checkpoint)."""
    run = load_run(run_dir, ("enhance", "enhance_metricgan"))
    held = {"held_out_speech": list(splits.HELD_OUT_SPEECH), "held_out_noise": list(splits.HELD_OUT_NOISE)}
    return save_run_bundle(run, out, task="enhance", frontend=frontend_of(run.config),
                           command=f"speechdl enhance export {run.path} --bundle {out}", metrics=metrics,
                           extra={"splits": held}, half=half,
                           card=card or f"Recipe:\n```yaml\n{json.dumps(run.config, indent=1)}\n```")
