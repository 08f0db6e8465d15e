"""Features of an audio file of any length, streamed to a ``.npy`` file in bounded memory.

``speechdl features extract`` writes through :func:`extract_to_npy`: the file is read in
``cfg.chunk_seconds`` blocks (:func:`speechdl.audio.stream`, resampled on the way), the static features
come from :class:`~speechdl.features.FeatureStream` (the torch front-end), deltas and stacking from the
incremental stages of :mod:`speechdl.features.incremental` (their look-ahead carried across blocks), and
each block's frames go straight to the output file. Peak memory is one block of audio and features,
whatever the duration (about 1.2 MB of MFCC39 per 10 s block; a whole hour would be 56 MB per copy).

**The .npy header is written last.** The frame count of a resampled file is only known once the
resampler has been flushed, so the file starts with a fixed 128-byte header (version 1.0, shape
placeholder ``(0, F)``, space padded), the float32 rows follow, and at the end the header is rewritten
in place with the real shape (same 128 bytes). The file is a temporary sibling of the output until then
and is renamed into place only when complete (:func:`speechdl.audio.atomic_path`), so a crash or
Ctrl-C never leaves a truncated ``.npy`` behind.

**Per-utterance CMVN** needs the statistics of the whole file before the first normalised frame, so it
takes two passes: the first streams the pre-CMVN features (statics + deltas) to a temporary sibling file
and accumulates their sum and sum of squares in float64; the second reads them back block by block,
normalises (``(x - mean) / max(std, 1e-5)``), stacks and writes the output. The result equals the
in-memory :class:`~speechdl.features.Frontend` to float32 rounding (its statistics are float32 sums);
without CMVN the output is the same frames as :func:`~speechdl.features.extract_file`, bit for bit.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from speechdl.features import FrontendConfig, extract_file
    >>> out = os.path.join(tempfile.mkdtemp(), "f.npy")
    >>> extract_to_npy("speechdl/assets/sample.flac", FrontendConfig.mfcc39(), out)
    (1362, 39)
    >>> bool((np.load(out) == extract_file("speechdl/assets/sample.flac", FrontendConfig.mfcc39())).all())
    True
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from speechdl.errors import write_fault
from speechdl.features.config import FrontendConfig
from speechdl.features.incremental import ContextStage, TorchStatic, make_stages

HEADER_BYTES = 128  # magic (6) + version (2) + header length (2) + the padded dict, a multiple of 64
ROWS_PER_READ = 16_384  # frames per block in the CMVN pass (2.6 MB of MFCC39)
CMVN_EPS = 1e-5  # the floor of the standard deviation, as speechdl.features.cmvn.CMVN


def npy_header(rows: int, dim: int) -> bytes:
    """The 128-byte .npy (version 1.0) header of a C-order float32 array ``(rows, dim)``.

    Example:
        >>> h = npy_header(3, 39); len(h), h[:6], h.rstrip()[-18:]
        (128, b'\\x93NUMPY', b"shape': (3, 39), }")
    """
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    body = text.ljust(HEADER_BYTES - 10 - 1) + "\n"
    if len(body) != HEADER_BYTES - 10:
        raise ValueError(f"shape ({rows}, {dim}) does not fit a {HEADER_BYTES}-byte .npy header")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


class NpyWriter:
    """Append float32 rows ``(t, dim)`` to an open binary file as one .npy array; :meth:`close` writes
    the final header (the shape) over the placeholder. ``rows``: frames written so far."""

    def __init__(self, f, dim: int) -> None:
        self.f, self.dim, self.rows = f, int(dim), 0
        self.start = f.tell()
        f.write(npy_header(0, self.dim))

    def write(self, x: np.ndarray) -> None:
        """Append rows ``(t, dim)`` (cast to little-endian float32)."""
        if not len(x):
            return
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected (t, {self.dim}) rows, got {x.shape}")
        self.f.write(np.ascontiguousarray(x, dtype="<f4").data)  # the array's own bytes, no copy
        self.rows += len(x)

    def close(self) -> None:
        """Rewrite the header with the real shape and flush."""
        end = self.f.tell()
        self.f.seek(self.start)
        self.f.write(npy_header(self.rows, self.dim))
        self.f.seek(end)
        self.f.flush()


def _through(stages: list[ContextStage], x: np.ndarray, final: bool) -> np.ndarray:
    """``x`` through the incremental context stages (deltas / stacking); ``final`` flushes each one."""
    x = x.astype(np.float32, copy=False)
    for st in stages:
        x = st.push(x)
        if final:
            x = np.concatenate([x, st.flush()])
    return x


def iter_features(blocks: Iterable[np.ndarray], cfg: FrontendConfig,
                  stages: list[ContextStage] | None = None) -> Iterator[np.ndarray]:
    """Feature frames ``(t, F)`` per block of mono float32 audio at ``cfg.sample_rate``: the static front-end
    then ``stages`` (default: all of ``cfg``'s deltas and stacking). No CMVN (it needs the whole file)."""
    static = TorchStatic(cfg)
    stages = make_stages(cfg) if stages is None else stages
    for block in blocks:
        out = _through(stages, static.push(block), False)
        if len(out):
            yield out
    out = _through(stages, static.flush(), True)
    if len(out):
        yield out


def _sibling_tmp(final: Path, tag: str) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.{tag}.", suffix=".npy", dir=final.parent)
    os.close(fd)
    return tmp


def _normalised_pass(raw: str, rows: int, dim: int, stats: tuple[np.ndarray, np.ndarray],
                     stack: list[ContextStage]) -> Iterator[np.ndarray]:
    """Read the pre-CMVN frames back in blocks, normalise them and run the stacking stage."""
    total, sq = stats
    mean = total / max(rows, 1)
    std = np.sqrt(np.maximum(sq / max(rows, 1) - mean * mean, 0.0))
    mean32 = mean.astype(np.float32)
    std32 = np.maximum(std, CMVN_EPS).astype(np.float32)
    with open(raw, "rb") as f:
        f.seek(HEADER_BYTES)
        done = 0
        while done < rows:
            n = min(ROWS_PER_READ, rows - done)
            x = np.fromfile(f, dtype="<f4", count=n * dim).reshape(n, dim)
            done += n
            out = _through(stack, (x - mean32) / std32, done == rows)
            if len(out):
                yield out


def extract_to_npy(path: str | os.PathLike, cfg: FrontendConfig, out: str | os.PathLike,
                   progress: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] | None = None) -> tuple[int, int]:
    """Write the features ``(frames, cfg.feature_dim)`` float32 of an audio file to the ``.npy`` file ``out``.

    Any length, format and sample rate (resampled to ``cfg.sample_rate``); bounded memory; written
    atomically (temporary sibling + rename). ``progress`` wraps the iterator of audio blocks (e.g. a
    progress bar). Returns ``(frames, features)``. CMVN ``global`` without statistics is the identity
    (as in :class:`~speechdl.features.CMVN` before ``finalize``).
    """
    from speechdl import audio

    blocks: Iterator[np.ndarray] = audio.stream(path, block_seconds=cfg.chunk_seconds, sample_rate=cfg.sample_rate)
    if progress is not None:
        blocks = progress(blocks)
    stages = make_stages(cfg)
    tmp, final = audio.atomic_path(out)
    raw = None
    try:
        with open(tmp, "wb") as f:
            writer = NpyWriter(f, cfg.feature_dim)
            if cfg.cmvn == "utterance":
                pre = [s for s in stages if s.kind == "delta"]
                stack = [s for s in stages if s.kind == "stack"]
                raw = _sibling_tmp(final, "raw")
                dim = cfg.static_dim * (1 + cfg.deltas)
                total, sq = np.zeros(dim), np.zeros(dim)
                with open(raw, "wb") as r:
                    raw_writer = NpyWriter(r, dim)
                    for x in iter_features(blocks, cfg, pre):
                        raw_writer.write(x)
                        x64 = x.astype(np.float64)
                        total += x64.sum(axis=0)
                        sq += (x64 * x64).sum(axis=0)
                    raw_writer.close()
                for x in _normalised_pass(raw, raw_writer.rows, dim, (total, sq), stack):
                    writer.write(x)
            else:
                for x in iter_features(blocks, cfg, stages):
                    writer.write(x)
            writer.close()
        os.replace(tmp, final)
    except OSError as err:   # a full disk, a quota, a read-only place: one line naming the output
        fault = write_fault(err, final)
        if fault is None:
            raise
        raise fault from None
    finally:
        for leftover in (tmp, raw):
            if leftover is not None and os.path.exists(leftover):
                os.unlink(leftover)
    return writer.rows, writer.dim
