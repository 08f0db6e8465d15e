"""Which verb meets which hostile case: the plan of the corpus (one :class:`Run` per command line).

The verbs are enumerated from the real parser (:func:`parser_verbs`: ``speechdl.cli.build_parser()`` with
every group of the catalogue), so a new verb without cases fails ``test_every_verb_is_attacked``.

Families of cases (the ``case`` label starts with its family):

- ``audio:`` every audio case of :mod:`tests.hostile.cases` against every verb that reads audio files;
- ``opt:`` every number-valued option of every verb (found in the parser, plus the pipelines' declared
  options that the CLI takes as strings) with NaN, inf, -inf, -1, 0, 1e30, a word and an empty string;
- ``out:`` every option that names an output, pointed at a folder (or a file, for folder outputs), under
  a regular file, somewhere that cannot be created, and a missing parent (created: exit 0);
- ``store:``, ``manifest:``, ``trials:``, ``text:``, ``folder:``, ``kaldi:``, ``realdev:``, ``noise-bank:``,
  ``recipe:``, ``override:``, ``param:``: corrupt or foreign inputs of the verbs that read them;
- ``argv:``: no arguments, an unknown option; ``base:valid``: each verb's valid line (must be exit 0).

``{tmp}`` in an argument is the run's own empty folder.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from tests.hostile.cases import Inputs

BAD_NUMBERS = ("nan", "inf", "-inf", "-1", "0", "1e30", "abc", "")


@dataclass
class Run:
    """One command line of the corpus."""

    verb: str                      # "vad detect"
    case: str                      # "audio:float_nan.wav", "opt:--pad=inf", ...
    argv: list[str]
    limit: float = 60.0            # seconds before the run counts as a hang
    quick: bool = False            # in the fast-tier subset
    seconds: float | None = None   # the audio input holds at most this (duration checks)
    outputs: tuple[str, ...] = ()  # files an exit-0 run must leave finite (.npy)
    cwd: str | None = None         # default: the repository root
    serves: bool = False           # a run that, when accepted, serves forever (a valid serve)


def parser_verbs() -> dict[str, argparse.ArgumentParser]:
    """``{"vad detect": parser, ...}``: every leaf verb of ``speechdl``'s parser, all groups loaded."""
    from speechdl.cli import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[" ".join(path)] = parser
        for s in subs:
            for name, sub in s.choices.items():
                walk(sub, [*path, name])

    walk(build_parser(None), [])
    return found


