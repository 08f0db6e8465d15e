"""Speaker verification on the application contract: ``speechdl.load("speaker")`` (no Lightning), ``run((a, b))``
against the engine, waveform = file inputs, declared options, user errors, and the shipped bundle's back-end
scores pinned to the values the code before the scikit-learn rewrite gave."""

from __future__ import annotations

import doctest
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import speechdl
from speechdl import audio
from speechdl.errors import AudioError, ConfigError
from speechdl.tasks.speaker import pipeline as P

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "speechdl/assets/sample.flac")


@pytest.fixture(scope="module")
def spk():
    return speechdl.load("speaker")


@pytest.mark.slow
def test_loading_the_shipped_bundle_imports_no_lightning():
    code = ("import sys, speechdl.tasks.speaker; light = sorted(sys.modules); import speechdl; "
            "p = speechdl.load('speaker'); "
            "print(type(p).__name__, 'torch' in light, sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'lightning' or m.startswith(('speechdl.train', 'pytorch_lightning'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["SpeakerPipeline", "False", "[]"]     # package import: not even torch


def test_sample_against_itself_is_the_same_speaker_with_the_engines_score(spk):
    r = spk.run((SAMPLE, SAMPLE))
    assert isinstance(r, P.VerifyResult) and r.same and r.decision == "same"
    # the engine's SpeakerModel.verify gave 3.863142 (cosine + AS-norm) before the contract existed
    assert r.score == pytest.approx(3.863142, abs=1e-4)
    assert (r.backend, r.norm, r.threshold) == ("cosine", "asnorm", pytest.approx(1.3848380555537292, abs=1e-6))
    cal = spk.meta["backend"]["calibrations"]["cosine"]["asnorm"]
    assert r.llr == pytest.approx(cal["scale"] * r.score + cal["offset"], abs=1e-3)
    assert r.probability == pytest.approx(1 / (1 + math.exp(-r.llr)), abs=1e-6)
    d = json.loads(r.to_json())
    assert d == {"task": "speaker", "enroll": SAMPLE, "test": SAMPLE, "score": r.score, "threshold": r.threshold,
                 "decision": "same", "backend": "cosine", "norm": "asnorm", "llr": r.llr, "probability": r.probability}
    assert r.to_text().splitlines()[2].split()[4:7] == ["same", "cosine", "asnorm"]


def test_waveforms_equal_files_and_halves_of_one_speaker_agree(spk):
    wave, _ = audio.load(SAMPLE, sample_rate=spk.sample_rate)
    assert spk.run((wave, wave)).score == pytest.approx(spk.run((SAMPLE, SAMPLE)).score, abs=1e-5)
    np.testing.assert_allclose(spk.embed(wave), spk.embed(SAMPLE), atol=1e-6)
    e = spk.embed(SAMPLE)
    assert e.shape == (spk.dim,) == (192,) and e.dtype == np.float32
    half = len(wave) // 2
    r = spk.run((wave[:half], list(wave[half:])))                      # any array-like waveform
    assert (r.enroll, r.test) == ("<waveform>", "<waveform>")
    want = spk.engine.score(spk.embed(wave[:half]), spk.embed(wave[half:]))[0]
    assert r.score == pytest.approx(want, abs=1e-6) and r.same


def test_long_waveforms_are_embedded_in_blocks(spk):
    wave, _ = audio.load(SAMPLE, sample_rate=spk.sample_rate)        # 13.6 s: blocks of 6 s, 6 s, 1.6 s
    blocks = [wave[:96000], wave[96000:192000], wave[192000:]]
    want = spk.engine.embed_blocks(blocks)
    np.testing.assert_allclose(spk.engine.embed_wave(wave, max_seconds=6.0), want, atol=1e-6)
    np.testing.assert_allclose(spk.engine.embed_file(SAMPLE, max_seconds=6.0), want, atol=1e-5)


def test_options_are_declared_and_checked_once(spk):
    names = [o["name"] for o in spk.describe()["options"]]
    assert names == ["backend", "norm", "threshold"] and spk.describe()["inputs"] == "audio_pair"
    plda = spk.run((SAMPLE, SAMPLE), backend="plda", norm="none")
    assert (plda.backend, plda.norm) == ("plda", "none") and plda.same
    assert plda.threshold == pytest.approx(spk.meta["backend"]["calibrations"]["plda"]["none"]["threshold"], abs=1e-6)
    strict = spk.run((SAMPLE, SAMPLE), threshold="1e6")               # strings parse as from the CLI / a form
    assert strict.threshold == 1e6 and strict.decision == "different"
    for bad, needle in [({"backend": "lda"}, "option backend: expected one of cosine, plda"),
                        ({"norm": "znorm"}, "option norm"), ({"threshold": float("inf")}, "option threshold"),
                        ({"threshold": "nan"}, "option threshold"), ({"top": 3}, "unknown option(s) top")]:
        with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            spk.run((SAMPLE, SAMPLE), **bad)


def test_user_errors_are_one_line_speechdl_errors(spk, tmp_path):
    for bad in [SAMPLE, (SAMPLE,), (SAMPLE, SAMPLE, SAMPLE), None]:
        with pytest.raises(ConfigError, match="expected a pair"):
            spk.run(bad)
    with pytest.raises(AudioError, match="missing.wav"):
        spk.run((SAMPLE, str(tmp_path / "missing.wav")))
    with pytest.raises(AudioError, match="expected mono"):
        spk.run((np.zeros((2, 16000), np.float32), SAMPLE))
    with pytest.raises(AudioError, match="NaN"):
        spk.embed(np.full(16000, np.nan, np.float32))
    with pytest.raises(ConfigError, match="not a speaker one"):
        P.load_pipeline("vad")


def test_a_bundle_without_plda_refuses_it_in_one_line(spk, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(spk.path, old)
    meta = json.loads((old / "bundle.json").read_text())
    meta["calibration"] = meta.pop("backend")["calibrations"]["cosine"]["none"]
    (old / "bundle.json").write_text(json.dumps(meta))
    bare = speechdl.load(old)
    r = bare.run((SAMPLE, SAMPLE))
    assert (r.backend, r.norm, r.decision) == ("cosine", "none", "same") and r.score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ConfigError, match="has no plda back-end") as err:
        bare.run((SAMPLE, SAMPLE), backend="plda")
    assert "\n" not in str(err.value)


# the shipped bundle's stored back-end (plda.npz, cohort.npy, calibrations) scored pairs of its cohort rows with
# the code before LDA / calibration moved to scikit-learn (HEAD 0bade89): loading must give them again
GOLDEN = {
    "cosine/none": [-0.170716359, 0.510683894, -0.093908184, 1.0],
    "cosine/asnorm": [-2.083412179, 1.661699848, -1.825179248, 2.902868836],
    "plda/none": [-64.400773929, -43.003457117, -111.528904666, 31.137800473],
    "plda/asnorm": [-0.406790104, 1.269905155, -1.427206099, 2.649007425],
}


def test_shipped_backend_files_score_as_before(spk):
    cohort = np.load(spk.path / "cohort.npy")
    i, j = [0, 10, 40, 77], [1, 11, 90, 77]
    for key, want in GOLDEN.items():
        backend, norm = key.split("/")
        np.testing.assert_allclose(spk.engine.score(cohort[i], cohort[j], backend, norm), want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(np.diag(spk.engine.score_matrix(cohort[i], cohort[j], backend, norm)), want,
                                   rtol=0, atol=1e-6)


def test_doctests():
    assert doctest.testmod(P).failed == 0
