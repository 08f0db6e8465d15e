"""The LSTM seq2seq translator learns a small language pair through the real path: ``text translate prepare``,
``speechdl train`` (the shipped recipe, shrunk), ``text translate export``, the pipeline, BLEU, ONNX. The small
BERT's masked-LM recipe (shrunk) learns to fill in words of the same toy language."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import speechdl
from speechdl.cli import main
from tests.integration.test_recipes import cli_train, logged, series

ROOT = Path(__file__).resolve().parents[2]
LEXICON = {"the": "el", "cat": "gato", "dog": "perro", "sees": "ve", "eats": "come", "big": "grande",
           "small": "pequeño", "bird": "pájaro", "fish": "pez", "likes": "quiere"}
NOUNS, VERBS, ADJS = ["cat", "dog", "bird", "fish"], ["sees", "eats", "likes"], ["big", "small"]


def sentence(rng: np.random.Generator) -> tuple[str, str]:
    """'the big cat sees the fish' -> 'el gato grande ve el pez': words mapped, adjective after the noun."""
    def phrase() -> tuple[list[str], list[str]]:
        noun = str(rng.choice(NOUNS))
        if rng.random() < 0.5:
            adj = str(rng.choice(ADJS))
            return ["the", adj, noun], ["el", LEXICON[noun], LEXICON[adj]]
        return ["the", noun], ["el", LEXICON[noun]]
    (s1, t1), verb, (s2, t2) = phrase(), str(rng.choice(VERBS)), phrase()
    return " ".join([*s1, verb, *s2]) + ".", " ".join([*t1, LEXICON[verb], *t2]) + "."


def write_corpus(d: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", 600), ("dev", 40), ("test", 60)):
        rows = [f"Toy {i}:1\t" + "\t".join(sentence(rng)) for i in range(n)]
        (d / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return d


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("mt")
    corpus = write_corpus(d)
    assert main(["text", "translate", "prepare", str(corpus), "--out", str(d / "prepared"), "--vocab", "60",
                 "--format", "json"]) == 0
    out = d / "run"
    cli_train(ROOT / "recipes/text/mt_lstm.yaml", out, f"data.dir={d / 'prepared'}", "model.in_dim=60",
              "model.vocab_size=60", "model.encoder_kwargs.emb_dim=32", "model.encoder_kwargs.hidden=32",
              "model.encoder_kwargs.dropout=0.0", "model.dropout=0.0", "model.dec_hidden=64", "model.emb_dim=32",
              "model.attn_dim=32", "data.max_batch_seconds=null", "trainer.batch_size=32", "trainer.max_epochs=25",
              "optim.lr=0.01", "trainer.early_stopping.patience=null", "scheduler.patience=100")
    assert main(["text", "translate", "export", str(out), "--bundle", str(d / "bundle"), "--format", "json"]) == 0
    return d


def test_it_learns_to_translate_and_reorder(trained, capsys):
    rows = logged(trained / "run")
    ter = series(rows, "val_ter")
    assert ter[0] > 0.5 and ter[-1] < 0.05, ter
    capsys.readouterr()
    assert main(["text", "translate", "eval", str(trained / "test.tsv"), "--model", str(trained / "bundle"),
                 "--beams", "1", "3", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["sentences"] == 60 and r["copy_source"]["bleu"] < 10
    assert r["beams"]["1"]["bleu"] > 90 and r["beams"]["3"]["bleu"] > 90, r["beams"]


def test_pipeline_cli_and_onnx_agree(trained, capsys, tmp_path):
    pipe = speechdl.load(trained / "bundle")
    assert pipe.task == "translate" and pipe.languages == {"src": "en", "tgt": "es"}
    r = pipe.run("The big dog eats the fish. The cat sees the small bird.", beam=2)
    assert r.translation == "el perro grande come el pez. el gato ve el pájaro pequeño."
    assert len(r.sentences) == 2
    capsys.readouterr()
    assert main(["run", str(trained / "bundle"), "The big dog eats the fish.", "--beam", "2", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["translation"] == "el perro grande come el pez."
    from fastapi.testclient import TestClient

    from speechdl.serve import create_app

    with TestClient(create_app(pipelines={"mt": pipe})) as client:      # HTTP: the same JSON as Python
        got = client.post("/v1/mt", json={"text": "The big dog eats the fish.", "beam": 2})
        assert got.status_code == 200 and got.json() == pipe.run("The big dog eats the fish.", beam=2).to_dict()
    info = pipe.export_onnx(tmp_path / "mt.onnx")
    assert info["same_tokens"] and info["max_abs_diff"] < 1e-4 and Path(info["encoder"]).is_file()


def test_bad_input_is_one_line(trained, capsys):
    for args in (["text", "translate", "prepare", str(trained / "missing"), "--out", str(trained / "x")],
                 ["text", "translate", "eval", str(trained / "test.tsv"), "--model", "word2vec"],
                 ["run", str(trained / "bundle"), "   "]):
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("speechdl: error:"), err


def test_bert_recipe_learns_masked_words(tmp_path, capsys):
    rng = np.random.default_rng(1)
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(sentence(rng)[0] + "\n" for _ in range(1500)))
    assert main(["text", "bert", "prepare", str(corpus), "--out", str(tmp_path / "mlm"), "--vocab", "40",
                 "--format", "json"]) == 0
    out = tmp_path / "run"
    cli_train(ROOT / "recipes/text/bert_small.yaml", out, f"data.dir={tmp_path / 'mlm'}", "model.vocab_size=40",
              "model.d_model=32", "model.n_heads=4", "model.n_layers=2", "model.ff_dim=64", "model.dropout=0.0",
              "data.max_batch_seconds=null", "trainer.batch_size=32", "trainer.max_epochs=6", "optim.lr=0.003",
              "scheduler.warmup_steps=20", "trainer.early_stopping.patience=null")
    acc = series(logged(out), "val_acc")
    assert acc[0] < acc[-1] and acc[-1] > 0.6, acc