# ------------------------------------------------------------------ the verbs' valid base lines
def bases(inp: Inputs) -> dict[str, list[str]]:
    """A valid, quick command line per verb (the option and output cases change one thing in it)."""
    a, m, r = inp.audio, inp.manifests, inp.recipes
    good, good2 = a["good.wav"].path, a["good.flac"].path
    store = str(inp.root / "store.db")
    tune_param = "optim.lr=float(1e-3,1e-2,log)"
    return {
        "features extract": ["features", "extract", good, "--out", "{tmp}/f.npy", "--format", "json"],
        "data import folder": ["data", "import", "folder", str(inp.root / "audio_ok"), "--out", "{tmp}/m",
                               "--format", "json"],
        "data import kaldi": ["data", "import", "kaldi", inp.paths["kaldi:good"], "--out", "{tmp}/m", "--format",
                              "json"],
        "data import recipe": ["data", "import", "recipe", "yesno", inp.paths["yesno"], "--out", "{tmp}/m",
                               "--format", "json"],
        "data import real-dev": ["data", "import", "real-dev", inp.paths["realdev:good"], "--out", "{tmp}/m",
                                 "--format", "json"],
        "data info": ["data", "info", m["good"], "--format", "json"],
        "data select": ["data", "select", m["good"], "--out", "{tmp}/sel", "--format", "json"],
        "data synth": ["data", "synth", "--hours", "0.003", "--out", "{tmp}/synth", "--workers", "1",
                       "--noise-dir", "none", "--format", "json"],
        "data mix": ["data", "mix", m["good"], "--hours", "0.003", "--out", "{tmp}/mix", "--workers", "1",
                     "--noise-dir", "none", "--no-babble", "--format", "json"],
        "data merge": ["data", "merge", "{tmp}/merged", m["good"], "--format", "json"],
        "data pseudo-speakers": ["data", "pseudo-speakers", m["good"], "--copies", "1", "--out", "{tmp}/ps",
                                 "--format", "json"],
        "train": ["train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "tune": ["tune", r["good.yaml"], "--trials", "1", "--param", tune_param, "--study-dir", "{tmp}/study",
                 "--format", "json"],
        "vad detect": ["vad", "detect", good, "--format", "json"],
        "vad train": ["vad", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "vad export": ["vad", "export", "--onnx", "{tmp}/v.onnx"],
        "vad eval": ["vad", "eval", m["good"], "--format", "json"],
        "vad export-frames": ["vad", "export-frames", m["good"], "--out", "{tmp}/f.csv", "--format", "json"],
        "asr transcribe": ["asr", "transcribe", good, "--format", "json"],
        "asr eval": ["asr", "eval", m["good"], "--format", "json"],
        "asr train": ["asr", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "asr export": ["asr", "export", "{tmp}/no_run", "--bundle", "{tmp}/b"],
        "asr lm build": ["asr", "lm", "build", inp.texts["good.txt"], "--out", "{tmp}/lm.arpa", "--format", "json"],
        "speaker embed": ["speaker", "embed", good, "--format", "json"],
        "speaker verify": ["speaker", "verify", good, good2, "--format", "json"],
        "speaker enroll": ["speaker", "enroll", "alice", good, "--store", "{tmp}/s.db", "--format", "json"],
        "speaker identify": ["speaker", "identify", good, "--store", store, "--format", "json"],
        "speaker list": ["speaker", "list", "--store", store, "--format", "json"],
        "speaker remove": ["speaker", "remove", "bob", "--store", str(inp.root / "remove.db")],
        "speaker eval": ["speaker", "eval", inp.trials["good.txt"], "--format", "json"],
        "speaker train": ["speaker", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "speaker export": ["speaker", "export", "{tmp}/no_run", "--bundle", "{tmp}/b"],
        "speaker trials": ["speaker", "trials", m["good"], "--out", "{tmp}/t.txt", "--format", "json"],
        "run": ["run", "vad", good, "--format", "json"],
        "models": ["models", "--format", "json"],
        "serve": ["serve", "--models", "vad", "--port", "8"],   # a privileged port: refused before serving
    }


def setup_lines(inp: Inputs) -> list[list[str]]:
    """Commands run once before the corpus (their exit code must be 0): the store ``identify`` reads."""
    return [["speaker", "enroll", "alice", inp.audio["good.wav"].path, inp.audio["good.flac"].path,
             "--store", str(inp.root / "store.db")],
            ["speaker", "enroll", "bob", inp.audio["good.wav"].path, "--store", str(inp.root / "remove.db")]]


# ------------------------------------------------------------------ audio
AUDIO_VERBS = {
    "features extract": lambda A, g, s: ["features", "extract", A, "--out", "{tmp}/f.npy", "--format", "json"],
    "vad detect": lambda A, g, s: ["vad", "detect", A, "--format", "json"],
    "asr transcribe": lambda A, g, s: ["asr", "transcribe", A, "--format", "json"],
    "speaker embed": lambda A, g, s: ["speaker", "embed", A, "--format", "json"],
    "speaker verify": lambda A, g, s: ["speaker", "verify", A, g, "--format", "json"],
    "speaker enroll": lambda A, g, s: ["speaker", "enroll", "bob", A, "--store", "{tmp}/s.db", "--format", "json"],
    "speaker identify": lambda A, g, s: ["speaker", "identify", A, "--store", s, "--format", "json"],
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


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag`` set to ``value`` (as ``--flag=value``, so ``-inf`` is a value)."""
    out, skip = [], False
    for tok in argv:
        if skip:
            skip = False
            continue
        if tok == flag:
            skip = True
            continue
        out.append(tok)
    return [*out, f"{flag}={value}"]


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
    "train": [("--out", "dir")],
    "tune": [("--study-dir", "dir")],
    "vad train": [("--out", "dir")],
    "asr train": [("--out", "dir")],
    "speaker train": [("--out", "dir")],
}
QUICK_OUTPUTS = {("features extract", "folder"), ("vad detect", "under_file"), ("vad detect", "unwritable")}


def output_runs(inp: Inputs) -> list[Run]:
    runs = []
    base = bases(inp)
    for verb, outs in OUTPUTS.items():
        for opt, kind in outs:
            suffix = {"--plot": ".png", "--onnx": ".onnx", "--store": ".db"}.get(opt, ".npy" if verb.startswith(
                "features") else ".txt")
            values = {
                "folder": inp.paths["a_folder"] if kind == "file" else inp.paths["a_file"],
                "under_file": inp.paths["a_file"] + "/x" + (suffix if kind == "file" else ""),
                "unwritable": "/proc/speechdl_hostile/x" + (suffix if kind == "file" else ""),
                "missing_parent": "{tmp}/new/deeper/x" + (suffix if kind == "file" else ""),
            }
            for label, value in values.items():
                if verb in ("asr export", "speaker export") and label == "missing_parent":
                    continue      # a bundle needs a run: nothing valid to write
                if opt.startswith("pos:"):
                    argv = list(base[verb])
                    argv[int(opt[4:])] = value
                else:
                    argv = _replace(base[verb], opt, value)
                runs.append(Run(verb, f"out:{opt}={label}", argv, quick=(verb, label) in QUICK_OUTPUTS,
                                outputs=(value,) if value.endswith(".npy") else ()))
    return runs


# ------------------------------------------------------------------ stores, manifests, lists, texts, folders, recipes
def store_runs(inp: Inputs) -> list[Run]:
    runs = []
    good = inp.audio["good.wav"].path
    for name, path in inp.stores.items():
        quick = name in ("corrupt_blob", "foreign_schema")
        runs += [
            Run("speaker list", f"store:{name}", ["speaker", "list", "--store", path, "--format", "json"], quick=quick),
            Run("speaker remove", f"store:{name}", ["speaker", "remove", "alice", "--store", path]),
            Run("speaker identify", f"store:{name}", ["speaker", "identify", good, "--store", path, "--format",
                                                      "json"]),
            Run("speaker enroll", f"store:{name}", ["speaker", "enroll", "carol", good, "--store", path, "--format",
                                                    "json"]),
        ]
    return runs


MANIFEST_VERBS = {
    "data info": lambda M: ["data", "info", M, "--format", "json"],
    "data select": lambda M: ["data", "select", M, "--out", "{tmp}/sel", "--format", "json"],
    "data merge": lambda M: ["data", "merge", "{tmp}/merged", M, "--format", "json"],
    "data mix": lambda M: ["data", "mix", M, "--hours", "0.003", "--out", "{tmp}/mix", "--workers", "1",
                           "--noise-dir", "none", "--no-babble", "--format", "json"],
    "data pseudo-speakers": lambda M: ["data", "pseudo-speakers", M, "--copies", "1", "--out", "{tmp}/ps",
                                       "--format", "json"],
    "vad eval": lambda M: ["vad", "eval", M, "--format", "json"],
    "vad export-frames": lambda M: ["vad", "export-frames", M, "--out", "{tmp}/f.csv", "--format", "json"],
    "asr eval": lambda M: ["asr", "eval", M, "--format", "json"],
    "speaker trials": lambda M: ["speaker", "trials", M, "--out", "{tmp}/t.txt", "--format", "json"],
    "run vad": lambda M: ["run", "vad", "--manifest", M, "--out", "{tmp}/res", "--no-progress", "--format", "json"],
    "run asr": lambda M: ["run", "asr", "--manifest", M, "--out", "{tmp}/res", "--no-progress", "--format", "json"],
}


def manifest_runs(inp: Inputs) -> list[Run]:
    runs = []
    for name, path in inp.manifests.items():
        for verb, make in MANIFEST_VERBS.items():
            runs.append(Run(verb.split(" ")[0] if verb.startswith("run ") else verb, f"manifest:{name}", make(path),
                            quick=(verb, name) in (("data info", "negative"), ("data info", "nan_duration"))))
    return runs


def list_runs(inp: Inputs) -> list[Run]:
    runs = []
    for name, path in inp.trials.items():
        runs.append(Run("speaker eval", f"trials:{name}", ["speaker", "eval", path, "--format", "json"]))
        runs.append(Run("run", f"trials:{name}", ["run", "speaker", "--trials", path, "--out", "{tmp}/res",
                                                  "--no-progress", "--format", "json"]))
    for name, path in inp.texts.items():
        runs.append(Run("asr lm build", f"text:{name}", ["asr", "lm", "build", path, "--out", "{tmp}/lm.arpa",
                                                         "--format", "json"]))
    runs.append(Run("asr lm build", "opt:--order=100", ["asr", "lm", "build", inp.texts["good.txt"], "--order",
                                                        "100", "--out", "{tmp}/lm.arpa", "--format", "json"]))
    return runs


def folder_runs(inp: Inputs) -> list[Run]:
    runs = []
    for key, path in inp.paths.items():
        kind, _, name = key.partition(":")
        if kind == "folder":
            runs.append(Run("data import folder", f"folder:{name}", ["data", "import", "folder", path, "--out",
                                                                     "{tmp}/m", "--format", "json"],
                            quick=name == "binary_transcript"))
        elif kind == "kaldi":
            runs.append(Run("data import kaldi", f"kaldi:{name}", ["data", "import", "kaldi", path, "--out",
                                                                   "{tmp}/m", "--format", "json"]))
        elif kind == "realdev":
            runs.append(Run("data import real-dev", f"realdev:{name}", ["data", "import", "real-dev", path, "--out",
                                                                        "{tmp}/m", "--format", "json"]))
            runs.append(Run("data synth", f"noise-bank:{name}", ["data", "synth", "--hours", "0.003", "--out",
                                                                 "{tmp}/synth", "--workers", "1", "--noise-dir", path,
                                                                 "--format", "json"], limit=120.0))
            runs.append(Run("data mix", f"noise-bank:{name}", ["data", "mix", inp.manifests["good"], "--hours",
                                                               "0.003", "--out", "{tmp}/mix", "--workers", "1",
                                                               "--noise-dir", path, "--no-babble", "--format",
                                                               "json"], limit=120.0))
    runs.append(Run("data import recipe", "recipe:unknown", ["data", "import", "recipe", "no_such_corpus",
                                                             inp.paths["a_folder"], "--out", "{tmp}/m"]))
    runs.append(Run("data import recipe", "recipe:bad_opt", ["data", "import", "recipe", "yesno", inp.paths["a_folder"],
                                                             "--opt", "=x", "--out", "{tmp}/m"]))
    runs.append(Run("data import recipe", "recipe:file_as_corpus", ["data", "import", "recipe", "yesno",
                                                                    inp.paths["a_file"], "--out", "{tmp}/m"]))
    return runs


TRAIN_VERBS = ("train", "vad train", "asr train", "speaker train")
OVERRIDES = ("optim.lr=nan", "optim.lr=.inf", "trainer.max_epochs=-1", "trainer.batch_size=0",
             "trainer.batch_size=1e30", "model.hidden=-4", "data.noise=.nan", "oops", "trainer.max_epochs=[1]")


def recipe_runs(inp: Inputs) -> list[Run]:
    runs = []
    for name, path in inp.recipes.items():
        if name == "good.yaml":
            continue
        for verb in TRAIN_VERBS:
            argv = [*verb.split(" "), path, "--out", "{tmp}/run", "--format", "json"]
            runs.append(Run(verb, f"recipe:{name}", argv, quick=verb == "train" and name == "binary.yaml",
                            limit=120.0))
        runs.append(Run("tune", f"recipe:{name}", ["tune", path, "--trials", "1", "--param",
                                                   "optim.lr=float(1e-3,1e-2,log)", "--study-dir", "{tmp}/study",
                                                   "--format", "json"], limit=120.0))
    for ov in OVERRIDES:
        runs.append(Run("train", f"override:{ov}", ["train", inp.recipes["good.yaml"], ov, "--out", "{tmp}/run",
                                                    "--format", "json"], limit=120.0))
    for param in ("optim.lr=float(nan,1)", "optim.lr=int(5,1)", "optim.lr=[]", "nonsense"):
        runs.append(Run("tune", f"param:{param}", ["tune", inp.recipes["good.yaml"], "--trials", "1", "--param", param,
                                                   "--study-dir", "{tmp}/study", "--format", "json"], limit=120.0))
    return runs


def argv_runs(inp: Inputs, verbs: dict[str, argparse.ArgumentParser]) -> list[Run]:
    runs = []
    for verb in verbs:
        words = verb.split(" ")
        if verb not in ("models", "serve", "speaker list"):   # those need no argument: no-args is valid there
            runs.append(Run(verb, "argv:none", words, quick=verb == "vad detect"))
        bogus = [*bases(inp)[verb], "--bogus-option"]
        runs.append(Run(verb, "argv:--bogus-option", bogus, quick=verb == "features extract", serves=verb == "serve",
                        limit=30.0 if verb == "serve" else 60.0))
    runs.append(Run("run", "argv:unknown model", ["run", "no_such_model", inp.audio["good.wav"].path]))
    runs.append(Run("run", "argv:merge nothing", ["run", "merge", inp.paths["a_folder"]]))
    return runs


#: verbs whose base line is refused by design (a bundle is exported from a training run; none exists here)
NO_VALID_BASE = ("asr export", "speaker export", "serve")
QUICK_BASES = ("features extract", "vad detect", "data info", "speaker list")


def base_runs(inp: Inputs) -> list[Run]:
    """Each verb's valid base line (exit 0 expected): the checks must not refuse what is valid."""
    return [Run(verb, "base:valid", argv, quick=verb in QUICK_BASES, limit=120.0,
                outputs=("{tmp}/f.npy",) if verb == "features extract" else ())
            for verb, argv in bases(inp).items() if verb != "serve"]


def plan(inp: Inputs, verbs: dict[str, argparse.ArgumentParser] | None = None) -> list[Run]:
    """Every run of the corpus."""
    verbs = parser_verbs() if verbs is None else verbs
    return [*base_runs(inp), *audio_runs(inp), *option_runs(inp, verbs), *output_runs(inp), *store_runs(inp),
            *manifest_runs(inp), *list_runs(inp), *folder_runs(inp), *recipe_runs(inp), *argv_runs(inp, verbs)]
