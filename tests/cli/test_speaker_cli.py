"""``speechdl speaker``: the toy recipe trained and exported, then embed / verify / enroll / identify / list /
remove / eval end to end, and the errors a user can cause (one line, exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from speechdl.cli import main
from speechdl.errors import SpeechdlError
from speechdl.tasks.speaker.infer import load_speaker
from speechdl.tasks.speaker.toy import write_toy_speakers

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes/speaker/toy_xvector.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """recipes/speaker/toy_xvector.yaml trained and exported (about 10 s), new recordings of training voices
    0-3 (``seen``) and of voices no training set heard (``unseen``), each with a trial list."""
    out = tmp_path_factory.mktemp("speaker")
    assert main(["speaker", "train", str(RECIPE), "--out", str(out / "run"), "trainer.progress_bar=false",
                 "--format", "json"]) == 0
    assert main(["speaker", "export", str(out / "run"), "--bundle", str(out / "bundle")]) == 0
    seen = write_toy_speakers(out / "seen", [0, 1, 2, 3], utts=3)
    unseen = write_toy_speakers(out / "unseen", [100, 101, 102, 103, 104, 105], utts=3)
    wav = sorted((out / "seen/wav").rglob("*.wav"))
    old = out / "old_bundle"                      # as bundles were before back-ends: cosine calibration only
    shutil.copytree(out / "bundle", old)
    meta = json.loads((old / "bundle.json").read_text())
    meta["calibration"] = meta.pop("backend")["calibrations"]["cosine"]["none"]
    (old / "bundle.json").write_text(json.dumps(meta))
    for f in ("plda.npz", "cohort.npy"):
        (old / f).unlink()
    return {"dir": out, "bundle": out / "bundle", "old": old, "seen": seen, "unseen": unseen, "wav": wav}


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_train_and_export_make_a_calibrated_bundle(run):
    meta = json.loads((run["bundle"] / "bundle.json").read_text())
    assert meta["task"] == "speaker" and meta["model"]["name"] == "speaker_net" and meta["frontend"]["n_mels"] == 40
    cal = meta["calibration"]
    assert cal["operating_point"] == "eer" and meta["thresholds"]["cosine"] == cal["threshold"]
    assert meta["metrics"]["eer"] < 0.1 and meta["embedding"]["dim"] == 32
    assert cal["targets"] == 12 and cal["nontargets"] == 264       # all pairs of 2 fresh utterances x 12 voices


def test_embed_json_and_text(run, capsys):
    files = [str(p) for p in run["wav"][:3]]
    assert main(["speaker", "embed", *files, "--model", str(run["bundle"]), "--format", "json"]) == 0
    lines = _json_lines(capsys)
    assert [x["file"] for x in lines] == files and all(len(x["embedding"]) == 32 for x in lines)
    assert main(["speaker", "embed", files[0], "--model", str(run["bundle"])]) == 0
    name, values = capsys.readouterr().out.rstrip("\n").split("\t")
    assert name == files[0] and len(values.split()) == 32
    assert [float(v) for v in values.split()] == pytest.approx(lines[0]["embedding"], rel=1e-4, abs=1e-5)


def test_verify_same_and_different(run, capsys):
    a, b, c = (str(p) for p in (run["wav"][0], run["wav"][1], run["wav"][3]))    # spk000/0, spk000/1, spk001/0
    assert main(["speaker", "verify", a, b, "--model", str(run["bundle"]), "--format", "json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["decision"] == "same" and same["score"] >= same["threshold"] and "llr" in same
    assert main(["speaker", "verify", a, c, "--model", str(run["bundle"]), "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["decision"] == "different" and diff["score"] < same["score"] and diff["score"] < diff["threshold"]
    assert main(["speaker", "verify", a, c, "--model", str(run["bundle"]), "--threshold", "-1", "--norm", "none"]) == 0
    assert "same" in capsys.readouterr().out.split("\n")[2]          # the table's decision column


@pytest.mark.parametrize("options", [[], ["--backend", "plda", "--norm", "none", "--threshold", "0.5"]])
def test_verify_prints_exactly_the_pipelines_result(options, capsys):
    """CLI = Python: --format json is VerifyResult.to_json(), text is to_text(); 'speechdl run' says the same."""
    import speechdl

    sample = str(ROOT / "speechdl/assets/sample.flac")
    pipe = speechdl.load("speaker")
    opts = dict(zip([o[2:] for o in options[::2]], options[1::2]))
    result = pipe.run((sample, sample), **opts)
    assert main(["speaker", "verify", sample, sample, *options, "--format", "json"]) == 0
    assert capsys.readouterr().out == result.to_json() + "\n"
    assert main(["speaker", "verify", sample, sample, *options]) == 0
    assert capsys.readouterr().out == result.to_text() + "\n"
    assert main(["run", "speaker", sample, sample, *options, "--format", "json"]) == 0
    assert capsys.readouterr().out == result.to_json() + "\n"


def test_verify_json_is_the_pipeline_json_on_a_trained_bundle(run, capsys):
    from speechdl.tasks.speaker.pipeline import load_pipeline

    a, c = (str(p) for p in (run["wav"][0], run["wav"][3]))
    for options in ([], ["--backend", "plda"], ["--norm", "none", "--threshold", "-1"]):
        assert main(["speaker", "verify", a, c, "--model", str(run["bundle"]), *options, "--format", "json"]) == 0
        opts = dict(zip([o[2:] for o in options[::2]], options[1::2]))
        assert capsys.readouterr().out == load_pipeline(run["bundle"]).run((a, c), **opts).to_json() + "\n"


def test_enroll_identify_list_remove(run, tmp_path, capsys):
    db, bundle = str(tmp_path / "store" / "speakers.db"), str(run["bundle"])
    by_speaker: dict[str, list[str]] = {}
    for p in run["wav"]:
        by_speaker.setdefault(p.parent.name, []).append(str(p))
    for name, files in by_speaker.items():
        assert main(["speaker", "enroll", name, *files[:2], "--store", db, "--model", bundle, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["count"] == 2
    tests = [files[2] for files in by_speaker.values()]
    assert main(["speaker", "identify", *tests, "--store", db, "--model", bundle, "--format", "json"]) == 0
    found = _json_lines(capsys)
    assert [r["candidates"][0]["name"] for r in found] == list(by_speaker)
    assert sum(r["speaker"] == name for r, name in zip(found, by_speaker)) >= 3 and len(found[0]["candidates"]) == 3
    assert main(["speaker", "list", "--store", db, "--format", "json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == sorted(by_speaker)
    assert main(["speaker", "remove", "spk001", "--store", db]) == 0
    assert main(["speaker", "list", "--store", db]) == 0
    listed = capsys.readouterr().out
    assert "spk001" not in listed.split("removed spk001")[-1] and "spk002" in listed


def test_eval_reports_eer_min_dcf_and_writes_a_det_plot(run, tmp_path, capsys):
    plot = tmp_path / "det.png"
    assert main(["speaker", "eval", str(run["unseen"]), "--root", str(run["unseen"].parent / "wav"),
                 "--model", str(run["bundle"]), "--plot", str(plot), "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["trials"] == 18 * 17 // 2 and rep["targets"] == 18 and plot.stat().st_size > 10_000
    assert 0 <= rep["eer"] < 0.3 and 0 < rep["min_dcf_0.01"] <= 1 and 0 < rep["min_dcf_0.05"] <= 1
    assert {"far", "frr", "threshold", "eer_threshold"} <= set(rep)
    assert main(["speaker", "eval", str(run["seen"]), "--model", str(run["bundle"]), "--root",
                 str(run["seen"].parent / "wav")]) == 0
    assert "EER %" in capsys.readouterr().out


def test_export_calibrated_on_a_trial_list_at_a_false_accept_rate(run, tmp_path):
    out = tmp_path / "far"
    assert main(["speaker", "export", str(run["dir"] / "run"), "--bundle", str(out), "--operating-point", "far=0.05",
                 "--trials", str(run["unseen"]), "--root", str(run["unseen"].parent / "wav")]) == 0
    cal = json.loads((out / "bundle.json").read_text())["calibration"]
    assert cal["operating_point"] == "far=0.05" and cal["far"] <= 0.06 and cal["targets"] == 18


@pytest.mark.parametrize("argv, needle", [
    (["speaker", "embed", "{tmp}/missing.wav", "--model", "{bundle}"], "missing.wav: file not found"),
    (["speaker", "embed", "{wav}", "--model", "{tmp}/no_bundle"], "no bundle here"),
    (["speaker", "embed", "{wav}", "--model", "vad"], "not a speaker one"),
    (["speaker", "verify", "{wav}", "{tmp}/b.wav", "--model", "{bundle}"], "b.wav: file not found"),
    (["speaker", "identify", "{wav}", "--store", "{tmp}/none.db", "--model", "{bundle}"], "store not found"),
    (["speaker", "identify", "{wav}", "--store", "{tmp}/none.db", "--model", "{bundle}", "--top", "0"], "--top"),
    (["speaker", "remove", "nobody", "--store", "{tmp}/none.db"], "store not found"),
    (["speaker", "enroll", "a\tb", "{wav}", "--store", "{tmp}/s.db", "--model", "{bundle}"], "one line"),
    (["speaker", "eval", "{tmp}/bad.txt", "--model", "{bundle}"], "bad.txt:2: not a trial"),
    (["speaker", "eval", "{tmp}/lost.txt", "--model", "{bundle}"], "lost.txt:1: audio file"),
    (["speaker", "eval", "{tmp}/none.txt", "--model", "{bundle}"], "trial list not found"),
    (["speaker", "export", "{tmp}", "--bundle", "{tmp}/b"], "config.yaml"),
    (["speaker", "export", "{run}", "--bundle", "{tmp}/b", "--operating-point", "far=5"], "operating point"),
    (["speaker", "train", "{tmp}/none.yaml"], "recipe not found"),
    (["speaker", "verify", "{wav}", "{wav}", "--model", "{old}", "--backend", "plda"], "has no plda back-end"),
    (["speaker", "eval", "{seen}", "--root", "{seen_wav}", "--model", "{old}", "--norm", "asnorm"],
     "no score-normalisation cohort"),
    (["speaker", "identify", "{wav}", "--store", "{tmp}/none.db", "--model", "{old}", "--backend", "plda"],
     "use --backend cosine, or re-export"),
    (["speaker", "verify", "{wav}", "{wav}", "--model", "{bundle}", "--backend", "lda"],
     "option backend: expected one of cosine, plda, got 'lda'"),
    (["speaker", "verify", "{wav}", "{wav}", "--model", "{bundle}", "--threshold", "nan"], "option threshold"),
    (["speaker", "verify", "{wav}", "{wav}", "--model", "{bundle}", "--threshold", "high"], "option threshold"),
    (["speaker", "verify", "{wav}", "{wav}", "--model", "vad"], "not a speaker one"),
    (["speaker", "identify", "{wav}", "--store", "{tmp}/none.db", "--model", "{bundle}", "--norm", "znorm"],
     "option norm: expected one of asnorm, none"),
    (["speaker", "eval", "{seen}", "--root", "{seen_wav}", "--model", "{bundle}", "--backend", "x"], "option backend"),
    (["speaker", "export", "{run}", "--bundle", "{tmp}/b", "--backend", "lda"], "--backend lda: unknown"),
])
def test_user_errors_exit_2_with_one_line(run, tmp_path, capsys, argv, needle):
    (tmp_path / "bad.txt").write_text("1 a.wav b.wav\n1 a.wav\n")
    (tmp_path / "lost.txt").write_text("1 a.wav b.wav\n")
    fill = {"bundle": str(run["bundle"]), "wav": str(run["wav"][0]), "tmp": str(tmp_path),
            "run": str(run["dir"] / "run"), "old": str(run["old"]), "seen": str(run["seen"]),
            "seen_wav": str(run["seen"].parent / "wav")}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("speechdl: error: ") and needle in err and len(err.strip().splitlines()) == 1, err


def test_store_refuses_another_model_and_training_checks_the_speaker_count(run, tmp_path, capsys):
    db = str(tmp_path / "s.db")
    from speechdl.tasks.speaker.store import SpeakerStore

    with SpeakerStore(db, model="some other model") as store:
        store.enroll("x", [[1.0] * 32])
    assert main(["speaker", "identify", str(run["wav"][0]), "--store", db, "--model", str(run["bundle"])]) == 2
    assert "another embedding model" in capsys.readouterr().err
    assert main(["speaker", "train", str(RECIPE), "--out", str(tmp_path / "r"), "model.num_speakers=5",
                 "trainer.max_epochs=1", "trainer.progress_bar=false"]) == 2
    err = capsys.readouterr().err
    assert "model.num_speakers: is 5 but the training data has 12 speakers" in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- back-ends inside the bundle
def test_export_ships_plda_and_a_cohort_with_one_calibration_per_backend(run):
    meta = json.loads((run["bundle"] / "bundle.json").read_text())
    desc = meta["backend"]
    assert desc["default"] == "cosine" and desc["norm"] == "asnorm" and desc["available"] == ["cosine", "plda"]
    assert desc["plda"]["lda_dim"] == 11 and desc["cohort"]["speakers"] == 12 and desc["cohort"]["top_n"] == 12
    assert "96 utterances of 12 speakers" in desc["data"]
    assert set(desc["calibrations"]) == {"cosine", "plda"}
    assert all(set(per) == {"none", "asnorm"} for per in desc["calibrations"].values())
    assert meta["calibration"] == desc["calibrations"]["cosine"]["asnorm"]
    assert meta["thresholds"]["plda"] == desc["calibrations"]["plda"]["asnorm"]["threshold"]
    with np.load(run["bundle"] / "plda.npz") as f:
        assert f["lda_W"].shape == (32, 11) and f["plda_Sb"].shape == (11, 11) and f["center"].shape == (32,)
    assert np.load(run["bundle"] / "cohort.npy").shape == (12, 32)
    assert (run["bundle"] / "bundle.json").stat().st_size < 20_000          # parameters live in the files


def test_reloaded_bundle_reproduces_the_fitted_scores(run):
    """The stored calibrations were fitted on the exporter's in-memory back-end; the reloaded bundle's scores on
    the same calibration trials give them again exactly (same scores, hence the same logistic fit)."""
    from speechdl.tasks.speaker.backends import calibrate
    from speechdl.tasks.speaker.export import pair_scores, validation_trials
    from speechdl.train.config import run_config

    spk = load_speaker(run["bundle"])
    assert spk.backends == ("cosine", "plda") and spk.backend == "cosine" and spk.norm == "asnorm"
    emb, i, j, target = validation_trials(spk, run_config(run["dir"] / "run", ("speaker",)))
    stored = json.loads((run["bundle"] / "bundle.json").read_text())["backend"]["calibrations"]
    for backend in ("cosine", "plda"):
        for norm in ("none", "asnorm"):
            again = calibrate(pair_scores(spk, emb, i, j, backend, norm), target, "eer")
            want = stored[backend][norm]
            assert again["operating_point"] == want["operating_point"] == "eer"
            for key in ("scale", "offset", "threshold", "far", "frr", "eer"):
                assert again[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), (backend, norm, key)
    m = spk.score_matrix(emb[:5], emb, "plda")
    np.testing.assert_allclose(m[0], spk.score(np.repeat(emb[:1], len(emb), 0), emb, "plda"), rtol=1e-9)


def test_plda_and_asnorm_separate_unseen_voices(run, capsys):
    from speechdl.tasks.speaker.evaluate import score_trials

    spk, root = load_speaker(run["bundle"]), run["unseen"].parent / "wav"
    for backend in ("cosine", "plda"):
        assert main(["speaker", "eval", str(run["unseen"]), "--root", str(root), "--model", str(run["bundle"]),
                     "--backend", backend, "--norm", "asnorm", "--format", "json"]) == 0
        rep = json.loads(capsys.readouterr().out)
        assert rep["backend"] == backend and rep["norm"] == "asnorm" and rep["eer"] < 0.3, rep     # chance: 0.5
        scores, target = score_trials(spk, run["unseen"], root, backend=backend, norm="asnorm")
        assert scores[target].mean() > scores[~target].mean() + 1.0        # AS-norm scores: cohort std units
    assert main(["speaker", "eval", str(run["unseen"]), "--root", str(root), "--model", str(run["bundle"]),
                 "--backend", "plda", "--norm", "none"]) == 0
    out = capsys.readouterr().out
    assert "plda" in out and "none" in out and "EER %" in out


def test_verify_and_identify_with_plda(run, tmp_path, capsys):
    bundle, (a, b, c) = str(run["bundle"]), (str(p) for p in (run["wav"][0], run["wav"][1], run["wav"][3]))
    assert main(["speaker", "verify", a, b, "--model", bundle, "--backend", "plda", "--format", "json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert main(["speaker", "verify", a, c, "--model", bundle, "--backend", "plda", "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert same["backend"] == "plda" and same["norm"] == "asnorm" and same["score"] > diff["score"]
    meta = json.loads((run["bundle"] / "bundle.json").read_text())
    assert same["threshold"] == pytest.approx(meta["thresholds"]["plda"], abs=1e-6) and "llr" in same
    db = str(tmp_path / "s.db")
    by_speaker: dict[str, list[str]] = {}
    for p in run["wav"]:
        by_speaker.setdefault(p.parent.name, []).append(str(p))
    for name, files in by_speaker.items():
        assert main(["speaker", "enroll", name, *files[:2], "--store", db, "--model", bundle]) == 0
    capsys.readouterr()
    tests = [files[2] for files in by_speaker.values()]
    assert main(["speaker", "identify", *tests, "--store", db, "--model", bundle, "--backend", "plda",
                 "--format", "json"]) == 0
    found = _json_lines(capsys)
    assert all(r["backend"] == "plda" for r in found)
    assert sum(r["candidates"][0]["name"] == name for r, name in zip(found, by_speaker)) >= 3


def test_old_bundle_without_backend_files_verifies_with_cosine(run, capsys):
    spk = load_speaker(run["old"])
    assert spk.backends == ("cosine",) and spk.backend == "cosine" and spk.norm == "none"
    a, b = (str(p) for p in run["wav"][:2])
    assert main(["speaker", "verify", a, b, "--model", str(run["old"]), "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["backend"] == "cosine" and r["norm"] == "none" and r["decision"] == "same" and "llr" in r
    old_cal = json.loads((run["old"] / "bundle.json").read_text())["calibration"]
    assert r["threshold"] == pytest.approx(old_cal["threshold"], abs=1e-6)


def test_export_with_plda_as_default_and_no_cohort(run, tmp_path):
    out = tmp_path / "plda"
    assert main(["speaker", "export", str(run["dir"] / "run"), "--bundle", str(out), "--backend", "plda",
                 "--cohort-size", "0", "--lda-dim", "6", "--max-per-speaker", "3"]) == 0
    meta = json.loads((out / "bundle.json").read_text())
    desc = meta["backend"]
    assert desc["default"] == "plda" and desc["norm"] == "none" and "cohort" not in desc
    assert desc["plda"]["lda_dim"] == 6 and "36 utterances of 12 speakers" in desc["data"]
    assert meta["calibration"] == meta["backend"]["calibrations"]["plda"]["none"] and not (out / "cohort.npy").exists()
    spk = load_speaker(out)
    assert spk.backend == "plda" and spk.norm == "none"
    with pytest.raises(SpeechdlError, match="cohort"):
        spk.score(np.ones((1, 32)), np.ones((1, 32)), norm="asnorm")
