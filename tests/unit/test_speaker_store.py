"""Enrollment store: enroll / list / identify / remove, model and size checks, two processes enrolling at
once, and a process killed in the middle of an enrollment leaving the store as it was."""

from __future__ import annotations

import doctest
import multiprocessing as mp
import os
import signal

import numpy as np
import pytest

from speechdl.errors import ConfigError, DataError
from speechdl.tasks.speaker import store as S
from speechdl.tasks.speaker.store import SpeakerStore

CTX = mp.get_context("fork")   # the children only touch numpy and sqlite; fork starts in milliseconds


def _vecs(seed: int, n: int, centre: int, dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(dim)[centre] * 3 + rng.normal(0, 0.3, (n, dim))


def test_enroll_list_identify_remove(tmp_path):
    with SpeakerStore(tmp_path / "sub" / "s.db", model="m1") as db:
        assert db.enroll("alice", _vecs(0, 3, 0), sources=["a1.wav", "a2.wav", "a3.wav"]) == {
            "name": "alice", "count": 3, "added": 3}
        assert db.enroll(" alice ", _vecs(1, 1, 0)[0])["count"] == 4            # one (D,) row; name stripped
        db.enroll("bob", _vecs(2, 2, 1))
        assert [(s["name"], s["count"]) for s in db.speakers()] == [("alice", 4), ("bob", 2)]
        ranked = db.identify(_vecs(3, 1, 1)[0])
        assert [r["name"] for r in ranked] == ["bob", "alice"] and ranked[0]["score"] > 0.9 > ranked[1]["score"]
        assert db.embeddings("alice").shape == (4, 8) and db.meta()["dim"] == "8" and db.meta()["model"] == "m1"
        assert db.remove("bob") and not db.remove("bob")
        assert [r["name"] for r in db.identify(_vecs(3, 1, 1)[0])] == ["alice"] and db.check() == []


def test_refusals_are_one_line_errors(tmp_path):
    path = tmp_path / "s.db"
    with pytest.raises(DataError, match="enrollment store not found"):
        SpeakerStore(path, create=False)
    with SpeakerStore(path, model="m1") as db:
        with pytest.raises(DataError, match="no speaker enrolled"):
            db.identify(np.ones(8))
        db.enroll("alice", _vecs(0, 2, 0))
        with pytest.raises(DataError, match="8-dimensional embeddings, not 4"):
            db.enroll("bob", np.ones((1, 4)))
        with pytest.raises(DataError, match="8-dimensional embeddings, not 3"):
            db.identify(np.ones(3))
        with pytest.raises(DataError, match="not finite"):
            db.enroll("bob", np.full((1, 8), np.nan))
        with pytest.raises(ConfigError, match="one line"):
            db.enroll("a\nb", np.ones((1, 8)))
    with pytest.raises(DataError, match="another embedding model"):
        SpeakerStore(path, model="m2")
    assert SpeakerStore(path).speakers()[0]["count"] == 2          # no model given: read as it is
    (tmp_path / "text.db").write_text("not a database at all, just some text that is long enough" * 20)
    with pytest.raises(DataError, match="not a speaker store"):
        SpeakerStore(tmp_path / "text.db")


def _enroll_many(path: str, who: int, barrier, rounds: int) -> None:
    barrier.wait()
    with SpeakerStore(path, model="m", timeout=60) as db:
        for k in range(rounds):
            db.enroll("shared", _vecs(100 * who + k, 2, 0), sources=[f"p{who}-{k}a", f"p{who}-{k}b"])
            db.enroll(f"own{who}", _vecs(1000 * who + k, 1, 1 + who))
    os._exit(0)


def test_two_processes_enrolling_at_once(tmp_path):
    path, rounds = str(tmp_path / "s.db"), 15
    barrier = CTX.Barrier(2)
    procs = [CTX.Process(target=_enroll_many, args=(path, who, barrier, rounds)) for who in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with SpeakerStore(path) as db:
        counts = {s["name"]: s["count"] for s in db.speakers()}
        assert counts == {"shared": 4 * rounds, "own0": rounds, "own1": rounds}
        want = np.concatenate([_vecs(100 * who + k, 2, 0) for who in (0, 1) for k in range(rounds)])
        got = db.embeddings("shared")
        np.testing.assert_allclose(got[np.argsort(got[:, 1])], want[np.argsort(want[:, 1])], atol=1e-6)
        assert db.check() == []                                       # every mean matches its embeddings


def _killed_while_enrolling(path: str, name: str) -> None:
    def die(*args, **kwargs):   # the embeddings are inserted, the mean not yet updated, nothing committed
        os.kill(os.getpid(), signal.SIGKILL)

    SpeakerStore._refresh_mean = staticmethod(die)
    with SpeakerStore(path, model="m") as db:
        db.enroll(name, _vecs(7, 5, 0))
    os._exit(0)   # not reached


def test_a_process_killed_mid_enrollment_leaves_the_store_consistent(tmp_path):
    path = str(tmp_path / "s.db")
    with SpeakerStore(path, model="m") as db:
        db.enroll("alice", _vecs(0, 3, 0))
        before = db.embeddings("alice")
    for name in ("alice", "bob"):                   # more of a known speaker, and a new one
        p = CTX.Process(target=_killed_while_enrolling, args=(path, name))
        p.start()
        p.join(30)
        assert p.exitcode == -signal.SIGKILL
    with SpeakerStore(path, model="m") as db:       # reopened: the killed transactions never happened
        assert db.check() == [] and [s["name"] for s in db.speakers()] == ["alice"]
        np.testing.assert_array_equal(db.embeddings("alice"), before)
        assert db.enroll("bob", _vecs(8, 1, 1))["count"] == 1        # and the lock was released
        assert db.check() == []


def test_readers_are_not_blocked_by_an_open_write(tmp_path):
    path = tmp_path / "s.db"
    writer, reader = SpeakerStore(path), SpeakerStore(path, timeout=0.5)
    writer.enroll("alice", _vecs(0, 1, 0))
    with writer._write() as db:
        db.execute("DELETE FROM speakers")
        assert [s["name"] for s in reader.speakers()] == ["alice"]    # WAL: the last committed state
    assert reader.speakers() == []
    writer.close()
    reader.close()


def test_doctests():
    assert doctest.testmod(S).failed == 0
