"""Enrollment store: speaker name -> embeddings and their mean, in one SQLite file.

Safe under concurrent use and crash-safe:

* WAL journal (readers never block the writer), ``synchronous=FULL``, a busy timeout (a second
  process waits for the lock instead of failing), foreign keys on.
* Every change is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction: enrolling inserts the embeddings
  *and* recomputes the speaker's mean and count together, so a process killed half-way leaves the
  store as it was before that change (SQLite rolls the open transaction back on the next open).
* The store remembers the embedding size and the model (its weights' checksum) it was filled with;
  enrolling or identifying with another model is refused, since its scores would mean nothing.

The store keeps every raw embedding as enrolled; the mean is the average of the length-normalised
embeddings. :meth:`SpeakerStore.identify` ranks the speakers by a score of a test embedding with their
means: cosine by default, or a bundle's back-end (PLDA, AS-norm) passed as ``scorer``.

Example:
    >>> import tempfile, os
    >>> db = SpeakerStore(os.path.join(tempfile.mkdtemp(), "speakers.db"), model="m1")
    >>> db.enroll("alice", [[1.0, 0.0], [0.8, 0.2]])["count"]
    2
    >>> _ = db.enroll("bob", [[0.0, 1.0]])
    >>> best = db.identify([0.6, 0.4])[0]
    >>> best["name"], round(best["score"], 3)
    ('alice', 0.894)
    >>> [s["name"] for s in db.speakers()], db.check()
    (['alice', 'bob'], [])
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.errors import ConfigError, DataError

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (S, D) means, (T, D) tests -> (S, T) scores

SCHEMA_VERSION = "1"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS speakers (name TEXT PRIMARY KEY, count INTEGER NOT NULL, mean BLOB NOT NULL,"
    " created REAL NOT NULL, updated REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS embeddings (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " speaker TEXT NOT NULL REFERENCES speakers(name) ON DELETE CASCADE, vector BLOB NOT NULL, source TEXT,"
    " added REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS embeddings_by_speaker ON embeddings(speaker)",
)


_COLUMNS = {"meta": {"key", "value"}, "speakers": {"name", "count", "mean", "created", "updated"},
            "embeddings": {"id", "speaker", "vector", "source", "added"}}
_REPAIR = "remove that speaker (speechdl speaker remove NAME) and enroll again, or use a new --store"


def _blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


def _vec(b: Any, where: Path | None = None, name: str = "?", dim: int | None = None) -> np.ndarray:
    """A stored vector, checked: a float32 blob of ``dim`` finite values (else a one-line DataError)."""
    if not isinstance(b, bytes) or not b or len(b) % 4 or (dim is not None and len(b) != 4 * dim):
        size = f"{len(b)} bytes" if isinstance(b, bytes) else f"a {type(b).__name__}"
        raise DataError(where, f"speaker {name!r}: corrupt embedding ({size}, expected {dim or 'D'} float32 values)",
                        _REPAIR)
    v = np.frombuffer(b, dtype="<f4").astype(np.float64)
    if not np.isfinite(v).all():
        raise DataError(where, f"speaker {name!r}: a stored embedding is not finite (NaN or Inf)", _REPAIR)
    return v


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def check_name(name: str) -> str:
    """A speaker name, stripped; ConfigError when empty, longer than 200 characters or multi-line."""
    n = str(name).strip()
    if not n or len(n) > 200 or any(c in n for c in "\r\n\t"):
        raise ConfigError(f"speaker name {name!r}", "must be 1-200 characters on one line", "choose another name")
    return n


class SpeakerStore:
    """An enrollment store (SQLite file ``path``); use as a context manager or call :meth:`close`.

    Args:
        path: the database file (created, with its folder, unless ``create=False``).
        model: an identifier of the embedding model (e.g. its weights' sha256); stored with the first
            enrollment and checked on every later open.
        create: False: a missing file is a :class:`DataError` (for read-only verbs).
        timeout: seconds to wait for another process's lock.
    """

    def __init__(self, path: str | os.PathLike, model: str | None = None, create: bool = True,
                 timeout: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise DataError(self.path, "is a folder, not an enrollment store", "pass the store file (e.g. speakers.db)")
        if not create and not self.path.is_file():
            raise DataError(self.path, "enrollment store not found", "enroll a speaker first (speechdl speaker enroll)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(self.path, f"cannot create its folder ({err.strerror or err})", "pass another --store") \
                from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._open(timeout)
                break
            except sqlite3.OperationalError as err:
                # switching a new file to WAL takes an exclusive lock that SQLite's busy timeout does not wait
                # for: a second process creating the same store at that moment gets "locked" at once; retry
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise DataError(self.path, f"not a speaker store ({err})", "pass another --store file") from None
                if getattr(self, "_db", None) is not None:
                    self._db.close()
                time.sleep(0.05)
            except sqlite3.DatabaseError as err:
                raise DataError(self.path, f"not a speaker store ({err})", "pass another --store file") from None
        self.model = model
        self._dim: int | None = None
        stored = self.meta().get("model")
        if model is not None and stored is not None and stored != model:
            raise DataError(self.path, "was filled by another embedding model",
                            "use the same --model as at enrollment, or a new --store")

    # ------------------------------------------------------------------ plumbing
    def _open(self, timeout: float) -> None:
        """Connect, check the schema, set WAL / FULL sync / foreign keys, create the tables (idempotent)."""
        self._db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._check_schema()
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        with self._write() as db:
            for statement in SCHEMA:
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _check_schema(self) -> None:
        """Refuse an SQLite file of another application or of another schema version (before writing to it)."""
        tables = {n for (n,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return                                   # a new (or empty) file: the schema is created
        for table, columns in _COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if (table in tables and not columns <= have) or (table == "meta" and "meta" not in tables):
                shown = ", ".join(sorted(tables)[:4])
                raise DataError(self.path, f"is an SQLite file of another application or schema (tables: {shown})",
                                "pass a speechdl enrollment store, or a new --store file")
        version = dict(self._db.execute("SELECT key, value FROM meta").fetchall()).get("schema", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise DataError(self.path, f"has schema version {version}; this speechdl reads version {SCHEMA_VERSION}",
                            "use the speechdl that wrote it, or a new --store file")

    def _stored_dim(self, meta: dict[str, str] | None = None) -> int | None:
        """The embedding size the store holds (None before the first enrollment)."""
        value = (self.meta() if meta is None else meta).get("dim")
        if value is None:
            return None
        try:
            dim = int(value)
        except ValueError:
            dim = 0
        if dim < 1:
            raise DataError(self.path, f"corrupt store: embedding size {value!r}", "use a new --store file")
        return dim

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> SpeakerStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken at once (``IMMEDIATE``), committed whole or rolled back."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def meta(self) -> dict[str, str]:
        """``schema``, and once something was enrolled ``dim`` and ``model``."""
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    # ------------------------------------------------------------------ changes
    def enroll(self, name: str, embeddings: Any, sources: Sequence[str] | None = None) -> dict[str, Any]:
        """Add embeddings ``(N, D)`` (or one ``(D,)``) to speaker ``name`` (created if new), in one transaction.

        ``sources``: one label per row (e.g. the audio file). Returns ``{"name", "count", "added"}``.
        """
        name = check_name(name)
        x = np.asarray(embeddings, dtype=np.float64)
        x = x[None] if x.ndim == 1 else x
        if x.ndim != 2 or len(x) == 0 or not np.isfinite(x).all():
            raise DataError(f"speaker {name!r}", f"embeddings of shape {x.shape} (or not finite)",
                            "enroll at least one finite (N, D) embedding")
        srcs = list(sources) if sources is not None else [None] * len(x)
        if len(srcs) != len(x):
            raise ValueError(f"{len(srcs)} sources for {len(x)} embeddings")
        now = time.time()
        with self._write() as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if "dim" in meta and self._stored_dim(meta) != x.shape[1]:
                raise DataError(self.path, f"holds {meta['dim']}-dimensional embeddings, not {x.shape[1]}",
                                "use the model the store was filled with, or a new --store")
            if self.model is not None and meta.get("model", self.model) != self.model:
                raise DataError(self.path, "was filled by another embedding model", "use a new --store")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('dim', ?)", (str(x.shape[1]),))
            if self.model is not None:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('model', ?)", (self.model,))
            db.execute("INSERT OR IGNORE INTO speakers VALUES (?, 0, ?, ?, ?)", (name, b"", now, now))
            db.executemany("INSERT INTO embeddings (speaker, vector, source, added) VALUES (?, ?, ?, ?)",
                           [(name, _blob(v), s, now) for v, s in zip(x, srcs)])
            count = self._refresh_mean(db, name, now)
        return {"name": name, "count": count, "added": len(x)}

    def _refresh_mean(self, db: sqlite3.Connection, name: str, now: float) -> int:
        """Recompute ``name``'s mean and count from its embeddings (inside the caller's transaction)."""
        dim = self._stored_dim(dict(db.execute("SELECT key, value FROM meta").fetchall()))
        vecs = [_vec(b, self.path, name, dim)
                for (b,) in db.execute("SELECT vector FROM embeddings WHERE speaker = ?", (name,))]
        mean = _unit(np.stack(vecs)).mean(0)
        db.execute("UPDATE speakers SET count = ?, mean = ?, updated = ? WHERE name = ?",
                   (len(vecs), _blob(mean), now, name))
        return len(vecs)

    def remove(self, name: str) -> bool:
        """Delete speaker ``name`` and its embeddings; False when there was no such speaker."""
        with self._write() as db:
            return db.execute("DELETE FROM speakers WHERE name = ?", (check_name(name),)).rowcount > 0

    # ------------------------------------------------------------------ queries
    def speakers(self) -> list[dict[str, Any]]:
        """``[{"name", "count", "created", "updated"}]`` sorted by name (times: Unix seconds)."""
        rows = self._db.execute("SELECT name, count, created, updated FROM speakers ORDER BY name").fetchall()
        for n, c, a, u in rows:
            numbers = isinstance(c, int) and c >= 0 and all(isinstance(t, int | float) and math.isfinite(t)
                                                            for t in (a, u))
            if not numbers:
                raise DataError(self.path, f"speaker {n!r}: corrupt row (count {c!r}, times {a!r}, {u!r})", _REPAIR)
        return [{"name": n, "count": c, "created": a, "updated": u} for n, c, a, u in rows]

    def embeddings(self, name: str) -> np.ndarray:
        """Enrolled embeddings of ``name``: ``(N, D)`` float64 (``(0, 0)`` for an unknown speaker)."""
        rows = self._db.execute("SELECT vector FROM embeddings WHERE speaker = ? ORDER BY id", (name,)).fetchall()
        dim = self._stored_dim()
        return np.stack([_vec(b, self.path, name, dim) for (b,) in rows]) if rows else np.zeros((0, 0))

    def means(self) -> tuple[list[str], np.ndarray]:
        """Speaker names and their mean embeddings ``(S, D)``, one consistent snapshot."""
        rows = self._db.execute("SELECT name, mean FROM speakers ORDER BY name").fetchall()
        if not rows:
            return [], np.zeros((0, 0))
        dim = self._stored_dim()
        return [n for n, _ in rows], np.stack([_vec(b, self.path, n, dim) for n, b in rows])

    def identify(self, embedding: Any, top: int = 5, scorer: ScoreFn | None = None) -> list[dict[str, Any]]:
        """The ``top`` enrolled speakers closest to ``embedding`` ``(D,)``: ``[{"name", "score"}]``, best first
        (default score: cosine with the speaker's mean, in [-1, 1]; see :meth:`identify_many`). DataError when
        nobody is enrolled."""
        return self.identify_many(np.asarray(embedding, dtype=np.float64).reshape(1, -1), top, scorer)[0]

    def identify_many(self, embeddings: Any, top: int = 5, scorer: ScoreFn | None = None
                      ) -> list[list[dict[str, Any]]]:
        """:meth:`identify` for each row of ``embeddings`` ``(T, D)``, against one snapshot of the store.

        ``scorer(means (S, D), tests (T, D)) -> (S, T)`` scores the speakers' means (averages of their
        length-normalised raw embeddings) against the tests, e.g. a bundle's PLDA back-end
        (:meth:`~speechdl.tasks.speaker.infer.SpeakerModel.score_matrix`); default: cosine.
        """
        names, means = self.means()
        if not names:
            raise DataError(self.path, "no speaker enrolled", "enroll one with 'speechdl speaker enroll NAME FILE...'")
        q = np.asarray(embeddings, dtype=np.float64)
        q = q.reshape(1, -1) if q.ndim == 1 else q
        if q.ndim != 2 or q.shape[1] != means.shape[1]:
            raise DataError(self.path, f"holds {means.shape[1]}-dimensional embeddings, not {q.shape[-1]}",
                            "use the model the store was filled with")
        scores = scorer(means, q) if scorer is not None else _unit(means) @ _unit(q).T
        out = []
        for col in np.asarray(scores, dtype=np.float64).T:
            order = np.argsort(-col, kind="stable")[:top]
            out.append([{"name": names[i], "score": float(col[i])} for i in order])
        return out

    def check(self) -> list[str]:
        """Problems found (empty when consistent): SQLite's integrity and foreign-key checks, and every
        speaker's count and mean against its embeddings."""
        problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"dangling row {r}" for r in self._db.execute("PRAGMA foreign_key_check")]
        for name, count, mean in self._db.execute("SELECT name, count, mean FROM speakers").fetchall():
            try:
                x = self.embeddings(name)
                if len(x) != count or count == 0:
                    problems.append(f"{name}: count {count} but {len(x)} embeddings")
                elif not np.allclose(_vec(mean, self.path, name, x.shape[1]), _unit(x).mean(0), atol=1e-5):
                    problems.append(f"{name}: mean does not match its embeddings")
            except DataError as err:
                problems.append(err.what)
        return problems
