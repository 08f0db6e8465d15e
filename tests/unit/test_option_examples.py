"""Option errors suggest a value a user would pass (issue 13): the option's default when it has one, else
a middle value for a probability-like range or a round one, never the bare minimum (``--threshold 0.001``)."""

from __future__ import annotations

import pytest

from speechdl.api import Option
from speechdl.cli import main
from speechdl.errors import ConfigError


def _fix(opt: Option, value: object) -> str:
    with pytest.raises(ConfigError) as info:
        opt.parse(value)
    return info.value.fix


@pytest.mark.parametrize("opt, value, fix", [
    (Option("max_seconds", "float", 30.0, "", minimum=1.0, maximum=600.0), "0", "pass e.g. --max-seconds 30"),
    (Option("threshold", "float", None, "", minimum=0.001, maximum=0.999), "nan", "pass e.g. --threshold 0.5"),
    (Option("ctc_weight", "float", None, "", minimum=0.0, maximum=1.0), "2", "pass e.g. --ctc-weight 0.5"),
    (Option("pad", "float", None, "", minimum=0.0, maximum=60.0), "inf", "pass e.g. --pad 1"),
    (Option("beam", "int", 8, "", minimum=1, maximum=256), "0", "pass e.g. --beam 8"),
    (Option("beta", "float", None, "", minimum=-10.0, maximum=10.0), "x", "pass e.g. --beta 1"),
    (Option("score", "float", None, ""), "nan", "pass e.g. --score 1"),
    (Option("hop", "int", None, "", minimum=160, maximum=400), "1", "pass e.g. --hop 160"),
    (Option("lm", "str", "bundle", "", choices=("bundle", "none")), "x", "pass e.g. --lm bundle"),
    (Option("norm", "str", None, "", choices=("none", "asnorm")), "x", "pass e.g. --norm none"),
    (Option("probabilities", "bool", False, ""), "maybe", "pass e.g. --probabilities false"),
])
def test_the_suggested_value_is_sensible(opt, value, fix):
    assert _fix(opt, value) == fix
    if opt.kind != "bool":   # the suggestion itself is accepted
        opt.parse(fix.rsplit(" ", 1)[1])


def test_cli_suggests_the_declared_default(tmp_path, capsys):
    from speechdl import audio

    sample = str(audio.__file__).replace("audio.py", "assets/sample.flac")
    assert main(["vad", "detect", sample, "--threshold", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("(pass e.g. --threshold 0.5)") and len(err.strip().splitlines()) == 1, err
