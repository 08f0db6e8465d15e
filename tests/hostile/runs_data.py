"""The store, manifest, list, folder, recipe and command-line families of the corpus (see
:mod:`tests.hostile.runs`)."""

from __future__ import annotations

import argparse

from tests.hostile.cases import Inputs
from tests.hostile.runs import Run, bases


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
    "data pseudo-label": lambda M: ["data", "pseudo-label", M, "--out", "{tmp}/pl", "--format", "json"],
    "data teacher-embed": lambda M: ["data", "teacher-embed", M, "--format", "json"],
    "vad eval": lambda M: ["vad", "eval", M, "--format", "json"],
    "vad calibrate": lambda M: ["vad", "calibrate", M, "--out", "{tmp}/cal", "--format", "json"],
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
        runs.append(Run("asr lm perplexity", f"text:{name}", ["asr", "lm", "perplexity", path, "--lm", path,
                                                              "--format", "json"]))
        runs.append(Run("text word2vec train", f"text:{name}", [
            "text", "word2vec", "train", path, "--out", "{tmp}/w", "--min-count", "1", "--epochs", "1", "--format",
            "json"]))
        runs.append(Run("text word2vec eval", f"text:{name}", ["text", "word2vec", "eval", "--wordsim", path,
                                                               "--format", "json"]))
        runs.append(Run("text bert prepare", f"text:{name}", ["text", "bert", "prepare", path, "--out", "{tmp}/mlm",
                                                              "--vocab", "20", "--format", "json"]))
        runs.append(Run("text translate eval", f"text:{name}", ["text", "translate", "eval", path, "--model",
                                                                "word2vec", "--format", "json"]))
        runs.append(Run("text word2vec similar", f"text:{name}", ["text", "word2vec", "similar", "cat", "--model", path,
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
        elif kind == "parallel":
            runs.append(Run("text translate prepare", f"folder:parallel_{name}", [
                "text", "translate", "prepare", path, "--out", "{tmp}/mt", "--vocab", "60", "--format", "json"]))
        elif kind == "kaldi":
            runs.append(Run("data import kaldi", f"kaldi:{name}", ["data", "import", "kaldi", path, "--out",
                                                                   "{tmp}/m", "--format", "json"]))
        elif kind == "realdev":
            runs.append(Run("data import real-dev", f"realdev:{name}", ["data", "import", "real-dev", path, "--out",
                                                                        "{tmp}/m", "--format", "json"]))
            runs.append(Run("kws negatives", f"realdev:{name}", ["kws", "negatives", "{tmp}/neg", "--real-dev", path,
                                                                 "--crops", "3", "--sources", "x", "--format",
                                                                 "json"]))
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
        # those need no argument: no-args is valid there (noise-bank's is the full 3 GB download)
        if verb not in ("models", "serve", "speaker list", "data noise-bank"):
            runs.append(Run(verb, "argv:none", words, quick=verb == "vad detect"))
        bogus = [*bases(inp)[verb], "--bogus-option"]
        runs.append(Run(verb, "argv:--bogus-option", bogus, quick=verb == "features extract", serves=verb == "serve",
                        limit=30.0 if verb == "serve" else 60.0))
    runs.append(Run("run", "argv:unknown model", ["run", "no_such_model", inp.audio["good.wav"].path]))
    runs.append(Run("run", "argv:merge nothing", ["run", "merge", inp.paths["a_folder"]]))
    return runs
