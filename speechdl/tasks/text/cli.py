"""``speechdl text ...``: text corpora, word2vec, the LSTM translator and the small BERT (issue 21).

* ``corpus [--out data/text]``: the English corpus and the English-Spanish Bible from Debian packages
  (:mod:`speechdl.text.corpora`).
* ``word2vec train CORPUS --out RUN [--sg] [--hs] [--negative N] [--dim D] ...``: train (resumes in RUN).
* ``word2vec similar QUERY... [--model M] [--top N]``: nearest words (``"king - man + woman"`` works too).
* ``word2vec analogy A B C [--model M]``: ``A : B :: C : ?``.
* ``word2vec eval [--model M]``: WordSim-353, SimLex-999 (Spearman), Google analogies (accuracy).
* ``word2vec export RUN --bundle OUT [--max-words N]`` or ``--vectors FILE [--text]``: a bundle, or the
  vectors in word2vec's format.

* ``translate prepare TSV_DIR --out DIR [--vocab N]`` / ``translate export RUN --bundle OUT`` /
  ``translate eval TEST.tsv --model BUNDLE [--beams 1 4]``: the LSTM translator's data, bundle and BLEU/chrF
  (training: ``speechdl train recipes/text/mt_lstm.yaml``).
* ``bert prepare CORPUS --out DIR``: masked-LM data (training: ``speechdl train recipes/text/bert_small.yaml``).

``--model`` of the word2vec verbs takes a shipped name (default ``word2vec``), a bundle, a run directory or a
``.bin``/``.txt`` file.
"""

from __future__ import annotations

import argparse
from typing import Any

from speechdl.console import add_format_option, emit, write_out


def _vectors(model: str) -> Any:
    """Vectors of a bundle name/dir, a run directory or a word2vec file."""
    from pathlib import Path

    from speechdl.tasks.text.pipeline import load_bundle_vectors
    from speechdl.tasks.text.vectors import WordVectors

    p = Path(model)
    if p.is_file():
        return WordVectors.load(p)
    if p.is_dir() and not (p / "bundle.json").is_file():
        return WordVectors.load(p)
    from speechdl.api import read_meta

    path, _ = read_meta(model)
    return load_bundle_vectors(path)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text word2vec train``."""
    import json

    from speechdl.tasks.text.word2vec import Word2VecConfig, train

    cfg = Word2VecConfig(sg=args.sg, hs=args.hs, negative=args.negative, dim=args.dim, window=args.window,
                         min_count=args.min_count, max_words=args.max_words, sample=args.sample,
                         alpha=args.alpha if args.alpha is not None else 0.025, epochs=args.epochs,
                         threads=args.threads, seed=args.seed)
    train(args.corpus, args.out, cfg, quiet=args.format == "json")
    report = json.loads((args.out / "report.json").read_text())
    emit({"out": str(args.out), **report}, args.format)
    return 0


def run_similar(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text word2vec similar``."""
    from speechdl.tasks.text.pipeline import Word2VecPipeline

    pipe = Word2VecPipeline(None, {}, _vectors(args.model))
    r = pipe.run(" ".join(args.query), top=args.top)
    write_out((r.to_json() if args.format == "json" else r.to_text()) + "\n")
    return 0


