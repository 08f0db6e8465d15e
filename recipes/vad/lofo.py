"""Leave-one-family-out VAD training: one model per fold plus the shipped one, resumable.

Steps (each skips what is done, so rerunning the same command resumes):

    python recipes/vad/lofo.py babble                               # synthetic babble noise bank
    python recipes/vad/lofo.py train  --recipe recipes/vad/lofo_lstm.yaml [--folds 0,1,all]
    python recipes/vad/lofo.py export --recipe recipes/vad/lofo_lstm.yaml [--folds ...]
    python recipes/vad/lofo.py rules  --recipe recipes/vad/lofo_lstm.yaml   # segment rules from the folds' dev
    python benchmarks/vad.py                                        # the per-fold table

``train`` writes ``runs/vad_lofo/<name>/<fold>.yaml`` (``speechdl.tasks.vad.folds.fold_recipe``) and runs
``speechdl vad train`` on it (rerun: resumes from ``last.ckpt``). ``export`` bundles each run into
``runs/vad_lofo/<name>/<fold>/bundle`` and sets its threshold to the best F1 on the fold's **dev** audio
(training families only, ``folds.fold_dev_items``). ``rules`` picks the post-processing (hysteresis, median
window, minimum speech and silence: ``speechdl.tasks.vad.calibrate``) with the best mean rank of frame F1 after
segmentation over the folds' dev audio, saves it as ``runs/vad_lofo/<name>/segment_rules.json`` and writes it into
every bundle of the recipe (``export`` applies it too once it exists). Data: ``recipes/vad/DATA.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from speechdl.paths import expand, work_dir  # noqa: E402
from speechdl.tasks.vad import folds as F  # noqa: E402
from speechdl.tasks.vad.calibrate import post_of, write_post  # noqa: E402

PARTS = work_dir("vad_lofo") / "parts"
BABBLE = work_dir("vad_lofo") / "babble"
SPEECHDL = [str(Path(sys.executable).parent / "speechdl")]


def build_babble(out: Path = BABBLE, clips: int = 48, seconds: float = 12.0, seed: int = 7) -> None:
    """``clips`` babble recordings (3-7 espeak-ng talkers of the training voices) with ``family: babble``."""
    from speechdl import audio
    from speechdl.data.synth import noise as N
    from speechdl.data.synth.text import load_sentences
    from speechdl.data.synth.voices import voice_pool

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(clips):
        path = out / f"babble_{i:03d}.flac"
        if not path.is_file():
            rng = np.random.default_rng([seed, i])
            lang = ["en", "es", "fr", "de", "nl", "ru"][i % 6]
            wave = N.babble(int(seconds * 16000), 16000, rng, voice_pool([lang], seed + i, split="train")[lang],
                            load_sentences(lang, split="train"))
            audio.save(path, 0.3 * wave / max(1e-6, float(np.abs(wave).max())), 16000)
        rows.append({"audio": path.name, "duration": seconds, "source": "synthetic-babble", "kind": "noise",
                     "family": "babble", "license": "GPL-3.0 (espeak-ng voices)", "notes": "3-7 talkers"})
        print(f"babble {i + 1}/{clips}", end="\r", file=sys.stderr)
    tmp = out / "manifest.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, out / "manifest.jsonl")
    print(f"babble: {clips} clips in {out}", file=sys.stderr)


def _folds(spec: str) -> list[int | None]:
    return [None if f == "all" else int(f) for f in spec.split(",")]


def _recipe(base: Path, fold: int | None) -> tuple[dict, Path]:
    cfg = F.fold_recipe(yaml.safe_load(base.read_text()), fold, parts=str(PARTS))
    path = Path(cfg["out_dir"] + ".yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return cfg, path


def train(base: Path, folds: list[int | None]) -> None:
    """Train every fold in turn (a finished run is skipped; an interrupted one resumes)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for fold in folds:
        cfg, path = _recipe(base, fold)
        if (Path(cfg["out_dir"]) / "DONE").is_file():
            print(f"{F.fold_name(fold)}: done", file=sys.stderr)
            continue
        print(f"{F.fold_name(fold)}: training {path}", file=sys.stderr)
        subprocess.run([*SPEECHDL, "vad", "train", str(path)], check=True, env=env)
        (Path(cfg["out_dir"]) / "DONE").write_text("ok\n")


def _rules_file(base: Path) -> Path:
    return Path(yaml.safe_load(base.read_text())["out_dir"]) / "segment_rules.json"


