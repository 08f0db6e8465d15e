"""Keyword-spotting metrics on a hand-made case: matching with tolerance, keywords and files, duplicates,
ties, the miss vs FA/h curve and the miss rate at a false-alarm budget."""

from __future__ import annotations

import numpy as np
import pytest

from speechdl.errors import ConfigError
from speechdl.metrics.kws import Detection, Event, kws_curve, match, miss_rate_at

# two files, two keywords, 2 hours scanned; 5 reference events
REFS = [Event(10.0, 10.6, "yes", "a"), Event(20.0, 20.5, "yes", "a"), Event(30.0, 30.8, "no", "a"),
        {"start": 5.0, "end": 5.5, "keyword": "yes", "file": "b"}, Event(40.0, 40.4, "no", "b")]
DETS = [
    Detection(10.3, 0.95, "yes", "a"),   # hit
    Detection(10.5, 0.90, "yes", "a"),   # duplicate of the same event
    Detection(30.9, 0.85, "no", "a"),    # hit: 0.1 s after the end, inside the 0.25 s tolerance
    Detection(20.2, 0.80, "no", "a"),    # false alarm: right time, wrong keyword
    Detection(5.2, 0.70, "yes", "a"),    # false alarm: right time, wrong file
    {"time": 5.3, "score": 0.70, "keyword": "yes", "file": "b"},   # hit (tied score with the one above)
    Detection(41.0, 0.60, "no", "b"),    # false alarm: 0.6 s after the end, beyond the tolerance
    Detection(20.1, 0.30, "yes", "a"),   # hit, low score
]


def test_matching_outcomes_in_score_order():
    scores, outcome, n = match(DETS, REFS, tolerance=0.25)
    assert n == 5 and scores.tolist() == [0.95, 0.9, 0.85, 0.8, 0.7, 0.7, 0.6, 0.3]
    # ties are ordered by time: the wrong-file 5.2 s before the right one at 5.3 s
    assert outcome.tolist() == [1, 0, 1, -1, -1, 1, -1, 1]
    assert match(DETS, REFS, tolerance=0.25, duplicates="false_alarm")[1].tolist() == [1, -1, 1, -1, -1, 1, -1, 1]
    assert match(DETS, REFS, tolerance=0.7)[1][6] == 1            # a wider tolerance reaches 41.0 s


def test_curve_by_hand():
    c = kws_curve(DETS, REFS, hours=2.0, tolerance=0.25)
    assert c["threshold"].tolist() == [np.inf, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.3]   # one point per distinct score
    assert c["hits"].tolist() == [0, 1, 1, 2, 2, 3, 3, 4]
    assert c["false_alarms"].tolist() == [0, 0, 0, 0, 1, 2, 3, 3]
    assert np.allclose(c["miss_rate"], [1, 0.8, 0.8, 0.6, 0.6, 0.4, 0.4, 0.2])
    assert np.allclose(c["fa_per_hour"], [0, 0, 0, 0, 0.5, 1.0, 1.5, 1.5])


@pytest.mark.parametrize("budget,miss,fa,threshold", [(0.0, 0.6, 0.0, 0.85), (0.5, 0.6, 0.5, 0.8),
                                                      (1.0, 0.4, 1.0, 0.7), (10.0, 0.2, 1.5, 0.3)])
def test_miss_rate_at_a_false_alarm_budget(budget, miss, fa, threshold):
    r = miss_rate_at(DETS, REFS, hours=2.0, fa_per_hour=budget, tolerance=0.25)
    assert r["miss_rate"] == pytest.approx(miss) and r["fa_per_hour"] == pytest.approx(fa)
    assert r["threshold"] == threshold and r["references"] == 5


def test_edge_cases_and_errors():
    assert miss_rate_at([], REFS, hours=1.0)["miss_rate"] == 1.0
    c = kws_curve([(1.0, 0.5)], [], hours=1.0)                     # no references: misses are 0
    assert c["miss_rate"].tolist() == [0.0, 0.0] and c["fa_per_hour"].tolist() == [0.0, 1.0]
    assert kws_curve([(2.0, 0.9)], [2.0], hours=1.0, tolerance=0.0)["hits"].tolist() == [0, 1]   # a time = (t, t)
    with pytest.raises(ConfigError, match="hours"):
        kws_curve(DETS, REFS, hours=0)
    with pytest.raises(ConfigError, match="ends"):
        match([], [Event(3.0, 2.0)])
    with pytest.raises(ConfigError, match="duplicates"):
        match([], [], duplicates="drop")
    with pytest.raises(ConfigError, match="NaN"):
        match([(1.0, float("nan"))], [])
    with pytest.raises(ConfigError, match="negative"):
        miss_rate_at(DETS, REFS, hours=1.0, fa_per_hour=-1)
