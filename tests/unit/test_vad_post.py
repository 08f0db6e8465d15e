"""VAD post-processing: smoothing, hysteresis, minimum durations, padding, incremental == offline."""

from __future__ import annotations

import numpy as np
import pytest

from speechdl.errors import ConfigError
from speechdl.tasks.vad.post import PostConfig, SegmentTracker, segments, smooth

RAW = dict(smoothing="none", min_speech=0.0, min_silence=0.0, pad=0.0)


def test_exact_segments_on_hand_made_posteriors():
    p = np.array([0.1] * 10 + [0.9] * 20 + [0.2] * 30 + [0.8] * 15 + [0.1] * 5)
    assert segments(p, 0.01, PostConfig(**RAW)) == [{"start": 0.1, "end": 0.3}, {"start": 0.6, "end": 0.75}]


def test_hysteresis_keeps_speech_between_offset_and_onset():
    p = np.array([0.1] * 5 + [0.8] * 5 + [0.45] * 5 + [0.8] * 5 + [0.1] * 5)
    # 0.45 is below the onset 0.5 but above the offset 0.3: one segment
    assert segments(p, 0.1, PostConfig(onset=0.5, offset=0.3, **RAW)) == [{"start": 0.5, "end": 2.0}]
    # without hysteresis (offset = onset) the dip splits it
    assert segments(p, 0.1, PostConfig(onset=0.5, offset=0.5, **RAW)) == [
        {"start": 0.5, "end": 1.0}, {"start": 1.5, "end": 2.0}]
    # a rise to 0.45 never starts speech
    assert segments(np.array([0.1, 0.45, 0.45, 0.1]), 0.1, PostConfig(onset=0.5, offset=0.3, **RAW)) == []


def test_min_speech_drops_short_bursts_and_min_silence_fills_gaps():
    p = np.array([0.0] * 10 + [1.0] * 3 + [0.0] * 20 + [1.0] * 30 + [0.0] * 4 + [1.0] * 30 + [0.0] * 10)
    cfg = dict(smoothing="none", pad=0.0)
    assert segments(p, 0.01, PostConfig(min_speech=0.05, min_silence=0.0, **cfg)) == [
        {"start": 0.33, "end": 0.63}, {"start": 0.67, "end": 0.97}]
    # the 40 ms gap is filled by min_silence 0.05; the 30 ms burst is dropped by min_speech
    assert segments(p, 0.01, PostConfig(min_speech=0.05, min_silence=0.05, **cfg)) == [{"start": 0.33, "end": 0.97}]
    # a 30 ms burst survives min_speech 0.03
    assert segments(p, 0.01, PostConfig(min_speech=0.03, min_silence=0.05, **cfg))[0] == {"start": 0.1, "end": 0.13}


def test_padding_extends_and_clips_to_the_audio():
    p = np.array([1.0] * 5 + [0.0] * 50 + [1.0] * 10)
    out = segments(p, 0.01, PostConfig(smoothing="none", min_speech=0.0, min_silence=0.0, pad=0.02), duration=0.643)
    assert out == [{"start": 0.0, "end": 0.07}, {"start": 0.53, "end": 0.643}]


def test_median_smoothing_removes_single_frame_spikes_and_dropouts():
    p = np.array([0.0] * 10 + [1.0] + [0.0] * 10 + [1.0] * 10 + [0.0] + [1.0] * 10 + [0.0] * 5)
    cfg = PostConfig(smoothing="median", smooth_frames=3, min_speech=0.0, min_silence=0.0, pad=0.0)
    assert segments(p, 0.01, cfg) == [{"start": 0.21, "end": 0.42}]
    s = smooth(p, PostConfig(smoothing="mean", smooth_frames=3))
    assert s.shape == p.shape and s[10] == pytest.approx(1 / 3) and s[0] == 0.0


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 1000])
def test_incremental_tracker_equals_offline(chunk):
    rng = np.random.default_rng(1)
    p = np.clip(np.repeat(rng.random(60), 7) + 0.1 * rng.standard_normal(420), 0, 1)
    cfg = PostConfig(onset=0.6, offset=0.4, smooth_frames=5, min_speech=0.05, min_silence=0.08, pad=0.02)
    ref = segments(p, 0.01, cfg, duration=4.2)
    tr = SegmentTracker(0.01, cfg)
    events = []
    for i in range(0, len(p), chunk):
        events += tr.push(p[i:i + chunk])
    events += tr.flush(4.2)
    assert tr.segments == ref and len(ref) >= 3
    starts = [e["time"] for e in events if e["event"] == "start"]
    ends = [(e["start"], e["time"]) for e in events if e["event"] == "end"]
    assert starts == [s["start"] for s in ref] and ends == [(s["start"], s["end"]) for s in ref]
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "end"] * len(ref)   # a start always precedes its end


def test_start_event_comes_once_min_speech_has_passed():
    cfg = PostConfig(smoothing="none", min_speech=0.05, min_silence=0.1, pad=0.0)
    tr = SegmentTracker(0.01, cfg)
    assert tr.push(np.zeros(10)) == []
    assert tr.push(np.ones(4)) == []           # 40 ms of speech: not yet confirmed
    assert tr.push(np.ones(1)) == [{"event": "start", "time": 0.1}]
    assert tr.push(np.zeros(9)) == []          # 90 ms of silence: could still merge
    assert tr.push(np.zeros(1)) == [{"event": "end", "time": 0.15, "start": 0.1}]


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="offset"):
        PostConfig(onset=0.5, offset=0.7)
    with pytest.raises(ConfigError, match="onset"):
        PostConfig(onset=1.5)
    with pytest.raises(ConfigError, match="odd"):
        PostConfig(smooth_frames=4)
    with pytest.raises(ConfigError, match="unknown"):
        PostConfig.from_dict({"treshold": 0.5})
    assert PostConfig(onset=0.5).offset_threshold == pytest.approx(0.35)
