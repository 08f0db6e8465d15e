"""The audio, option and output families of the corpus (see :mod:`tests.hostile.runs`)."""

from __future__ import annotations

import argparse

from tests.hostile.cases import Inputs
from tests.hostile.runs import BAD_NUMBERS, Run, _replace, bases

# ------------------------------------------------------------------ audio
AUDIO_VERBS = {
    "features extract": lambda A, g, s: ["features", "extract", A, "--out", "{tmp}/f.npy", "--format", "json"],
    "vad detect": lambda A, g, s: ["vad", "detect", A, "--format", "json"],
    "asr transcribe": lambda A, g, s: ["asr", "transcribe", A, "--format", "json"],
    "speaker embed": lambda A, g, s: ["speaker", "embed", A, "--format", "json"],
    "speaker verify": lambda A, g, s: ["speaker", "verify", A, g, "--format", "json"],
    "speaker enroll": lambda A, g, s: ["speaker", "enroll", "bob", A, "--store", "{tmp}/s.db", "--format", "json"],
    "speaker identify": lambda A, g, s: ["speaker", "identify", A, "--store", s, "--format", "json"],
    "enhance denoise": lambda A, g, s: ["enhance", A, "--out", "{tmp}/clean.wav", "--format", "json"],
    "vocode mel": lambda A, g, s: ["vocode", "mel", A, "--out", "{tmp}/m.npy", "--format", "json"],
    "kws detect": lambda A, g, s: ["kws", "detect", A, "--format", "json"],
    "kws enroll": lambda A, g, s: ["kws", "enroll", "hey", A, "--store", "{tmp}/k.json", "--format", "json"],
    "run vad": lambda A, g, s: ["run", "vad", A, "--format", "json"],
    "run asr": lambda A, g, s: ["run", "asr", A, "--format", "json"],
    "run speaker": lambda A, g, s: ["run", "speaker", A, g, "--format", "json"],
}
QUICK_AUDIO_VERBS = ("features extract", "vad detect", "speaker embed")


def audio_runs(inp: Inputs) -> list[Run]:
    runs = []
    good, store = inp.audio["good.wav"].path, str(inp.root / "store.db")
    for case in inp.audio.values():
        for verb, make in AUDIO_VERBS.items():
            path, cwd = case.path, None
            if case.name == "-dash.wav":   # as a user types it, from its folder
                path, cwd = "-dash.wav", str(inp.root / "audio")
            argv = make(path, good, store)
            outputs = ("{tmp}/f.npy",) if verb == "features extract" else ()
            runs.append(Run(verb.split(" ")[0] if verb.startswith("run ") else verb, f"audio:{case.name}", argv,
                            quick=case.quick and verb in QUICK_AUDIO_VERBS, seconds=case.seconds,
                            outputs=outputs, cwd=cwd))
    # every case in one folder: the import skips what it cannot read
    runs.append(Run("data import folder", "audio:all", ["data", "import", "folder", str(inp.root / "audio"),
                                                        "--out", "{tmp}/m", "--format", "json"]))
    return runs


# ------------------------------------------------------------------ options
#: options the CLI takes as strings but that are numbers (the pipelines' declared options)
NUMERIC_STRINGS = {"beam", "alpha", "beta", "ctc_weight", "max_seconds", "threshold", "offset", "min_speech",
                   "min_silence", "pad"}
QUICK_OPTIONS = {("vad detect", "--min-silence", "nan"), ("vad detect", "--pad", "inf"),
                 ("vad detect", "--threshold", "nan"), ("features extract", "--sample-rate", "1"),
                 ("speaker verify", "--threshold", "nan"), ("speaker embed", "--max-seconds", "0"),
                 ("features extract", "--stack", "1e30")}


