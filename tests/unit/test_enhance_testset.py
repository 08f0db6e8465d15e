"""Enhancement test mixes: held-out families only, SNRs as asked, deterministic, readable back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechdl import audio
from speechdl.data.synth.noise import noise_split_of
from speechdl.errors import DataError
from speechdl.paths import real_dev
from speechdl.tasks.enhance import splits
from speechdl.tasks.enhance import testset as T
from speechdl.tasks.enhance.data import active_mask

needs_data = pytest.mark.skipif(not (real_dev() / "manifest.jsonl").is_file(), reason="no real_dev data")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("enh_test")
    T.build_set(out, "heldout", clips=2, seed=3, snrs=(0.0, 10.0))
    T.build_set(out, "seen", clips=6, seed=3, snrs=(5.0,))
    return out


@needs_data
def test_speech_pool_is_the_held_out_family() -> None:
    pool = T.speech_pool()
    files = [p for v in pool.values() for p in v]
    assert len(pool) > 10 and len(files) > 100
    assert all(p.parent.name in splits.HELD_OUT_SPEECH for p in files)
    assert not set(splits.HELD_OUT_SPEECH) & set(splits.TRAIN_SPEECH_SOURCES)


@needs_data
def test_heldout_mixes_hit_their_snr_and_family(built: Path) -> None:
    rows = T.read_manifest(built / "heldout")
    assert [r["snr_db"] for r in rows] == [0.0, 10.0, 0.0, 10.0]
    assert {r["family"] for r in rows} == set(splits.HELD_OUT_NOISE)
    for r in rows:
        noisy, sr = audio.load(r["noisy"])
        clean, _ = audio.load(r["clean"])
        assert sr == 16000 and noisy.shape == clean.shape
        assert 3.0 <= len(clean) / sr <= 8.0
        act = active_mask(clean, sr)
        noise = noisy - clean
        snr = 10 * np.log10(np.mean(clean[act] ** 2) / np.mean(noise ** 2))
        assert abs(snr - r["snr_db"]) < 0.3, (r["id"], snr)
        assert -27.0 < 20 * np.log10(np.abs(noisy).max()) < -5.0
    a, b = (audio.load(rows[i]["clean"])[0] for i in (0, 1))   # paired design: same clean clip at each SNR
    assert np.allclose(a / np.abs(a).max(), b / np.abs(b).max(), atol=1e-3)


@needs_data
def test_seen_set_uses_training_families_and_eval_noise(built: Path) -> None:
    rows = T.read_manifest(built / "seen")
    assert [r["family"] for r in rows] == list(splits.TRAIN_NOISE_FAMILIES)
    for r in rows:
        if not r["noise"].startswith("synthetic"):
            assert noise_split_of(r["noise"]) == "eval"


@needs_data
def test_build_is_deterministic(built: Path, tmp_path: Path) -> None:
    T.build_set(tmp_path, "heldout", clips=2, seed=3, snrs=(0.0, 10.0))
    a = (built / "heldout" / "manifest.jsonl").read_text()
    assert a == (tmp_path / "heldout" / "manifest.jsonl").read_text()
    first = json.loads(a.splitlines()[0])["noisy"]
    assert (built / "heldout" / first).read_bytes() == (tmp_path / "heldout" / first).read_bytes()


def test_missing_set_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="python benchmarks/enhance.py --build"):
        T.read_manifest(tmp_path)
    with pytest.raises(ValueError, match="unknown test set"):
        T.build_set(tmp_path, "nope", clips=1)


@needs_data
def test_asr_set_has_transcripts_of_the_asr_eval_source(tmp_path: Path) -> None:
    from speechdl.tasks.asr.lm_corpus import EVAL_SOURCES

    assert set(T.ASR_SPEECH) <= set(EVAL_SOURCES)                  # never trained on by the shipped ASR
    assert not set(T.ASR_SPEECH) & set(splits.TRAIN_SPEECH_SOURCES)  # nor by enhancement
    rows = T.build_set(tmp_path, "asr", clips=2, seed=1, snrs=(5.0,))
    assert len(rows) == 2 and all(len(r["text"].split()) >= 3 for r in rows)
    assert {r["family"] for r in rows} == set(splits.HELD_OUT_NOISE)
    for r in T.read_manifest(tmp_path / "asr"):
        clean, _ = audio.load(r["clean"])
        noisy, _ = audio.load(r["noisy"])
        act = active_mask(clean, 16000)
        snr = 10 * np.log10(np.mean(clean[act] ** 2) / np.mean((noisy - clean) ** 2))
        assert abs(snr - 5.0) < 0.3
