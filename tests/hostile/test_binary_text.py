"""Binary or non-UTF-8 text inputs (issue 13): every text reader behind a verb refuses them with one line
naming ``FILE:LINE`` (exit 2), never a ``UnicodeDecodeError`` and never text silently read as U+FFFD."""

from __future__ import annotations

import gzip
import json

import pytest

from speechdl import validate
from speechdl.cli import main
from speechdl.errors import ConfigError, DataError

GOOD = "the cat sat\nthe dog ran\n"
BAD = b"the cat sat\nthe d\xffog ran\n"   # line 2, column 6


def _cli(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def _one_error_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("speechdl: error: "), err
    assert "Traceback" not in err and all(w in lines[0] for w in words), err


def test_lm_build_refuses_a_binary_text_naming_file_and_line(tmp_path, capsys):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(GOOD)
    bad.write_bytes(BAD)
    out = tmp_path / "lm.arpa"
    rc, err = _cli(capsys, "asr", "lm", "build", str(good), str(bad), "--out", str(out))
    assert rc == 2 and not out.exists()
    _one_error_line(err, f"{bad}:2:", "not UTF-8 text", "byte 0xff at column 6", "save it as UTF-8")


def test_lm_build_refuses_random_bytes(tmp_path, capsys):
    import numpy as np

    bad = tmp_path / "noise.txt"
    bad.write_bytes(b"hello\n" + np.random.default_rng(7).bytes(3000))
    rc, err = _cli(capsys, "asr", "lm", "build", str(bad), "--out", str(tmp_path / "lm.arpa"))
    assert rc == 2
    _one_error_line(err, f"{bad}:")
    assert "not UTF-8 text" in err or "binary, not text" in err


def test_lm_build_still_reads_utf8_with_bom_and_crlf(tmp_path, capsys):
    t = tmp_path / "bom.txt"
    t.write_bytes(b"\xef\xbb\xbfthe cat sat\r\nthe dog ran\r\n")
    out = tmp_path / "lm.arpa"
    rc, err = _cli(capsys, "asr", "lm", "build", str(t), "--out", str(out), "--order", "2")
    assert rc == 0, err
    text = out.read_text()
    assert "\ufeff" not in text and "\r" not in text and "\tthe" in text


def test_speaker_eval_binary_trial_list(tmp_path, capsys):
    trials = tmp_path / "trials.txt"
    trials.write_bytes(b"1 a.wav b.wav\n0 a.wav \x81c.wav\n")
    rc, err = _cli(capsys, "speaker", "eval", str(trials))
    assert rc == 2
    _one_error_line(err, f"{trials}:2:", "trial list is not UTF-8 text", "byte 0x81", "save it as UTF-8",
                    "LABEL ENROLL TEST")
    assert "UnicodeDecodeError" not in err


def test_speaker_eval_trial_list_with_nul_bytes(tmp_path, capsys):
    trials = tmp_path / "trials.txt"
    trials.write_bytes(b"1 a.wav b.wav\n\n0 a\x00.wav c.wav\n")
    rc, err = _cli(capsys, "speaker", "eval", str(trials))
    assert rc == 2
    _one_error_line(err, f"{trials}:3:", "binary, not text")


def test_arpa_file_that_is_not_text(tmp_path):
    from speechdl.tasks.asr.lm import ArpaLM

    arpa = tmp_path / "lm.arpa.gz"
    with gzip.open(arpa, "wb") as f:
        f.write(b"\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0 a\n-1.0 \xfe\n\\end\\\n")
    with pytest.raises(ConfigError, match=r"lm\.arpa\.gz:6: the ARPA file is not UTF-8 text"):
        ArpaLM(arpa)


def test_batch_list_file_names_the_line(tmp_path):
    from speechdl.batch_items import _read_lines

    lst = tmp_path / "list.txt"
    lst.write_bytes(b"a.wav\nb.wav\n\xc3(.wav\n")
    with pytest.raises(DataError, match=r"list\.txt:3: the list file is not UTF-8 text \(byte 0xc3 at column 1\)"):
        _read_lines(str(lst))


def test_recipe_error_names_the_line(tmp_path):
    r = tmp_path / "r.yaml"
    r.write_bytes(b"task: vad\nmodel:\n  name: \x92dense\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:3: the recipe is not UTF-8 text \(byte 0x92 at column 9\)"):
        validate.read_text(r, "recipe")


def test_training_csv_that_is_binary(tmp_path):
    from speechdl.train.datasets import npy_frames

    csv = tmp_path / "frames.csv"
    csv.write_bytes(b"1,2,0\n3,\xff4,1\n")
    with pytest.raises(DataError, match=r"frames\.csv:2: the CSV file is not UTF-8 text"):
        npy_frames(csv_file=str(csv))


def test_kaldi_text_file_that_is_binary(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    d = tmp_path / "kaldi"
    d.mkdir()
    sf.write(d / "a.wav", np.zeros(1600, dtype=np.float32), 16000)
    (d / "wav.scp").write_text(f"a {d / 'a.wav'}\n")
    (d / "text").write_bytes(b"a hello \xe9t\xe9\n")
    rc, err = _cli(capsys, "data", "import", "kaldi", str(d), "--out", str(tmp_path / "m"))
    assert rc == 2
    _one_error_line(err, f"{d / 'text'}:1:", "Kaldi text file is not UTF-8 text")


def test_noise_bank_manifest_that_is_binary(tmp_path):
    from speechdl.data.synth.noise import load_noise_bank

    (tmp_path / "manifest.jsonl").write_bytes(json.dumps({"audio": "a.wav", "kind": "noise"}).encode()
                                              + b"\n\x89PNG\r\n\x1a\n")
    with pytest.raises(DataError, match=r"manifest\.jsonl:2: the noise manifest is not UTF-8 text"):
        load_noise_bank(tmp_path)
