"""A full disk (or a quota, a read-only place) met while writing (issue 13): one line naming the output,
exit 2, no traceback and no temporary file left behind. The fault is injected by monkeypatching the
write to raise ``OSError(ENOSPC)``, so no real full disk is needed."""

from __future__ import annotations

import errno
import gzip
import os
from pathlib import Path

import pytest

from speechdl import audio
from speechdl.cli import main
from speechdl.errors import OutputError, write_fault

SAMPLE = Path(audio.__file__).parent / "assets" / "sample.flac"
ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _full(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


class _FillingFile:
    """A file object that writes a few bytes for real, then fails as a full disk does."""

    def __init__(self, real, budget: int = 10) -> None:
        self.real, self.budget = real, budget

    def write(self, data):
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= 1
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def _filling_open(*args, **kwargs):
    f = open(*args, **kwargs)   # noqa: SIM115 - closed by _FillingFile.__exit__
    mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
    return _FillingFile(f) if any(c in mode for c in "wa") else f


def _cli(capsys, *argv: str) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def _no_space_line(err: str, out: Path) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0] == (f"speechdl: error: {out}: no space left on device while writing "
                        "(free space or choose --out elsewhere)"), err


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def test_features_extract_on_a_full_disk(tmp_path, capsys, monkeypatch):
    from speechdl.features import extract

    writes = []

    def full_after_header(self, x):
        writes.append(len(x))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(extract.NpyWriter, "write", full_after_header)
    out = tmp_path / "out" / "f.npy"
    rc, err = _cli(capsys, "features", "extract", SAMPLE, "--out", out)
    assert rc == 2 and writes
    _no_space_line(err, out)
    assert _left(tmp_path / "out") == []   # neither the output nor its temporary siblings


def test_features_extract_utterance_cmvn_cleans_both_temporaries(tmp_path, capsys, monkeypatch):
    from speechdl.features import extract

    real = extract.NpyWriter.close
    calls = []

    def close_then_full(self):   # the pre-CMVN pass completes, the second file runs out of space
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self)

    monkeypatch.setattr(extract.NpyWriter, "close", close_then_full)
    cfg = tmp_path / "cfg" / "mfcc.json"
    cfg.parent.mkdir()
    cfg.write_text('{"kind": "mfcc", "cmvn": "utterance"}')
    out = tmp_path / "out" / "f.npy"
    rc, err = _cli(capsys, "features", "extract", SAMPLE, "--out", out, "--config", cfg)
    assert rc == 2 and len(calls) == 2
    _no_space_line(err, out)
    assert _left(tmp_path / "out") == []


def test_vad_detect_out_dir_on_a_full_disk(tmp_path, capsys, monkeypatch):
    real = Path.write_text

    def write_some_then_fail(self, data, *a, **k):
        real(self, data[:5], *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", write_some_then_fail)
    rc, err = _cli(capsys, "vad", "detect", SAMPLE, "--out-dir", tmp_path / "segs")
    assert rc == 2
    _no_space_line(err, tmp_path / "segs" / "sample.txt")
    assert _left(tmp_path / "segs") == []


def test_lm_build_on_a_full_disk(tmp_path, capsys, monkeypatch):
    from speechdl.tasks.asr import lm, lm_np

    text = tmp_path / "t.txt"
    text.write_text("the cat sat\nthe dog ran\n" * 50)
    def filling_soon(*args, **kwargs):   # the numpy builder writes a tiny LM in about 10 large writes
        f = _filling_open(*args, **kwargs)
        if isinstance(f, _FillingFile):
            f.budget = 2
        return f

    monkeypatch.setattr(lm, "open", filling_soon, raising=False)
    monkeypatch.setattr(lm_np, "open", filling_soon, raising=False)   # 'lm build' writes with the numpy builder
    out = tmp_path / "lm" / "x.arpa"
    rc, err = _cli(capsys, "asr", "lm", "build", text, "--out", out)
    assert rc == 2
    _no_space_line(err, out)
    assert _left(tmp_path / "lm") == []


def test_data_import_manifest_on_a_full_disk(tmp_path, capsys, monkeypatch):
    import shutil

    from lhotse import RecordingSet

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE, corpus / "a.flac")

    def partial(self, path):
        with gzip.open(path, "wb") as f:
            f.write(b'{"id": "half')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RecordingSet, "to_file", partial)
    out = tmp_path / "m"
    rc, err = _cli(capsys, "data", "import", "folder", corpus, "--out", out)
    assert rc == 2
    _no_space_line(err, out / "recordings.jsonl.gz")
    assert "recordings.jsonl.gz" not in _left(out) and not [n for n in _left(out) if n.startswith(".")]


def test_a_writer_without_its_own_check_still_gives_one_line(capsys, monkeypatch):
    """The CLI's last line of defence: an ENOSPC from anywhere is exit 2 and one line, not 'internal error'."""
    from speechdl.features import cli as fcli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/x.npy")

    monkeypatch.setattr(fcli, "run_extract", full)
    monkeypatch.setattr(fcli, "_config", full, raising=False)
    rc, err = _cli(capsys, "features", "extract", SAMPLE, "--out", "/tmp/never.npy")
    assert rc == 2, err
    assert err.strip() == ("speechdl: error: /data/x.npy: no space left on device while writing "
                           "(free space or choose --out elsewhere)")


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left"), (errno.EDQUOT, "disk quota exceeded"),
                                         (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_atomic_write_maps_the_fault_and_removes_the_temporary(tmp_path, code, words):
    out = tmp_path / "a.bin"
    with pytest.raises(OutputError) as info:
        with audio.atomic_write(out) as tmp:
            Path(tmp).write_bytes(b"half")
            raise OSError(code, os.strerror(code))
    assert str(info.value).startswith(f"{out}: {words}") and "\n" not in str(info.value)
    assert _left(tmp_path) == []


def test_atomic_write_on_ctrl_c_leaves_nothing(tmp_path):
    out = tmp_path / "a.bin"
    out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with audio.atomic_write(out) as tmp:
            Path(tmp).write_bytes(b"new, half")
            raise KeyboardInterrupt
    assert _left(tmp_path) == ["a.bin"] and out.read_bytes() == b"old"


def test_audio_save_on_a_full_disk(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setattr(audio.sf, "write", _full)
    with pytest.raises(OutputError, match="no space left on device while writing"):
        audio.save(tmp_path / "x.wav", np.zeros(160, dtype=np.float32), 16000)
    assert _left(tmp_path) == []


def test_other_os_errors_are_not_disguised():
    assert write_fault(OSError(errno.EIO, "I/O error"), "x") is None
    assert write_fault(ValueError("x"), "x") is None
    assert str(write_fault(ENOSPC, "f.npy")).startswith("f.npy: no space left on device while writing")
