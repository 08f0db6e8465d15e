"""Keyword spotting over streams: the column-by-column ResNet, and the dialogue negatives it is trained with."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechdl import audio
from speechdl.errors import ConfigError, DataError
from speechdl.features import Frontend, FrontendConfig
from speechdl.nn import build
from speechdl.tasks.kws import detect as D
from speechdl.tasks.kws.columns import ColumnStream, context_frames, supports, window_columns, window_seconds
from speechdl.tasks.kws.data import KwsWords, speaker_split
from speechdl.tasks.kws.real_words import dialogue_crops, keyword_free_rows
from speechdl.tasks.kws.vocab import UNKNOWN

SR = 16000


def _resnet(seed: int = 0, crop: int = 0) -> torch.nn.Module:
    """The shipped architecture with random weights and batch-norm statistics (so folding them matters)."""
    torch.manual_seed(seed)
    net = build("resnet", in_dim=40, out_dim=22, layers=[1, 1, 1], channels=[8, 8, 8], strides=[2, 2, 2],
                pool_crop=crop)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def test_columns_equal_the_network_and_any_chunking():
    net = _resnet()
    x = torch.randn(400, 40) * 3
    cs = ColumnStream(net)
    assert cs.lookahead == 22 and cs.stride == 8 and window_columns(net, 101) == 13
    cols = cs.push(x)
    with torch.no_grad():
        ref = net.blocks(net.stem(x[None, None])).mean(3)[0].T       # the whole signal through the network
    # every column whose frames are all there: 8 J + 22 <= 399
    assert cols.shape == (48, 8) and torch.allclose(cols, ref[:48], atol=1e-5)
    rng, parts, i, cs2 = np.random.default_rng(1), [], 0, ColumnStream(net)
    while i < len(x):
        n = int(rng.integers(0, 19))
        parts.append(cs2.push(x[i:i + n]))
        i += n
    assert torch.allclose(torch.cat(parts), cols, atol=1e-5)


def test_window_of_columns_is_the_networks_pool_and_head():
    net = _resnet(1)
    x = torch.randn(300, 40)
    cols = ColumnStream(net).push(x)
    with torch.no_grad():
        ref = net(x[None])[0]                                          # the whole input as one window
        h = net.blocks(net.stem(x[None, None])).mean(3)[0].T
        assert torch.allclose(net.out(h.mean(0)), ref, atol=1e-5)
        # a window of 13 interior columns: what the detector gives
        assert torch.allclose(net.out(cols[10:23].mean(0)), net.out(h[10:23].mean(0)), atol=1e-5)


def test_only_resnets_it_can_run_go_column_by_column():
    assert supports(_resnet())
    assert not supports(build("resnet", in_dim=40, out_dim=5, dims=1, layers=[1], channels=[4]))
    assert not supports(build("resnet", in_dim=40, out_dim=5, layers=[1], channels=[4], pool="max"))
    cnn = build("cnn_fc", in_dim=40, out_dim=22, channels=[4, 4], fc=[8], num_frames=101).eval()
    assert not supports(cnn)
    with pytest.raises(ConfigError, match="column by column"):
        ColumnStream(cnn)
    cfg = FrontendConfig.logmel()
    assert D.window_hop(cnn, cfg) == pytest.approx(0.1) and D.window_hop(_resnet(), cfg) == pytest.approx(0.08)


def test_column_detector_streams_exactly_like_offline_and_window_zero_is_centred():
    net, cfg = _resnet(2), FrontendConfig.logmel()
    w = (0.1 * np.random.default_rng(0).standard_normal(int(2.5 * SR))).astype(np.float32)
    off = D.detect(net, cfg, w)
    assert off.shape[1] == 22 and np.allclose(off.sum(1), 1, atol=1e-5)
    assert len(off) * 0.08 >= 2.5                                       # windows reach the end of the input
    det, rng, got, i = D.Detector(net, cfg), np.random.default_rng(3), [], 0
    while i < len(w):
        n = int(rng.integers(1, 2500))
        got.append(det.push(w[i:i + n]))
        i += n
    got.append(det.finish())
    assert np.abs(np.concatenate(got) - off).max() < 1e-5
    # window w pools the 13 columns centred on frame 8 w of the input (72 frames of silence before it: the
    # receptive field of window 0 sees no zero padding)
    pad = np.zeros(72 * cfg.hop_length, np.float32)
    frames = Frontend(cfg)(torch.from_numpy(np.concatenate([pad, w, pad]))[None])[0]
    cols = ColumnStream(net).push(frames)
    with torch.no_grad():
        ref = torch.softmax(net.out(cols[13:26].mean(0)), -1).numpy()
    assert np.abs(off[10] - ref).max() < 1e-4
    # the windows engine is still there on request, 100 ms apart
    assert len(D.detect(net, cfg, w, columns=False)) == 26


def test_a_model_trained_with_context_is_exactly_what_the_column_stream_runs():
    net, cfg = _resnet(4, crop=3), FrontendConfig.logmel()
    assert context_frames(net) == 24 and window_seconds(net) == pytest.approx(1.48)
    x = torch.randn(149, 40)
    with torch.no_grad():
        h = net.blocks(net.stem(x[None, None])).mean(3)[0].T                    # 19 columns
        assert torch.allclose(net(x[None])[0], net.out(h[3:16].mean(0)), atol=1e-5)
    with pytest.raises(ConfigError, match="leaves no column"):
        net(torch.randn(1, 40, 40))
    # a 1.48 s window classified on its own == the stream's window with the same columns: a 149-frame window's
    # columns centre on its frame 72, 20 ms before its middle, so windows 4k + 1 (0.08 + 0.4k s) meet 5k + 1
    w = (0.1 * np.random.default_rng(5).standard_normal(int(3.0 * SR))).astype(np.float32)
    cols, wins = D.detect(net, cfg, w), D.detect(net, cfg, w, columns=False)
    n = min((len(cols) - 2) // 5, (len(wins) - 2) // 4)
    assert n >= 6 and np.abs(cols[1:5 * n:5] - wins[1:4 * n:4]).max() < 1e-5


def _real_dev(tmp_path):
    """A real_dev folder: keyword-free lines of two speakers (one of each split), one line with a keyword."""
    spk = {s: speaker_split(s) for s in (f"game:p{i}" for i in range(40))}
    train = next(s for s, v in spk.items() if v == "train")
    dev = next(s for s, v in spk.items() if v == "dev")
    rows = []
    for i, (s, text) in enumerate([(train, "Where is the ship?"), (train, "Open the door now!"),
                                   (train, "Go away."), (dev, "Nice weather today.")]):
        audio.save(tmp_path / f"{i}.flac", 0.1 * np.random.default_rng(i).standard_normal(int(1.6 * SR)), SR)
        rows.append({"audio": f"{i}.flac", "source": "game", "sample_rate": SR, "duration": 1.6, "kind": "speech",
                     "language": "en", "text": text, "text_quality": "exact", "speaker": s})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, train, dev


def test_dialogue_crops_are_keyword_free_train_speaker_negatives(tmp_path):
    rd, train, dev = _real_dev(tmp_path / "rd")
    assert {r["text"] for r in keyword_free_rows(rd, ("game",), split="dev")} == {"Nice weather today."}
    rows = dialogue_crops(rd, tmp_path / "neg", crops=12, sources=("game",))
    assert len(rows) == 12 and {r["speaker"] for r in rows} == {train}
    assert {r["orig"] for r in rows} <= {"0.flac", "1.flac"}             # "Go away." holds a keyword
    assert all(r["label"] == UNKNOWN and r["negative"] for r in rows)
    x, sr = audio.load(tmp_path / "neg" / rows[0]["audio"])
    assert sr == SR and len(x) == SR
    # the dataset keeps every negative however few unknown words it keeps
    words = tmp_path / "words"
    words.mkdir()
    audio.save(words / "y.flac", 0.2 * np.ones(4000), SR)
    (words / "manifest.jsonl").write_text(json.dumps({"audio": "y.flac", "label": "yes"}) + "\n")
    ds = KwsWords([str(words), str(tmp_path / "neg")], unknown_share=0.01)
    assert sum(bool(r.get("negative")) for r in ds.rows) == 12
    with pytest.raises(DataError, match="no keyword-free speech"):
        dialogue_crops(rd, tmp_path / "x", sources=("other",))
    with pytest.raises(DataError, match="not a real_dev folder"):
        dialogue_crops(tmp_path / "nothing", tmp_path / "y")
