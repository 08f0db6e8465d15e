"""Which verb meets which hostile case: the plan of the corpus (one :class:`Run` per command line).

The verbs are enumerated from the real parser (:func:`parser_verbs`: ``speechdl.cli.build_parser()`` with
every group of the catalogue), so a new verb without cases fails ``test_every_verb_is_attacked``.

Families of cases (the ``case`` label starts with its family), built in :mod:`tests.hostile.runs_audio` and
:mod:`tests.hostile.runs_data`:

- ``audio:`` every audio case of :mod:`tests.hostile.cases_audio` against every verb that reads audio files;
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
from pathlib import Path

from tests.hostile.cases import Inputs

SHIPPED_LM = str(Path(__file__).resolve().parents[2] / "speechdl" / "pretrained" / "asr" / "lm.arpa.gz")
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
        "data noise-bank": ["data", "noise-bank", "--packages", "no-such-package", "--out", "{tmp}/nb",
                            "--format", "json"],
        "data merge": ["data", "merge", "{tmp}/merged", m["good"], "--format", "json"],
        "data pseudo-speakers": ["data", "pseudo-speakers", m["good"], "--copies", "1", "--out", "{tmp}/ps",
                                 "--format", "json"],
        "data pseudo-label": ["data", "pseudo-label", m["good"], "--out", "{tmp}/pl", "--format", "json"],
        "data teacher-embed": ["data", "teacher-embed", m["good"], "--format", "json"],
        "train": ["train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "tune": ["tune", r["good.yaml"], "--trials", "1", "--param", tune_param, "--study-dir", "{tmp}/study",
                 "--format", "json"],
        "vad detect": ["vad", "detect", good, "--format", "json"],
        "vad train": ["vad", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "vad export": ["vad", "export", "--onnx", "{tmp}/v.onnx"],
        "vad eval": ["vad", "eval", m["good"], "--format", "json"],
        "vad calibrate": ["vad", "calibrate", m["good"], "--out", "{tmp}/cal", "--format", "json"],
        "vad export-frames": ["vad", "export-frames", m["good"], "--out", "{tmp}/f.csv", "--format", "json"],
        "asr transcribe": ["asr", "transcribe", good, "--format", "json"],
        "asr eval": ["asr", "eval", m["good"], "--format", "json"],
        "asr train": ["asr", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "asr export": ["asr", "export", "{tmp}/no_run", "--bundle", "{tmp}/b"],
        "asr lm build": ["asr", "lm", "build", inp.texts["good.txt"], "--out", "{tmp}/lm.arpa", "--format", "json"],
        "asr lm corpus": ["asr", "lm", "corpus", "--out", "{tmp}/c", "--sources", "real_train", "--real-dev",
                          inp.paths["lm_real_dev"], "--format", "json"],
        "asr lm perplexity": ["asr", "lm", "perplexity", inp.texts["good.txt"], "--lm", SHIPPED_LM, "--format", "json"],
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
        "enhance denoise": ["enhance", good, "--out", "{tmp}/clean.wav", "--format", "json"],
        "enhance train": ["enhance", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "enhance export": ["enhance", "export", "--onnx", "{tmp}/e.onnx"],
        "enhance eval": ["enhance", "eval", "--clean", good, "--items", "2", "--format", "json"],
        "kws detect": ["kws", "detect", good, "--format", "json"],
        "kws synth": ["kws", "synth", "{tmp}/words", "--split", "eval", "--espeak-voices", "1", "--engine-voices", "0",
                      "--unknown-per-voice", "1", "--format", "json"],
        "kws real-words": ["kws", "real-words", "{tmp}/real", "--real-dev", inp.paths["realdev:good"], "--format",
                           "json"],
        "kws negatives": ["kws", "negatives", "{tmp}/neg", "--real-dev", inp.paths["realdev:good"], "--crops", "3",
                          "--sources", "x", "--format", "json"],
        "kws train": ["kws", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "kws export": ["kws", "export", "{tmp}/no_run", "--bundle", "{tmp}/b"],
        "kws eval": ["kws", "eval", m["good"], "--format", "json"],
        "kws enroll": ["kws", "enroll", "hey", good, "--store", "{tmp}/k.json", "--format", "json"],
        "vocode synth": ["vocode", good, "--out", "{tmp}/copy.wav", "--model", "griffin-lim", "--format", "json"],
        "vocode mel": ["vocode", "mel", good, "--out", "{tmp}/m.npy", "--format", "json"],
        "vocode train": ["vocode", "train", r["good.yaml"], "--out", "{tmp}/run", "--format", "json"],
        "vocode export": ["vocode", "export", "{tmp}/no_run", "--bundle", "{tmp}/b"],
        "vocode data": ["vocode", "data", "actor", "--actor", "Ann", "--manifest", inp.paths["actor_manifest"],
                        "--out", "{tmp}/corpus"],
        "text corpus": ["text", "corpus", "--out", "{tmp}/t", "--root", "{tmp}", "--format", "json"],
        "text word2vec train": ["text", "word2vec", "train", inp.texts["good.txt"], "--out", "{tmp}/w2v", "--min-count",
                                "1", "--dim", "8", "--epochs", "1", "--threads", "1", "--format", "json"],
        "text word2vec similar": ["text", "word2vec", "similar", "water", "--top", "3", "--format", "json"],
        "text word2vec analogy": ["text", "word2vec", "analogy", "man", "king", "woman", "--format", "json"],
        "text word2vec eval": ["text", "word2vec", "eval", "--restrict", "5000", "--format", "json"],
        "text word2vec export": ["text", "word2vec", "export", "word2vec", "--vectors", "{tmp}/v.bin", "--format",
                                 "json"],
        "text bert prepare": ["text", "bert", "prepare", inp.texts["good.txt"], "--out", "{tmp}/mlm", "--vocab", "20",
                              "--format", "json"],
        "text translate prepare": ["text", "translate", "prepare", inp.paths["parallel:good"], "--out", "{tmp}/mt",
                                   "--vocab", "60", "--format", "json"],
        "text translate export": ["text", "translate", "export", "{tmp}/no_run", "--bundle", "{tmp}/b"],
        "text translate eval": ["text", "translate", "eval", inp.paths["parallel:good"] + "/test.tsv", "--model",
                                "word2vec", "--format", "json"],
        "run": ["run", "vad", good, "--format", "json"],
        "models": ["models", "--format", "json"],
        "serve": ["serve", "--models", "vad", "--port", "8"],   # a privileged port: refused before serving
    }


def setup_lines(inp: Inputs) -> list[list[str]]:
    """Commands run once before the corpus (their exit code must be 0): the store ``identify`` reads."""
    return [["speaker", "enroll", "alice", inp.audio["good.wav"].path, inp.audio["good.flac"].path,
             "--store", str(inp.root / "store.db")],
            ["speaker", "enroll", "bob", inp.audio["good.wav"].path, "--store", str(inp.root / "remove.db")]]


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


#: verbs whose base line is refused by design (a bundle is exported from a training run; none exists here)
# noise-bank: downloads; kws eval: needs a word manifest (tests/cli/test_kws_cli.py runs it)
# text corpus: reads Debian packages (the base line points --root at an empty folder: one-line error)
# text translate export / eval: need a training run / a translate bundle (tests/integration/test_translation.py)
NO_VALID_BASE = ("asr export", "speaker export", "vocode export", "serve", "data noise-bank", "kws export", "kws eval",
                 "text corpus", "text translate export", "text translate eval")
QUICK_BASES = ("features extract", "vad detect", "data info", "speaker list")


def base_runs(inp: Inputs) -> list[Run]:
    """Each verb's valid base line (exit 0 expected): the checks must not refuse what is valid."""
    return [Run(verb, "base:valid", argv, quick=verb in QUICK_BASES, limit=120.0,
                outputs=("{tmp}/f.npy",) if verb == "features extract" else ())
            for verb, argv in bases(inp).items() if verb not in ("serve", "data noise-bank")]


def plan(inp: Inputs, verbs: dict[str, argparse.ArgumentParser] | None = None) -> list[Run]:
    """Every run of the corpus."""
    from tests.hostile.runs_audio import audio_runs, option_runs, output_runs
    from tests.hostile.runs_data import argv_runs, folder_runs, list_runs, manifest_runs, recipe_runs, store_runs

    verbs = parser_verbs() if verbs is None else verbs
    return [*base_runs(inp), *audio_runs(inp), *option_runs(inp, verbs), *output_runs(inp), *store_runs(inp),
            *manifest_runs(inp), *list_runs(inp), *folder_runs(inp), *recipe_runs(inp), *argv_runs(inp, verbs)]