def calibrate(bundle: Path, fold: int | None, augment: dict, max_recordings: int | None = None,
              rule: list | None = None) -> float:
    """Best-F1 threshold of ``bundle`` on the fold's dev audio; written into the bundle's onset (with ``rule``)."""
    from speechdl.metrics.detection import tune_threshold
    from speechdl.tasks.vad.evaluate import grid_scorer, load_vad, score_items

    vad = load_vad(str(bundle))
    scored = score_items(F.fold_dev_items(fold, PARTS, expand(augment), max_recordings=max_recordings),
                         grid_scorer(vad), "dev")
    thr, f1 = tune_threshold(*scored.concat(), criterion="f1")
    onset = round(float(thr), 4)
    write_post(bundle, post_of(tuple(rule), onset) if rule else replace(vad.post, onset=onset, offset=None), f1)
    return onset


def pick_rules(base: Path, folds: list[int | None]) -> None:
    """Segment rules with the best mean dev rank over the exported folds; saved and written into every bundle."""
    from speechdl.tasks.vad.calibrate import pick_rule, rule_f1
    from speechdl.tasks.vad.evaluate import load_vad

    per_fold, bundles = [], []
    for fold in folds:
        cfg, _ = _recipe(base, fold)
        bundle = Path(cfg["out_dir"]) / "bundle"
        if not (bundle / "bundle.json").is_file():
            print(f"{F.fold_name(fold)}: not exported yet, skipped", file=sys.stderr)
            continue
        bundles.append(bundle)
        if fold is None:                      # the shipped model gets the rule; it has no dev of its own here
            continue
        vad = load_vad(str(bundle))
        items = list(F.fold_dev_items(fold, PARTS, expand(cfg["data"]["val_augment"])))
        per_fold.append(rule_f1([vad.probabilities(w) for _, w, _ in items], [y for _, _, y in items],
                                vad.frame_hop, vad.post.onset))
        print(f"{F.fold_name(fold)}: {len(per_fold[-1])} rules scored on {len(items)} dev recordings", file=sys.stderr)
    if not per_fold:
        raise SystemExit("no exported fold to pick segment rules on: run the export step first")
    rule, ranks = pick_rule(per_fold)
    for r in sorted(ranks, key=ranks.get)[:5]:
        print(f"rule (onset-offset, median frames, min speech s, min silence s) {r}: mean dev rank {ranks[r]:.1f}, "
              f"dev F1 % {' '.join(f'{100 * s[r]:.1f}' for s in per_fold)}")
    out = _rules_file(base)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"rule": list(rule), "mean_rank": ranks[rule], "folds": len(per_fold),
                               "rules": len(ranks)}, indent=2))
    os.replace(tmp, out)
    for bundle in bundles:
        meta = json.loads((bundle / "bundle.json").read_text())
        write_post(bundle, post_of(rule, float(meta["post"]["onset"])))
    print(f"segment rules {rule} -> {out} and {len(bundles)} bundles", file=sys.stderr)


def export(base: Path, folds: list[int | None]) -> None:
    """Bundle every trained fold and calibrate its threshold on the fold's dev audio."""
    for fold in folds:
        cfg, _ = _recipe(base, fold)
        run, bundle = Path(cfg["out_dir"]), Path(cfg["out_dir"]) / "bundle"
        if not (run / "DONE").is_file():
            print(f"{F.fold_name(fold)}: not trained yet, skipped", file=sys.stderr)
            continue
        subprocess.run([*SPEECHDL, "vad", "export", str(run), "--bundle", str(bundle)], check=True,
                       stdout=subprocess.DEVNULL)
        rules = _rules_file(base)
        rule = json.loads(rules.read_text())["rule"] if rules.is_file() else None
        onset = calibrate(bundle, fold, cfg["data"]["val_augment"], rule=rule)
        print(f"{F.fold_name(fold)}: {bundle} onset {onset}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("step", choices=["babble", "train", "export", "rules"])
    p.add_argument("--recipe", type=Path, default=Path("recipes/vad/lofo_lstm.yaml"))
    p.add_argument("--folds", default="0,1,2,3,4,all", help="comma list of fold numbers and 'all'")
    args = p.parse_args(argv)
    if args.step == "babble":
        build_babble()
    elif args.step == "train":
        train(args.recipe, _folds(args.folds))
    elif args.step == "rules":
        pick_rules(args.recipe, _folds(args.folds))
    else:
        export(args.recipe, _folds(args.folds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
