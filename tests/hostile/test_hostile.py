"""The hostile-input corpus (issue 13): every CLI verb against every case that applies to it.

Each run (``speechdl.cli.main`` in a worker process, with a time limit) must end in exit 0 with finite,
possible output, or exit 2 with exactly one stderr line ``speechdl: error: ...``: never a traceback, an
internal error, a hang, a multi-line usage text or an exit 0 with NaN/Inf or impossible values. The fast
tier runs a subset (``Run.quick``); the whole corpus (about 1,900 runs, 4-6 minutes on 2 cores) is slow.
``python -m tests.hostile.runner`` prints the per-verb table.
"""

from __future__ import annotations

import pytest

from tests.hostile.cases import build
from tests.hostile.runner import Outcome, classify, failures, run_corpus, table
from tests.hostile.runs import NO_VALID_BASE, parser_verbs, plan, setup_lines


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    inp = build(tmp_path_factory.mktemp("hostile"))
    verbs = parser_verbs()
    return inp, verbs, plan(inp, verbs)


def _run(inp, runs):
    stores = (str(inp.root / "store.db"), str(inp.root / "remove.db"))
    setup = setup_lines(inp) if any(a in stores for r in runs for a in r.argv) else []
    return run_corpus(runs, setup, jobs=2)


def _by(results, verb, case):
    return next(r for r in results if r["verb"] == verb and r["case"] == case)


def test_every_verb_is_attacked(corpus):
    """The plan covers every verb of the real parser, each with its valid line and hostile cases."""
    _, verbs, runs = corpus
    assert set(verbs) == {r.verb for r in runs}
    for verb in verbs:
        families = {r.case.split(":")[0] for r in runs if r.verb == verb}
        assert "argv" in families and len(families) >= 2 or verb == "models", (verb, families)
        assert verb in NO_VALID_BASE or any(r.case == "base:valid" for r in runs if r.verb == verb), verb
    audio_verbs = {r.verb for r in runs if r.case == "audio:float_nan.wav"}
    assert {"features extract", "vad detect", "asr transcribe", "speaker embed", "speaker verify", "run"} <= audio_verbs


@pytest.mark.parametrize("outcome, seconds, expected", [
    (Outcome(0, '{"file": "a.wav", "duration": 2.0, "segments": [{"start": 0.1, "end": 0.5}]}', "", 1), 2.2, "ok"),
    (Outcome(0, '{"score": NaN}', "", 1), None, "nonsense"),
    (Outcome(0, '{"score": null, "decision": true}', "", 1), None, "nonsense"),
    (Outcome(0, '{"hours": -0.1}', "", 1), None, "nonsense"),
    (Outcome(0, '{"speech_fraction": 1.5}', "", 1), None, "nonsense"),
    (Outcome(0, '{"segments": [{"start": 2.0, "end": 1.0}]}', "", 1), None, "nonsense"),
    (Outcome(0, '{"duration": 2159.9}', "", 1), 2.2, "nonsense"),
    (Outcome(0, '{"embedding": [0.0, 0.0]}', "", 1), None, "nonsense"),
    (Outcome(0, "file   x\nscore  nan\n", "", 1), None, "nonsense"),
    (Outcome(2, "", "speechdl: error: x.wav: file is empty (0 bytes) (re-record it)\n", 1), None, "error"),
    (Outcome(2, "", "usage: speechdl ...\nspeechdl: error: bad\n", 1), None, "messy"),
    (Outcome(1, "", "speechdl: internal error: ValueError: x (please report it)\n", 1), None, "traceback"),
    (Outcome(0, "", "Traceback (most recent call last):\n  File x\nValueError: y\n", 1), None, "traceback"),
    (Outcome(-11, "", "worker died", 1), None, "traceback"),
    (Outcome(None, "", "", 60), None, "hang"),
])
def test_classification(outcome, seconds, expected):
    """The judge itself: NaN, null numbers, negative hours, impossible durations and multi-line errors are caught."""
    assert classify(outcome, seconds)[0] == expected


def test_npy_outputs_are_checked(tmp_path):
    import numpy as np

    bad, good = tmp_path / "bad.npy", tmp_path / "good.npy"
    np.save(bad, np.array([[0.0, np.nan]]))
    np.save(good, np.ones((3, 2)))
    assert classify(Outcome(0, "{}", "", 1), files=(str(bad),))[0] == "nonsense"
    assert classify(Outcome(0, "{}", "", 1), files=(str(good),))[0] == "ok"


def test_quick_subset(corpus):
    """Fast tier: the cases of the issue's table on the cheap verbs; known outcomes checked exactly."""
    inp, _, runs = corpus
    results = _run(inp, [r for r in runs if r.quick])
    assert not failures(results), table(results) + "\n" + "\n".join(failures(results))
    expect = {   # (verb, case): (class, words in the message)
        ("features extract", "base:valid"): ("ok", ""),
        ("vad detect", "base:valid"): ("ok", ""),
        ("features extract", "audio:float_nan.wav"): ("error", "NaN or infinite samples"),
        ("speaker embed", "audio:float_huge.wav"): ("error", "far beyond full scale"),
        ("vad detect", "audio:rate_1.wav"): ("error", "1 Hz"),
        ("features extract", "audio:flac_claims_2g.flac"): ("error", "header declares"),
        ("features extract", "audio:claim_2gb.wav"): ("ok", ""),
        ("vad detect", "opt:--pad=inf"): ("error", "option pad"),
        ("vad detect", "opt:--min-silence=nan"): ("error", "option min_silence"),
        ("features extract", "opt:--sample-rate=1"): ("error", "sample_rate"),
        ("speaker embed", "opt:--max-seconds=0"): ("error", "option max_seconds"),
        ("features extract", "out:--out=folder"): ("error", "is a folder"),
        ("vad detect", "out:--out-dir=under_file"): ("error", "is a file"),
        ("speaker list", "store:foreign_schema"): ("error", "another application or schema"),
        ("data info", "manifest:negative"): ("error", "not a positive length"),
        ("data import folder", "folder:binary_transcript"): ("ok", ""),
        ("train", "recipe:binary.yaml"): ("error", "not UTF-8 text"),
        ("vad detect", "argv:none"): ("error", "required"),
    }
    for (verb, case), (klass, words) in expect.items():
        r = _by(results, verb, case)
        assert r["class"] == klass and words in r["detail"], (verb, case, r["class"], r["detail"], r["stderr"])


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_full_corpus(corpus):
    """Every verb x every case: 0 tracebacks, 0 hangs, 0 messy errors, 0 exit-0 nonsense; valid lines succeed."""
    inp, _, runs = corpus
    results = _run(inp, runs)
    assert len(results) == len(runs)
    bad = failures(results)
    refused = [f"{r['verb']}: {r['detail']}" for r in results
               if r["case"] == "base:valid" and r["verb"] not in NO_VALID_BASE and r["class"] != "ok"]
    assert not bad and not refused, table(results) + "\n" + "\n".join(bad + refused)
