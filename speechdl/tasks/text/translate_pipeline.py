"""The translation application: ``speechdl.load(BUNDLE).run("In the beginning...")`` -> the translation.

A bundle of task ``translate`` holds the seq2seq network (``token_encoder`` + LSTM decoder with attention;
:mod:`speechdl.nn.seq2seq`), the source and target BPE tokenizers (in ``bundle.json``) and the language
pair. Input text is cut into sentences (:func:`speechdl.text.corpora.split_sentences`), each translated by
beam search (``beam=1``: greedy), and the translations joined. :func:`export_translation` writes a bundle
from a training run (``speechdl train recipes/text/mt_lstm.yaml``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from speechdl.api import Option, Pipeline, Result
from speechdl.errors import DataError
from speechdl.tasks.text.translation import Translator

OPTIONS = (
    Option("beam", "int", 4, "beam width (1: greedy decoding)", minimum=1, maximum=16),
    Option("length_penalty", "float", 1.0, "beam score / ((5 + length) / 6) ** this (0: none)", minimum=0, maximum=3),
)


@dataclass
class TranslationResult(Result):
    """``translation`` of ``source`` (sentence by sentence: ``sentences`` ``[{"source", "translation"}]``)."""

    task: ClassVar[str] = "translate"
    source: str
    translation: str
    sentences: list[dict[str, str]]
    languages: dict[str, str]

    def to_text(self) -> str:
        return self.translation


class TranslatePipeline(Pipeline):
    """Text in one language -> text in the other (LSTM encoder-decoder with attention)."""

    task: ClassVar[str] = "translate"
    inputs: ClassVar[str] = "text"
    options = OPTIONS
    description: ClassVar[str] = "translation: LSTM encoder-decoder with attention, beam search"

    def __init__(self, path: Path | None, meta: dict[str, Any], translator: Translator) -> None:
        super().__init__(path, meta, sample_rate=0)
        self.translator = translator
        self.languages = dict(meta.get("languages") or {"src": "?", "tgt": "?"})

    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> TranslatePipeline:
        from speechdl.pretrained.bundle import load_model
        from speechdl.text.tokenizers import tokenizer_from_dict

        _, model = load_model(path, "translate")
        toks = meta.get("tokenizers") or {}
        if "src" not in toks or "tgt" not in toks:
            raise DataError(path / "bundle.json", "holds no source/target tokenizers", "re-export the bundle")
        return cls(path, meta, Translator(model, tokenizer_from_dict(toks["src"]), tokenizer_from_dict(toks["tgt"])))

    def _run(self, inputs: Any, beam: int = 4, length_penalty: float = 1.0) -> TranslationResult:
        from speechdl.text.corpora import split_sentences

        if not isinstance(inputs, str) or not inputs.strip():
            raise DataError("translate input", "expected a non-empty text", "pass a sentence to translate")
        parts = [s for s in split_sentences(" ".join(inputs.split())) if s.strip()] or [inputs.strip()]
        outs = self.translator.translate(parts, beam=beam, length_penalty=length_penalty)
        return TranslationResult(source=inputs, translation=" ".join(o for o in outs if o),
                                 sentences=[{"source": s, "translation": o} for s, o in zip(parts, outs)],
                                 languages=self.languages)

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """The encoder and one decoder step as ONNX graphs (``out`` and ``out`` with ``.encoder.onnx``)."""
        from speechdl.tasks.text.translate_onnx import export_translator

        return export_translator(self.translator, out)


def export_translation(run_dir: str | os.PathLike, out: str | os.PathLike, languages: tuple[str, str] = ("en", "es"),
                       metrics: dict[str, Any] | None = None, card: str = "") -> Path:
    """Bundle of a ``seq2seq`` training run on :func:`~speechdl.tasks.text.translation.prepare` d data (the
    tokenizers come from the run's ``data.dir``)."""
    from speechdl.pretrained.export import load_run, save_run_bundle
    from speechdl.text.tokenizers import load_tokenizer

    run = load_run(run_dir, ("seq2seq",))
    data_dir = Path(str((run.config.get("data") or {}).get("dir", "")))
    toks = {side: load_tokenizer(data_dir / side).to_dict() for side in ("src", "tgt")}
    return save_run_bundle(run, out, task="translate", frontend={},
                           command=f"speechdl text translate export {run_dir} --bundle {out}", metrics=metrics,
                           card=card, extra={"tokenizers": toks, "languages": dict(zip(("src", "tgt"), languages))})
