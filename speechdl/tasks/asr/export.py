"""Bundle an ASR training run: averaged checkpoints, tokenizer, front-end, decoding defaults, LM, components.

The bundle declares its composition (``"components": {"segmenter": "vad"}``): the pipeline cuts long
inputs with that pipeline, resolved through the registry, never by an import string.

Example:
    >>> export_run("speechdl/assets", "/tmp/never_written")
    Traceback (most recent call last):
    ...
    speechdl.errors.ConfigError: speechdl/assets: no config.yaml (not a training run directory) (pass the run's out_dir)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from speechdl.errors import ConfigError
from speechdl.pretrained import save_bundle
from speechdl.tasks.asr.infer import DEFAULT_DECODING, TASKS
from speechdl.tasks.asr.lm import ArpaLM

DEFAULT_SEGMENTER = "vad"


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, average: int | None = None,
               half: bool = False, decoding: dict[str, Any] | None = None,
               lm: str | os.PathLike | None = None, segmenter: str | None = DEFAULT_SEGMENTER) -> Path:
    """Bundle an ``asr_ctc`` / ``asr_joint`` training run, averaging its kept top checkpoints.

    ``average``: how many of the ``checkpoints/top/`` files to average (the latest ones; None: all);
    runs without them use the best (else last) checkpoint. The tokenizer and front-end come from the
    checkpoint (the task stores them there). ``decoding``: defaults to store (``beam``, ``alpha``,
    ``beta``); ``lm``: an ARPA file (plain or ``.gz``) copied into the bundle as its default LM.
    ``segmenter``: the bundle (shipped name) that cuts long inputs, written as
    ``"components": {"segmenter": ...}`` (None: declare none; long inputs are then refused).
    """
    import yaml

    from speechdl.nn import build
    from speechdl.train.averaging import average_checkpoints, run_checkpoints

    run = Path(run_dir)
    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text())
    except OSError:
        raise ConfigError(run, "no config.yaml (not a training run directory)", "pass the run's out_dir") from None
    task = (cfg.get("task") or {}).get("name")
    if task not in TASKS:
        raise ConfigError(run, f"task is {task!r}, not asr_ctc or asr_joint", "export an ASR run")
    paths = run_checkpoints(run, average)
    last = torch.load(paths[-1], map_location="cpu", weights_only=False)
    meta = last.get("asr") or {}
    if not meta.get("tokenizer") or not meta.get("frontend"):
        raise ConfigError(paths[-1], "holds no tokenizer / front-end", "re-train with this speechdl version")
    state = average_checkpoints(paths)
    state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    kwargs = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = build(cfg["model"]["name"], **kwargs)
    model.load_state_dict(state)   # fails loudly on a mismatch before anything is written
    dec = {**DEFAULT_DECODING, **{k: v for k, v in (decoding or {}).items() if v is not None}}
    files = {}
    if lm is not None:
        ArpaLM(lm)   # refuse a file that is not ARPA before anything is written
        dec["lm"] = "lm.arpa.gz" if str(lm).endswith(".gz") else "lm.arpa"
        files[dec["lm"]] = lm
    if task == "asr_joint":
        dec["ctc_weight"] = float((cfg.get("task") or {}).get("ctc_weight", dec["ctc_weight"]))
        dec["beam"] = max(dec["beam"], 4)
    names = ", ".join(p.name for p in paths)
    return save_bundle(out, task="asr", model={"name": cfg["model"]["name"], "kwargs": kwargs},
                       state_dict=model.state_dict(), frontend=meta["frontend"],
                       metrics={"averaged_checkpoints": len(paths)}, data=dict(cfg.get("data") or {}),
                       reproduce=f"speechdl asr train <recipe> --out {run}; speechdl asr export {run} --bundle {out}",
                       card=f"Weights: average of {len(paths)} checkpoint(s): {names}.", half=half,
                       extra={"tokenizer": meta["tokenizer"], "decoding": dec,
                              "components": {"segmenter": segmenter} if segmenter else {}}, files=files)