def run_analogy(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text word2vec analogy``."""
    from speechdl.tasks.text.pipeline import Word2VecPipeline

    pipe = Word2VecPipeline(None, {}, _vectors(args.model))
    r = pipe.run(f"{args.b} - {args.a} + {args.c}", top=args.top)
    write_out((r.to_json() if args.format == "json" else r.to_text()) + "\n")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text word2vec eval``."""
    from speechdl.tasks.text.evaluate import evaluate

    vec = _vectors(args.model)
    sets = {"wordsim353": args.wordsim, "simlex999": args.simlex, "analogy": args.analogy}
    r = evaluate(vec, restrict=args.restrict, sets={k: v for k, v in sets.items() if v})
    row = {"model": args.model, "words": len(vec), "wordsim353": r["wordsim353"]["spearman"],
           "wordsim_oov_%": r["wordsim353"].get("oov_pct"), "simlex999": r["simlex999"]["spearman"],
           "simlex_oov_%": r["simlex999"].get("oov_pct"), "analogy_acc": r["analogy"]["accuracy"],
           "analogy_questions": r["analogy"]["questions"]}
    emit({"model": args.model, "words": len(vec), **r}, args.format, table=[row])
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text word2vec export``."""
    from speechdl.errors import ConfigError
    from speechdl.tasks.text.export import export_bundle

    if not args.bundle and not args.vectors:
        raise ConfigError("word2vec export", "nothing to write", "pass --bundle OUT or --vectors FILE")
    vec = _vectors(str(args.run))
    done: dict[str, Any] = {"run": str(args.run), "words": len(vec), "dim": vec.dim}
    if args.vectors:
        vec.save_word2vec(args.vectors, binary=not args.text)
        done["vectors"] = str(args.vectors)
    if args.bundle:
        done.update(export_bundle(args.run, args.bundle, max_words=args.max_words))
    emit(done, args.format)
    return 0


def run_corpus(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text corpus``."""
    from speechdl.text import corpora

    out = args.out
    report: dict[str, Any] = {"out": str(out)}
    report["english"] = corpora.build_english_corpus(out / "en_corpus.txt", root=args.root)
    if not args.skip_parallel:
        report["parallel"] = corpora.build_parallel_corpus(out / "bible_en_es", root=args.root)
    rows = [{"corpus": "en_corpus.txt", "source": k, "sentences": v["lines"], "tokens": v["tokens"]}
            for k, v in report["english"].items()]
    rows += [{"corpus": "bible_en_es", "source": split, "sentences": n, "tokens": ""}
             for split, n in report.get("parallel", {}).items()]
    emit(report, args.format, table=rows)
    return 0


def run_mt_prepare(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text translate prepare``."""
    from speechdl.tasks.text.translation import prepare

    info = prepare(args.tsv_dir, args.out, vocab_size=args.vocab)
    rows = [{"split": k, "pairs": v, "source tokens": info["tokens"][k]["src"],
             "target tokens": info["tokens"][k]["tgt"]} for k, v in info["pairs"].items()]
    emit(info, args.format, table=rows)
    return 0


def run_mt_export(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text translate export``."""
    from speechdl.tasks.text.translate_pipeline import export_translation

    path = export_translation(args.run, args.bundle, languages=(args.src_lang, args.tgt_lang))
    emit({"bundle": str(path)}, args.format)
    return 0


def run_mt_eval(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text translate eval``."""
    from speechdl.tasks.text.translate_eval import evaluate_bundle

    r = evaluate_bundle(args.model, args.tsv, tuple(args.beams), args.limit)
    rows = [{"system": "copy source", "BLEU": r["copy_source"]["bleu"], "chrF": r["copy_source"]["chrf"],
             "sentences/s": ""}]
    rows += [{"system": f"beam {b}", "BLEU": v["bleu"], "chrF": v["chrf"], "sentences/s": v["sentences_per_second"]}
             for b, v in r["beams"].items()]
    emit(r, args.format, table=rows)
    return 0


def run_bert_prepare(args: argparse.Namespace) -> int:
    """Handler of ``speechdl text bert prepare``."""
    from speechdl.tasks.text.mlm import prepare_mlm

    info = prepare_mlm(args.corpus, args.out, vocab_size=args.vocab, max_len=args.max_len)
    rows = [{"split": k, "sentences": v, "tokens": info["tokens"][k]} for k, v in info["sentences"].items()]
    emit(info, args.format, table=rows)
    return 0


def register(groups: Any) -> None:
    """Add the ``text`` group (corpus, word2vec) to the top-level subparsers."""
    from speechdl import validate
    from speechdl.tasks.text.pipeline import OPTIONS

    g = groups.add_parser("text", help="text: corpora, word2vec embeddings (train, similar, analogy, eval, export)")
    groups_ = g.add_subparsers(dest="verb", metavar="VERB")
    g.set_defaults(subparser=g)

    c = groups_.add_parser("corpus", help="English corpus + English-Spanish Bible from Debian packages")
    c.add_argument("--out", type=validate.dir_arg("--out", path=True), default="data/text", help="output folder")
    c.add_argument("--root", default="/", help="file system root holding the Debian packages (default /)")
    c.add_argument("--skip-parallel", action="store_true", help="only the English corpus")
    add_format_option(c)
    c.set_defaults(func=run_corpus)

    w = groups_.add_parser("word2vec", help="word2vec: train, similar, analogy, eval, export")
    verbs = w.add_subparsers(dest="w2v_verb", metavar="VERB")
    w.set_defaults(subparser=w)

    t = verbs.add_parser("train", help="train skip-gram or CBOW on a corpus (one sentence per line); resumes")
    t.add_argument("corpus", help="text file, one sentence per line, tokens separated by spaces (.gz too)")
    t.add_argument("--out", required=True, type=validate.dir_arg("--out", path=True), help="run directory")
    t.add_argument("--sg", action="store_true", help="skip-gram (default: CBOW)")
    t.add_argument("--hs", action="store_true", help="hierarchical softmax (with --negative 0: alone)")
    t.add_argument("--negative", type=validate.flag("--negative", "int", 0, 100, example=5), default=5)
    t.add_argument("--dim", type=validate.flag("--dim", "int", 1, 4096, example=100), default=100)
    t.add_argument("--window", type=validate.flag("--window", "int", 1, 100, example=5), default=5)
    t.add_argument("--min-count", type=validate.flag("--min-count", "int", 1, example=5), default=5)
    t.add_argument("--max-words", type=validate.flag("--max-words", "int", 0, example=50000), default=0,
                   help="keep the most frequent N words (0: all)")
    t.add_argument("--sample", type=validate.flag("--sample", "float", 0, example=0.001), default=1e-3)
    t.add_argument("--alpha", type=validate.flag("--alpha", "float", 0, 1, low_open=True, example=0.025),
                   default=None, help="initial learning rate (default 0.025)")
    t.add_argument("--epochs", type=validate.flag("--epochs", "int", 1, 1000, example=5), default=5)
    t.add_argument("--threads", type=validate.flag("--threads", "int", 1, 256, example=2), default=2)
    t.add_argument("--seed", type=validate.flag("--seed", "int", 0, 2**32 - 1, example=1), default=1)
    add_format_option(t)
    t.set_defaults(func=run_train)

    top = next(o for o in OPTIONS if o.name == "top")
    s = verbs.add_parser("similar", help="nearest words to a word, a phrase or 'a - b + c'")
    s.add_argument("query", nargs="+", help="word(s); '+' and '-' combine them")
    s.add_argument("--model", default="word2vec", help="bundle, run directory or vectors file (default: word2vec)")
    s.add_argument("--top", type=validate.declared(top), default=10, help=top.help)
    add_format_option(s)
    s.set_defaults(func=run_similar)

    a = verbs.add_parser("analogy", help="A : B :: C : ? (3CosAdd)")
    for name in ("a", "b", "c"):
        a.add_argument(name, metavar=name.upper())
    a.add_argument("--model", default="word2vec", help="bundle, run directory or vectors file")
    a.add_argument("--top", type=validate.declared(top), default=5, help=top.help)
    add_format_option(a)
    a.set_defaults(func=run_analogy)

    e = verbs.add_parser("eval", help="WordSim-353, SimLex-999 (Spearman) and Google analogies (accuracy)")
    e.add_argument("--model", default="word2vec", help="bundle, run directory or vectors file")
    e.add_argument("--wordsim", default=None, help="word-pair file (default: gensim's WordSim-353)")
    e.add_argument("--simlex", default=None, help="word-pair file (default: gensim's SimLex-999)")
    e.add_argument("--analogy", default=None, help="analogy file (default: gensim's questions-words.txt)")
    e.add_argument("--restrict", type=validate.flag("--restrict", "int", 1, example=300000), default=300000,
                   help="search the N most frequent words (gensim's default 300000)")
    add_format_option(e)
    e.set_defaults(func=run_eval)

    _register_translate(groups_)
    b = groups_.add_parser("bert", help="a small BERT: prepare masked-LM data (train: recipes/text/bert_small.yaml)")
    bverbs = b.add_subparsers(dest="bert_verb", metavar="VERB")
    b.set_defaults(subparser=b)
    bp = bverbs.add_parser("prepare", help="BPE tokenizer + sentence ids (train / 1 % dev) of a corpus")
    bp.add_argument("corpus", help="text file, one sentence per line (.gz too)")
    bp.add_argument("--out", required=True, type=validate.dir_arg("--out", path=True), help="output folder")
    bp.add_argument("--vocab", type=validate.flag("--vocab", "int", 20, 64000, example=8000), default=8000)
    bp.add_argument("--max-len", type=validate.flag("--max-len", "int", 4, 512, example=64), default=64,
                    help="pieces per sentence at most (default 64)")
    add_format_option(bp)
    bp.set_defaults(func=run_bert_prepare)

    x = verbs.add_parser("export", help="a bundle (--bundle) or word2vec-format vectors (--vectors)")
    x.add_argument("run", help="run directory (or any vectors file / bundle)")
    x.add_argument("--bundle", type=validate.dir_arg("--bundle", path=True), default=None, help="bundle folder")
    x.add_argument("--max-words", type=validate.flag("--max-words", "int", 1, example=30000), default=None,
                   help="bundle only the N most frequent words")
    x.add_argument("--vectors", type=validate.file_arg("--vectors", path=True), default=None,
                   help="word2vec-format file to write")
    x.add_argument("--text", action="store_true", help="--vectors in the text format (default binary)")
    add_format_option(x)
    x.set_defaults(func=run_export)


def _register_translate(groups_: Any) -> None:
    """``speechdl text translate prepare|export|eval`` (training: ``speechdl train recipes/text/mt_lstm.yaml``)."""
    from speechdl import validate

    m = groups_.add_parser("translate", help="LSTM seq2seq translation: prepare data, export a run, BLEU")
    verbs = m.add_subparsers(dest="mt_verb", metavar="VERB")
    m.set_defaults(subparser=m)

    p = verbs.add_parser("prepare", help="BPE tokenizers + id arrays of a parallel corpus (train/dev/test.tsv)")
    p.add_argument("tsv_dir", help="folder with train.tsv (dev.tsv, test.tsv): reference<TAB>source<TAB>target")
    p.add_argument("--out", required=True, type=validate.dir_arg("--out", path=True), help="output folder")
    p.add_argument("--vocab", type=validate.flag("--vocab", "int", 50, 64000, example=4000), default=4000,
                   help="BPE ids per language (default 4000)")
    add_format_option(p)
    p.set_defaults(func=run_mt_prepare)

    x = verbs.add_parser("export", help="a translate bundle from a training run (tokenizers from its data.dir)")
    x.add_argument("run", help="run directory of speechdl train recipes/text/mt_lstm.yaml")
    x.add_argument("--bundle", required=True, type=validate.dir_arg("--bundle", path=True), help="bundle folder")
    x.add_argument("--src-lang", default="en", help="source language code (default en)")
    x.add_argument("--tgt-lang", default="es", help="target language code (default es)")
    add_format_option(x)
    x.set_defaults(func=run_mt_export)

    e = verbs.add_parser("eval", help="BLEU and chrF (sacrebleu) on a parallel .tsv, per beam width")
    e.add_argument("tsv", help="reference<TAB>source<TAB>target lines (e.g. data/text/bible_en_es/test.tsv)")
    e.add_argument("--model", required=True, help="translate bundle")
    e.add_argument("--beams", nargs="+", type=validate.flag("--beams", "int", 1, 16, example=4), default=[1, 4])
    e.add_argument("--limit", type=validate.flag("--limit", "int", 1, example=100), default=None,
                   help="first N lines only")
    add_format_option(e)
    e.set_defaults(func=run_mt_eval)
