"""``speechdl text word2vec``: train, similar, analogy, eval, export on a small corpus with known structure; the
bundle answers ``speechdl run`` and ONNX like Python; bad input is one line and exit 2."""

from __future__ import annotations

import json

import pytest

import speechdl
from speechdl.cli import main
from tests.unit.test_text_word2vec import TOPICS, topic_corpus


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("w2v")
    corpus = topic_corpus(d / "corpus.txt")
    assert main(["text", "word2vec", "train", str(corpus), "--out", str(d / "run"), "--sg", "--dim", "16",
                 "--min-count", "1", "--epochs", "4", "--threads", "1", "--sample", "0", "--format", "json"]) == 0
    return d / "run"


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_reports_and_similar_finds_the_topic(run_dir, capsys):
    capsys.readouterr()
    assert main(["text", "word2vec", "similar", "cat", "--model", str(run_dir), "--top", "5", "--format", "json"]) == 0
    r = _json(capsys)
    assert r["task"] == "word2vec" and r["positive"] == ["cat"]
    topic_words = [n["word"] for n in r["neighbours"] if n["word"] in sum(TOPICS.values(), [])]
    assert topic_words and all(w in TOPICS["animal"] for w in topic_words[:3])
    report = json.loads((run_dir / "report.json").read_text())
    assert report["vocab"] == 30 and report["epochs"] == 4 and report["words_per_second"] > 0


def test_analogy_and_text_output(run_dir, capsys):
    capsys.readouterr()
    assert main(["text", "word2vec", "analogy", "cat", "dog", "car", "--model", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("query: dog +car -cat") and len(out.strip().splitlines()) == 6


def test_eval_on_given_files(run_dir, tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# w1\tw2\tscore\ncat\tdog\t9\ncat\thorse\t8\ncar\tbus\t9\ncat\tcar\t1\nbread\tbus\t0.5\n"
                     "cat\tunknownword\t5\n")
    questions = tmp_path / "q.txt"
    questions.write_text(": topics\ncat dog car bus\ncow pig bread rice\n")
    capsys.readouterr()
    assert main(["text", "word2vec", "eval", "--model", str(run_dir), "--wordsim", str(pairs), "--simlex", str(pairs),
                 "--analogy", str(questions), "--format", "json"]) == 0
    r = _json(capsys)
    assert r["wordsim353"]["pairs"] == 5 and r["wordsim353"]["oov_pairs"] == 1
    assert r["wordsim353"]["spearman"] > 0.5
    assert r["analogy"]["questions"] == 2


def test_export_bundle_runs_through_the_contract(run_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["text", "word2vec", "export", str(run_dir), "--bundle", str(tmp_path / "b"), "--max-words", "20",
                 "--vectors", str(tmp_path / "v.txt"), "--text", "--format", "json"]) == 0
    info = _json(capsys)
    assert info["bundle_words"] == 20 and (tmp_path / "v.txt").read_text().startswith("30 16\n")
    pipe = speechdl.load(tmp_path / "b")
    want = pipe.run("cat", top=3).to_dict()
    assert main(["run", str(tmp_path / "b"), "cat", "--top", "3", "--format", "json"]) == 0
    assert _json(capsys) == want
    onnx = pipe.export_onnx(tmp_path / "w2v.onnx")
    assert onnx["same_neighbours"] and onnx["max_abs_diff"] < 1e-4
    assert "speechdl text word2vec train" in (tmp_path / "b" / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["similar", "zzqqx"], "no word of it is in the vocabulary"),
    (["train", "missing.txt", "--out", "OUT"], "corpus not found"),
    (["export", "RUN"], "pass --bundle OUT or --vectors FILE"),
    (["train", "CORPUS", "--out", "OUT", "--dim", "0"], "--dim"),
])
def test_bad_input_is_one_line_exit_2(run_dir, tmp_path, capsys, args, message):
    args = [a.replace("RUN", str(run_dir)).replace("OUT", str(tmp_path / "o"))
            .replace("CORPUS", str(run_dir.parent / "corpus.txt")) for a in args]
    if args[0] == "similar":
        args += ["--model", str(run_dir)]
    capsys.readouterr()
    assert main(["text", "word2vec", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
