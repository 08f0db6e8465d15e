"""SpeakerModel: bundle round trip, batched = one-by-one embeddings, long files in blocks, decisions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdl import audio
from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.nn import build
from speechdl.pretrained import save_bundle
from speechdl.tasks.speaker.backends import length_norm
from speechdl.tasks.speaker.infer import SpeakerModel, load_speaker
from speechdl.tasks.speaker.toy import render, voice

torch.set_num_threads(1)
KWARGS = {"in_dim": 40, "num_speakers": 4, "embed_dim": 16,
          "encoder": {"name": "xvector", "widths": [16, 16, 32], "contexts": [5, 3, 1], "dilations": [1, 2, 1]}}
CAL = {"method": "logistic", "scale": 10.0, "offset": -5.0, "operating_point": "eer", "threshold": 0.5}


@pytest.fixture(scope="module")
def spk():
    torch.manual_seed(0)
    return SpeakerModel(build("speaker_net", **KWARGS), FrontendConfig.logmel(), CAL)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("wav")
    paths = []
    for k, seconds in enumerate([1.0, 1.6, 0.7, 1.2]):
        paths.append(out / f"{k}.wav")
        audio.save(paths[-1], render(voice(k % 2), seconds, seed=k), 16000)
    return paths


def test_bundle_round_trip_gives_the_same_embeddings(spk, files, tmp_path):
    out = save_bundle(tmp_path / "b", task="speaker", model={"name": "speaker_net", "kwargs": KWARGS},
                      state_dict=spk.model.state_dict(), frontend=spk.cfg.to_dict(), extra={"calibration": CAL})
    again = load_speaker(out)
    np.testing.assert_allclose(again.embed_files(files), spk.embed_files(files), atol=1e-6)
    assert again.fingerprint == again.meta["weights"]["sha256"] and again.dim == 16


def test_batched_embeddings_equal_one_by_one(spk, files):
    batched = spk.embed_files(files, batch_size=3)
    single = np.stack([spk.embed_file(f) for f in files])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_long_files_are_embedded_in_blocks(spk, files):
    wave, _ = audio.load(files[1])                       # 1.6 s: blocks of 0.6, 0.6 and 0.4 s (dropped: < 0.5 s)
    blocks = [wave[:9600], wave[9600:19200]]
    want = np.average(length_norm(spk.embed_waves(blocks)), axis=0, weights=[9600, 9600])
    np.testing.assert_allclose(spk.embed_file(files[1], max_seconds=0.6), want, atol=1e-5)
    np.testing.assert_allclose(spk.embed_files([files[1]], max_seconds=0.6)[0], want, atol=1e-5)
    whole = spk.embed_file(files[1])
    assert float((length_norm(whole) @ length_norm(want).T)[0, 0]) > 0.8   # blocks agree with the whole file


def test_decisions_use_the_calibrated_threshold(spk, files):
    r = spk.verify(files[0], files[0])
    assert r["score"] == pytest.approx(1.0) and r["same"] and r["threshold"] == 0.5 and r["llr"] == pytest.approx(5.0)
    assert spk.decide(0.4) == {"score": 0.4, "threshold": 0.5, "same": False, "llr": -1.0, "backend": "cosine",
                               "norm": "none"}
    assert spk.decide(0.4, threshold=0.3)["same"]
    bare = SpeakerModel(spk.model, spk.cfg)
    with pytest.raises(ConfigError, match="no calibrated threshold"):
        bare.verify(files[0], files[1])
    assert bare.decide(0.4, threshold=0.3) == {"score": 0.4, "threshold": 0.3, "same": True, "backend": "cosine",
                                               "norm": "none"}
