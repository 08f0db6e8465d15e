"""Segment rules picked on dev audio (speechdl.tasks.vad.calibrate) and written into bundles (recipes/vad/lofo.py)."""

import json

import numpy as np

from speechdl.tasks.vad.calibrate import at_onset, decisions, pick_rule, post_of, rule_f1, rules, write_post
from speechdl.tasks.vad.post import PostConfig


def _dev_set(seed: int, hop: float = 0.03) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Recordings on a 30 ms model grid: words of 0.6-1.2 s with 60 ms dips inside, noise with 60-90 ms blips."""
    rng = np.random.default_rng(seed)
    probs, labels = [], []
    for _ in range(6):
        n = 300                                                    # 9 s of model frames
        p = rng.uniform(0.0, 0.3, n).astype(np.float32)
        y10 = np.zeros(int(n * hop / 0.01) + 1, np.float32)
        t = 10
        while t < n - 50:
            length = int(rng.integers(20, 40))
            p[t:t + length] = rng.uniform(0.7, 1.0, length)
            p[t + length // 2: t + length // 2 + 2] = 0.2          # a dip inside a word: still speech
            y10[int(t * hop / 0.01): int((t + length) * hop / 0.01)] = 1.0
            gap = int(rng.integers(30, 60))
            blip = t + length + gap // 2
            p[blip: blip + int(rng.integers(2, 4))] = 0.9          # a noise blip in the pause
            t += length + gap
        probs.append(p)
        labels.append(y10)
    return probs, labels


def test_rules_grid_is_the_full_product_and_post_of_maps_a_rule_to_a_config():
    grid = rules()
    assert len(grid) == 4 * 3 * 3 * 2 and len(set(grid)) == len(grid)
    assert post_of((0.15, 1, 0.25, 0.1), 0.1) == PostConfig(onset=0.1, offset=0.01, smoothing="none", smooth_frames=1,
                                                            min_speech=0.25, min_silence=0.1, pad=0.03)


def test_decisions_read_segments_back_on_the_10ms_grid():
    p = np.zeros(100, np.float32)
    p[10:20] = 1.0                                                 # 0.3-0.6 s at a 30 ms hop
    d = decisions(p, 0.03, 301, PostConfig(smoothing="none", min_speech=0.0, min_silence=0.0, pad=0.0))
    assert d.sum() == 30 and d[30] and d[59] and not d[29] and not d[60]


def test_the_picked_rule_drops_blips_and_bridges_dips_better_than_none():
    """Learning test: on dev sets with short noise blips and short dips inside words, the rule with the best mean
    rank needs speech longer than a blip, and it beats raw thresholding (no smoothing, no minimum) on fresh data."""
    dev = [_dev_set(s) for s in range(3)]
    rule, ranks = pick_rule([rule_f1(p, y, 0.03, onset=0.5) for p, y in dev])
    assert rule[2] >= 0.15 and ranks[rule] == min(ranks.values())
    probs, labels = _dev_set(99)
    picked = rule_f1(probs, labels, 0.03, 0.5, [rule])[rule]
    raw = rule_f1(probs, labels, 0.03, 0.5, [(0.0, 1, 0.15, 0.1)])
    bare = PostConfig(onset=0.5, offset=0.5, smoothing="none", min_speech=0.0, min_silence=0.0, pad=0.0)
    y = np.concatenate(labels)
    pred = np.concatenate([decisions(p, 0.03, lab.size, bare) for p, lab in zip(probs, labels, strict=True)])
    bare_f1 = 2 * float(np.sum(pred & (y > 0.5))) / float(pred.sum() + (y > 0.5).sum())
    assert picked > bare_f1 + 0.02 and picked >= max(raw.values()) - 1e-9


def test_pick_rule_ignores_rules_missing_from_a_set():
    a = {(0.0, 1, 0.15, 0.1): 0.5, (0.1, 1, 0.15, 0.1): 0.9}
    assert pick_rule([a, {(0.0, 1, 0.15, 0.1): 0.4}])[0] == (0.0, 1, 0.15, 0.1)


def test_write_post_sets_thresholds_and_rules_atomically(tmp_path):
    (tmp_path / "bundle.json").write_text(json.dumps({"task": "vad", "post": {"onset": 0.5, "smooth_frames": 5}}))
    write_post(tmp_path, at_onset(PostConfig(onset=0.5, smooth_frames=5), 0.43), 0.87)
    meta = json.loads((tmp_path / "bundle.json").read_text())
    assert meta["thresholds"] == {"onset": 0.43, "offset": 0.28} and meta["post"]["smooth_frames"] == 5
    assert meta["metrics"]["dev_f1_at_onset"] == 0.87
    write_post(tmp_path, post_of((0.0, 3, 0.25, 0.1), 0.43))
    meta = json.loads((tmp_path / "bundle.json").read_text())
    assert PostConfig.from_dict(meta["post"]) == post_of((0.0, 3, 0.25, 0.1), 0.43)
    assert meta["thresholds"] == {"onset": 0.43, "offset": 0.43} and meta["metrics"]["dev_f1_at_onset"] == 0.87
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.json"]
