"""Bundle an ASR training run: averaged checkpoints, tokenizer, front-end, decoding defaults, LM, components.

The bundle declares its composition (``"components": {"segmenter": "vad"}``): the pipeline cuts long
inputs with that pipeline, resolved through the registry, never by an import string.

Example:
    >>> try:
    ...     export_run("speechdl/assets", "/tmp/never_written")
    ... except ConfigError as err:
    ...     print(err)
    speechdl/assets: no readable config.yaml (not a training run directory) (pass the run's out_dir)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from speechdl.errors import ConfigError
from speechdl.pretrained.export import load_run, save_run_bundle
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
    run = load_run(run_dir, TASKS, average=average, payload_key="asr")
    meta, task = run.payload, run.config["task"]["name"]
    if not meta.get("tokenizer") or not meta.get("frontend"):
        raise ConfigError(run.checkpoints[-1], "holds no tokenizer / front-end", "re-train with this speechdl version")
    dec = {**DEFAULT_DECODING, **{k: v for k, v in (decoding or {}).items() if v is not None}}
    files = {}
    if lm is not None:
        ArpaLM(lm)   # refuse a file that is not ARPA before anything is written
        dec["lm"] = "lm.arpa.gz" if str(lm).endswith(".gz") else "lm.arpa"
        files[dec["lm"]] = lm
    if task == "asr_joint":
        dec["ctc_weight"] = float(run.config["task"].get("ctc_weight", dec["ctc_weight"]))
        dec["beam"] = max(dec["beam"], 4)
    return save_run_bundle(run, out, task="asr", frontend=meta["frontend"], half=half, files=files,
                           command=f"speechdl asr export {run.path} --bundle {out}",
                           metrics={"averaged_checkpoints": len(run.checkpoints)},
                           extra={"tokenizer": meta["tokenizer"], "decoding": dec,
                                  "components": {"segmenter": segmenter} if segmenter else {}})
