"""A word2vec bundle from a run: the most frequent words' vectors (float16) and their words, with a model card.

Example:
    >>> import tempfile, pathlib
    >>> from speechdl.tasks.text.word2vec import Word2VecConfig, train
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "c.txt").write_text("the cat sat on the mat\\n" * 30)
    >>> _ = train(d / "c.txt", d / "run", Word2VecConfig(dim=4, min_count=1, epochs=1, threads=1), quiet=True)
    >>> info = export_bundle(d / "run", d / "bundle", max_words=3)
    >>> info["bundle_words"], sorted(p.name for p in (d / "bundle").iterdir())
    (3, ['MODEL_CARD.md', 'bundle.json', 'weights.pt', 'words.txt'])
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from speechdl.errors import DataError
from speechdl.tasks.text.vectors import WordVectors


def export_bundle(run: str | os.PathLike, out: str | os.PathLike, max_words: int | None = None,
                  metrics: dict[str, Any] | None = None, card: str = "") -> dict[str, Any]:
    """Write bundle ``out`` from run directory ``run`` (``vectors.bin``, ``config.json``, ``report.json``).

    ``max_words`` keeps the most frequent words only (the run's vocabulary is sorted by count);
    ``metrics`` and ``card`` (Markdown: data, licences, results) go into ``bundle.json`` and the model card.
    """
    from speechdl.pretrained.bundle import save_bundle

    run = Path(run)
    if not (run / "vectors.bin").is_file():
        raise DataError(run, "holds no vectors.bin (not a finished word2vec run)",
                        "train with speechdl text word2vec train CORPUS --out RUN")
    vec = WordVectors.load(run / "vectors.bin")
    n = min(len(vec), max_words or len(vec))
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    report = json.loads((run / "report.json").read_text()) if (run / "report.json").is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        words = Path(tmp) / "words.txt"
        words.write_text("".join(w + "\n" for w in vec.words[:n]), encoding="utf-8")
        save_bundle(out, task="word2vec", model={"name": "word2vec", "kwargs": {"words": n, "dim": vec.dim}},
                    state_dict={"vectors": torch.from_numpy(vec.vectors[:n].copy())}, frontend={},
                    metrics=metrics, data={"corpus": Path(str(config.get("corpus", "?"))).name,
                                           "corpus_words": report.get("corpus_words"),
                                           "vocabulary": len(vec)},
                    reproduce=_command(config), card=card, half=True,
                    extra={"training": {k: v for k, v in config.items() if k != "corpus"}},
                    files={"words.txt": words})
    return {"bundle": str(out), "bundle_words": n}


def _command(config: dict[str, Any]) -> str:
    cli = ("negative", "dim", "window", "min_count", "max_words", "sample", "alpha", "epochs", "threads", "seed")
    flags = [f"--{k.replace('_', '-')} {config[k]}" for k in cli if k in config]
    flags += ["--sg"] * bool(config.get("sg")) + ["--hs"] * bool(config.get("hs"))
    return f"speechdl text word2vec train {config.get('corpus', 'CORPUS')} --out RUN " + " ".join(flags)