def _numeric_options(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for a in parser._actions:
        if not a.option_strings or a.nargs == 0:
            continue
        flag = a.option_strings[-1]
        # int/float, speechdl.validate.flag / declared (named after their kind), or a declared option left a string
        kind = a.type if a.type in (int, float) else getattr(a.type, "__name__", None)
        if kind in (int, float, "int", "float") or (a.type is None and a.dest in NUMERIC_STRINGS):
            out.append(flag)
    return out


def option_runs(inp: Inputs, verbs: dict[str, argparse.ArgumentParser]) -> list[Run]:
    runs = []
    base = bases(inp)
    for verb, parser in verbs.items():
        flags = _numeric_options(parser)
        if verb == "run":   # the pipelines' declared options, model by model
            for model, flags_m in (("vad", ["--threshold", "--offset", "--min-speech", "--min-silence", "--pad"]),
                                   ("asr", ["--beam", "--alpha", "--max-seconds"]),
                                   ("speaker", ["--threshold"])):
                for flag in flags_m:
                    for value in BAD_NUMBERS:
                        argv = ["run", model, inp.audio["good.wav"].path, *(
                            [inp.audio["good.flac"].path] if model == "speaker" else []), "--format", "json"]
                        runs.append(Run("run", f"opt:{model} {flag}={value}", _replace(argv, flag, value)))
            continue
        for flag in flags:
            for value in BAD_NUMBERS:
                if verb == "serve" and value == "0" and flag in ("--port", "--queue", "--threads"):
                    continue          # valid: it would serve
                serve = verb == "serve"
                runs.append(Run(verb, f"opt:{flag}={value}", _replace(base[verb], flag, value),
                                quick=(verb, flag, value) in QUICK_OPTIONS, limit=30.0 if serve else 60.0,
                                serves=serve,
                                outputs=("{tmp}/f.npy",) if verb == "features extract" else ()))
    # values the list above does not reach
    extra = [("serve", "--port", "70000"), ("features extract", "--n-mels", "100000"),
             ("features extract", "--sample-rate", "1"), ("features extract", "--sample-rate", "100"),
             ("data import kaldi", "--sample-rate", "1"), ("data synth", "--sample-rate", "1"),
             ("data pseudo-speakers", "--sample-rate", "1"), ("speaker embed", "--max-seconds", "0.001"),
             ("vad detect", "--threshold", "1"), ("vad detect", "--offset", "1")]
    for verb, flag, value in extra:
        runs.append(Run(verb, f"opt:{flag}={value}", _replace(base[verb], flag, value), serves=verb == "serve",
                        limit=30.0 if verb == "serve" else 60.0, quick=(verb, flag, value) in QUICK_OPTIONS,
                        outputs=("{tmp}/f.npy",) if verb == "features extract" else ()))
    return runs


# ------------------------------------------------------------------ outputs
#: verb -> (option or "pos:N" for a positional, "file" | "dir")
OUTPUTS = {
    "features extract": [("--out", "file")],
    "vad detect": [("--plot", "file"), ("--out-dir", "dir")],
    "vad eval": [("--plot", "file")],
    "vad calibrate": [("--out", "dir")],
    "vad export-frames": [("--out", "file")],
    "vad export": [("--onnx", "file")],
    "asr export": [("--bundle", "dir")],
    "asr lm build": [("--out", "file")],
    "speaker enroll": [("--store", "file")],
    "speaker eval": [("--plot", "file")],
    "speaker trials": [("--out", "file")],
    "speaker export": [("--bundle", "dir")],
    "data import folder": [("--out", "dir")],
    "data import kaldi": [("--out", "dir")],
    "data import real-dev": [("--out", "dir")],
    "data select": [("--out", "dir")],
    "data synth": [("--out", "dir")],
    "data mix": [("--out", "dir")],
    "data merge": [("pos:2", "dir")],
    "data pseudo-speakers": [("--out", "dir")],
    "data pseudo-label": [("--out", "dir")],
    "train": [("--out", "dir")],
    "tune": [("--study-dir", "dir")],
    "vad train": [("--out", "dir")],
    "asr train": [("--out", "dir")],
    "speaker train": [("--out", "dir")],
    "enhance denoise": [("--out", "file")],
    "enhance export": [("--onnx", "file")],
    "enhance train": [("--out", "dir")],
    "kws train": [("--out", "dir")],
    "kws export": [("--bundle", "dir")],
    "kws enroll": [("--store", "file")],
    "kws synth": [("pos:2", "dir")],
    "vocode synth": [("--out", "file")],
    "vocode mel": [("--out", "file")],
    "vocode data": [("--out", "dir")],
    "text word2vec train": [("--out", "dir")],
    "text word2vec export": [("--vectors", "file")],
    "text translate prepare": [("--out", "dir")],
    "text bert prepare": [("--out", "dir")],
    "text translate export": [("--bundle", "dir")],
}
QUICK_OUTPUTS = {("features extract", "folder"), ("vad detect", "under_file"), ("vad detect", "unwritable")}


def output_runs(inp: Inputs) -> list[Run]:
    runs = []
    base = bases(inp)
    for verb, outs in OUTPUTS.items():
        for opt, kind in outs:
            wav = verb in ("enhance denoise", "vocode synth")
            npy = verb.startswith("features") or verb == "vocode mel"
            suffix = {"--plot": ".png", "--onnx": ".onnx", "--store": ".db"}.get(opt, ".npy" if npy else ".wav" if wav
                                                                                 else ".txt")
            values = {
                "folder": inp.paths["a_folder"] if kind == "file" else inp.paths["a_file"],
                "under_file": inp.paths["a_file"] + "/x" + (suffix if kind == "file" else ""),
                "unwritable": "/proc/speechdl_hostile/x" + (suffix if kind == "file" else ""),
                "missing_parent": "{tmp}/new/deeper/x" + (suffix if kind == "file" else ""),
            }
            for label, value in values.items():
                if verb in ("asr export", "speaker export", "kws export", "text translate export") and \
                        label == "missing_parent":
                    continue      # a bundle needs a run: nothing valid to write
                if opt.startswith("pos:"):
                    argv = list(base[verb])
                    argv[int(opt[4:])] = value
                else:
                    argv = _replace(base[verb], opt, value)
                runs.append(Run(verb, f"out:{opt}={label}", argv, quick=(verb, label) in QUICK_OUTPUTS,
                                outputs=(value,) if value.endswith(".npy") else ()))
    return runs
