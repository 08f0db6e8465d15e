"""Speaker-verification benchmark: speechdl bundles (every back-end they hold) vs Resemblyzer, same run, same trials.

For every ``--sets`` entry (lhotse manifest directories of speaker-labelled whole-file utterances; default
the held-out real speakers and held-out synthetic voices of ``recipes/speaker/DATA.md``):

* trials from :func:`speechdl.tasks.speaker.trials.make_trials`: at most ``--max-per-speaker`` utterances
  per speaker, every same-speaker pair a target trial, ``--nontargets-per-target`` times as many
  non-target pairs drawn uniformly from the cross-speaker pairs (``--seed``);
* every distinct file embedded once per system (audio read into memory first, 16 kHz mono), trials scored
  by each back-end: speechdl cosine (and PLDA / score normalisation where the bundle holds them),
  Resemblyzer cosine (its embeddings are unit length);
* EER %, minDCF at p_target 0.01 and 0.05 (:mod:`speechdl.metrics.verification`), trial counts.

Throughput: embeddings per second and x real time (seconds of audio per second) on one fixed set of
``--throughput-utts`` utterances spread over the first set (audio already in memory: file decoding is
excluded; front-end / preprocessing, network and pooling are timed), ``torch.set_num_threads(--threads)``,
batched for both: speechdl ``SpeakerModel.embed_waves(waves, batch_size)``, Resemblyzer
``preprocess_wav`` per utterance then the partial windows of ``batch_size`` utterances in one forward pass
(:class:`speechdl.tasks.speaker.baselines.Resemblyzer`, equal to ``embed_utterance``); its own one-by-one
``embed_utterance`` is timed too, for reference. Fastest of ``--repeat`` passes, after one untimed warm-up.

Prints a header line (versions, threads, CPU), one table per set, the throughput table and the issue's goals
(``--format json`` for machines, ``--format md`` for markdown tables; ``--out`` writes the JSON report).

Usage:
    python benchmarks/speaker.py                                     # shipped 'speaker' bundle (if any) + Resemblyzer
    python benchmarks/speaker.py --models xvector=runs/speaker/xvector/bundle resnet=runs/speaker/resnet/bundle
    python benchmarks/speaker.py --sets real=/data/spk/real --format md --out results.json
    python benchmarks/speaker.py --quick                             # smoke test: 5 utterances per speaker
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))   # speaker_conditions

from speechdl.console import format_table, progress, write_report  # noqa: E402
from speechdl.errors import ConfigError, SpeechdlError  # noqa: E402
from speechdl.paths import work_dir  # noqa: E402

DATA = work_dir("speaker")  # $SPEECHDL_WORK/speaker (default ./data/speaker)
DEFAULT_SETS = (f"real_eval={DATA / 'real_eval'}", f"synth_eval={DATA / 'synth_eval'}")
PROG = "benchmarks/speaker.py"
SR = 16000
GOAL_SPEEDUP = 2.0
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class System:
    """An embedding extractor under test: ``embed(list of 16 kHz waves) -> (N, D)``, its scoring back-ends
    (row name -> ``score((N, D), (N, D)) -> (N,)``) and, for throughput, the timed variants
    (name -> embed function; the first is the system's own; ``preprocess``: a stage timed apart too)."""

    name: str
    embed: Callable[[list[np.ndarray]], np.ndarray]
    scorers: dict[str, Scorer]
    speechdl: bool = True
    timed: dict[str, Callable[[list[np.ndarray]], np.ndarray]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    preprocess: Callable[[list[np.ndarray]], Any] | None = None   # timed apart, for its share of the time


def _pairs(specs: list[str], what: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` items (a bare value is named after its last path part)."""
    out = []
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            name, value = Path(spec.rstrip("/")).name, spec
        if not name or not value:
            raise ConfigError(f"{what} {spec!r}", "expected NAME=PATH", f"e.g. {what} real=/data/spk/real")
        out.append((name, value))
    names = [n for n, _ in out]
    if len(set(names)) < len(names):
        raise ConfigError(what, f"a name is given twice: {names}", "name every entry differently")
    return out


def speechdl_scorers(spk: Any) -> dict[str, Scorer]:
    """Back-ends of a :class:`~speechdl.tasks.speaker.infer.SpeakerModel`: every one of ``spk.backends``
    (``cosine``, and ``plda`` when the bundle has it) through ``spk.score(a, b, backend=..., norm="none")``,
    and again with the bundle's score normalisation (AS-norm against its cohort) when it has one."""

    def scorer(backend: str, norm: str) -> Scorer:
        return lambda x, y: spk.score(x, y, backend=backend, norm=norm)

    out: dict[str, Scorer] = {}
    for b in spk.backends:
        out[b] = scorer(b, "none")
        if spk.norm != "none":
            out[f"{b} + {spk.norm}"] = scorer(b, spk.norm)
    return out


def speechdl_system(name: str, bundle: str, batch_size: int) -> System:
    """One speechdl speaker bundle: ``embed_waves(waves, batch_size)`` and every back-end it holds."""
    from speechdl.pretrained import resolve_bundle
    from speechdl.tasks.speaker.infer import SpeakerModel

    path = resolve_bundle(bundle)
    spk = SpeakerModel.from_bundle(path)
    if spk.cfg.sample_rate != SR:
        raise ConfigError(bundle, f"model rate is {spk.cfg.sample_rate} Hz", f"the benchmark feeds {SR} Hz audio")

    def embed(waves: list[np.ndarray]) -> np.ndarray:
        return spk.embed_waves(waves, batch_size=batch_size)

    model = (spk.meta.get("model") or {})
    encoder = ((model.get("kwargs") or {}).get("encoder") or {}).get("name")
    info = {"bundle": str(path), "model": model.get("name"), "encoder": encoder, "dim": spk.dim,
            "params": sum(p.numel() for p in spk.model.parameters()), "batch_size": batch_size}
    return System(name, embed, speechdl_scorers(spk), timed={name: embed}, info=info)


def resemblyzer_system(batch_size: int) -> System:
    """Resemblyzer (:class:`speechdl.tasks.speaker.baselines.Resemblyzer`): its preprocessing, partials of
    ``batch_size`` utterances per forward pass; cosine scores. Throughput also times ``embed_utterance``
    one utterance at a time."""
    from speechdl.tasks.speaker.backends import cosine_scores
    from speechdl.tasks.speaker.baselines import Resemblyzer

    enc = Resemblyzer()

    def embed(waves: list[np.ndarray]) -> np.ndarray:
        return enc.embed_waves(waves, SR, batch_size)

    timed = {"resemblyzer": embed, "resemblyzer (one by one)": lambda waves: enc.embed_one_by_one(waves, SR)}
    return System("resemblyzer", embed, {"cosine": cosine_scores}, speechdl=False, timed=timed,
                  info={**enc.info(), "batch_size": batch_size, "preprocess": "preprocess_wav(wave, source_sr=16000)"},
                  preprocess=lambda waves: [enc.preprocess(w, SR) for w in waves])


def have_resemblyzer() -> bool:
    """Whether ``resemblyzer`` imports (its deprecation warnings silenced)."""
    from speechdl.tasks.speaker.baselines import resemblyzer_version

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resemblyzer_version() is not None


# ---------------------------------------------------------------- one set
@dataclass
class TrialSet:
    """A set's trials, ready to score: distinct files, their waves, and each trial's file indices."""

    name: str
    path: str
    speakers: int
    files: list[str]
    waves: list[np.ndarray]
    enroll: np.ndarray
    test: np.ndarray
    target: np.ndarray
    test_waves: list[np.ndarray] | None = None   # a test-side condition: the test files as heard

    @property
    def seconds(self) -> float:
        """Seconds of audio of the distinct files."""
        return sum(len(w) for w in self.waves) / SR


def load_set(name: str, path: str, args: argparse.Namespace) -> TrialSet:
    """Trials of a manifest directory and the 16 kHz audio of their files (read once)."""
    from speechdl import audio
    from speechdl.tasks.speaker.data import read_speaker_utterances
    from speechdl.tasks.speaker.trials import make_trials, trial_files

    rows = read_speaker_utterances(path)
    aliases = dict(_pairs(args.alias, "--alias")) if args.alias else None
    trials = make_trials(rows, args.max_per_speaker, args.nontargets_per_target, seed=args.seed, aliases=aliases)
    files = trial_files(trials)
    index = {f: i for i, f in enumerate(files)}
    waves = [audio.load(f, sample_rate=SR)[0] for f in progress(files, desc=f"reading {name}", unit="file")]
    speakers = {(aliases or {}).get(r["speaker"], r["speaker"]) for r in rows}
    return TrialSet(name, str(path), len(speakers), [str(f) for f in files], waves,
                    np.array([index[t.enroll] for t in trials]), np.array([index[t.test] for t in trials]),
                    np.array([t.target for t in trials]))


def embed_all(system: System, waves: list[np.ndarray], chunk: int, desc: str) -> tuple[np.ndarray, float]:
    """Embeddings ``(N, D)`` of ``waves`` (in chunks of similar length, with a progress bar) and the seconds taken."""
    order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
    out: np.ndarray | None = None
    bar = progress(None, total=len(waves), desc=desc, unit="utt")
    t0 = time.perf_counter()
    for k in range(0, len(order), chunk):
        idx = order[k:k + chunk]
        emb = np.asarray(system.embed([waves[i] for i in idx]), dtype=np.float32)
        if out is None:
            out = np.zeros((len(waves), emb.shape[1]), np.float32)
        out[idx] = emb
        bar.update(len(idx))
    bar.close()
    return out if out is not None else np.zeros((0, 0), np.float32), time.perf_counter() - t0


def score_set(systems: list[System], data: TrialSet, chunk: int) -> dict[str, dict[str, Any]]:
    """Metrics of every system and back-end on one set: ``{row: {eer, min_dcf_0.01, ...}}``."""
    from speechdl.metrics.verification import verification_metrics

    rows: dict[str, dict[str, Any]] = {}
    for s in systems:
        emb, seconds = embed_all(s, data.waves, chunk, f"{data.name}: {s.name}")
        test_emb = emb if data.test_waves is None else embed_all(s, data.test_waves, chunk, f"{data.name}: {s.name}")[0]
        for backend, score in s.scorers.items():
            scores = np.asarray(score(emb[data.enroll], test_emb[data.test]), dtype=np.float64).reshape(-1)
            bad = int((~np.isfinite(scores)).sum())
            m = verification_metrics(np.nan_to_num(scores, nan=-1e9, neginf=-1e9, posinf=1e9), data.target)
            rows[f"{s.name} {backend}"] = {**m, "system": s.name, "backend": backend, "speechdl": s.speechdl,
                                           "embed_seconds": seconds, "non_finite_scores": bad}
    return rows


# ---------------------------------------------------------------- throughput
def spread(n: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (all when ``k >= n``)."""
    return list(range(n)) if k >= n else sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})


def throughput(systems: list[System], data: TrialSet, n: int, repeat: int) -> dict[str, Any]:
    """Embeddings per second and x real time of every timed variant on ``n`` utterances of ``data`` (in memory)."""
    idx = spread(len(data.waves), n)
    waves = [data.waves[i] for i in idx]
    seconds = sum(len(w) for w in waves) / SR
    shortest = waves[int(np.argmin([len(w) for w in waves]))]
    out: dict[str, Any] = {"set": data.name, "utterances": len(waves), "audio_seconds": seconds, "systems": {}}
    for s in systems:
        for name, fn in s.timed.items():
            fn([shortest, shortest])                               # warm-up, untimed
            wall = cpu = float("inf")
            for _ in range(max(1, repeat)):
                t0, c0 = time.perf_counter(), time.process_time()
                fn(waves)
                wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
            r = {"speechdl": s.speechdl, "wall_seconds": wall, "cpu_seconds": cpu,
                 "embeddings_per_second": len(waves) / wall, "x_real_time": seconds / wall}
            if s.preprocess is not None and name == s.name:        # Resemblyzer: its preprocessing's share
                t0 = time.perf_counter()
                s.preprocess(waves)
                r["preprocess_seconds"] = time.perf_counter() - t0
            out["systems"][name] = r
    return out


# ---------------------------------------------------------------- the run
def goals(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals (None: not measurable in this run): EER below Resemblyzer's on the real sets (best
    speechdl row), and the best speechdl throughput at least 2x Resemblyzer's batched one."""
    eer: dict[str, bool | None] = {}
    for name, s in report["sets"].items():
        if not name.startswith("real") or "/" in name:
            continue
        ours = [r["eer"] for r in s["systems"].values() if r["speechdl"]]
        theirs = [r["eer"] for r in s["systems"].values() if r["system"] == "resemblyzer"]
        eer[name] = None if not ours or not theirs else min(ours) < theirs[0]
    speed = None
    t = report.get("throughput")
    if t:
        ours = [r["embeddings_per_second"] for r in t["systems"].values() if r["speechdl"]]
        ref = t["systems"].get("resemblyzer")
        speed = None if not ours or ref is None else max(ours) >= GOAL_SPEEDUP * ref["embeddings_per_second"]
    return {"eer_below_resemblyzer": eer, f"throughput_{GOAL_SPEEDUP:g}x_resemblyzer": speed}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``) and core count."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def versions() -> dict[str, str | None]:
    """speechdl, resemblyzer and torch versions (None: not installed)."""
    import torch

    import speechdl
    from speechdl.tasks.speaker.baselines import resemblyzer_version

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = resemblyzer_version()
    return {"speechdl": getattr(speechdl, "__version__", None), "resemblyzer": res, "torch": torch.__version__}


def run(args: argparse.Namespace, notes: list[str] | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the report. Torch runs on ``args.threads`` threads meanwhile (the caller's
    count is restored). ``notes`` collects the one-line notes (skipped sets, Resemblyzer missing)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, notes if notes is not None else [])
    finally:
        torch.set_num_threads(before)


def _note(notes: list[str], text: str) -> None:
    notes.append(text)
    print(text, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    systems = [speechdl_system(name, bundle, args.batch_size) for name, bundle in _pairs(args.models, "--models")]
    if not args.no_resemblyzer:
        if have_resemblyzer():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")           # scipy.ndimage.morphology, torch.load defaults
                systems.append(resemblyzer_system(args.batch_size))
        else:
            _note(notes, f"{PROG}: resemblyzer is not installed: its rows are left out (install: "
                         "pip install --no-deps resemblyzer, see benchmarks/README.md)")
    if not systems:
        raise ConfigError("systems", "nothing to benchmark: no speechdl bundle and no Resemblyzer",
                          "pass --models NAME=BUNDLE or install resemblyzer")
    sets: list[TrialSet] = []
    for name, path in _pairs(args.sets, "--sets"):
        if not (Path(path) / "supervisions.jsonl.gz").is_file():
            _note(notes, f"{PROG}: set {name} not found: {path} (see recipes/speaker/DATA.md): skipped")
            continue
        sets.append(load_set(name, path, args))
    if not sets:
        raise ConfigError("--sets", "none of the sets exists", "build them (recipes/speaker/DATA.md) or pass --sets")
    if args.conditions:
        from speaker_conditions import apply_condition, conditions

        base = sets[0]
        for cname, fn in conditions(args.conditions, notes).items():
            sets.append(TrialSet(f"{base.name}/{cname}", base.path, base.speakers, base.files, base.waves,
                                 base.enroll, base.test, base.target, apply_condition(fn, base.waves, args.seed)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {d.name: {"path": d.path, "speakers": d.speakers, "utterances": len(d.files),
                            "audio_seconds": d.seconds, "targets": int(d.target.sum()),
                            "nontargets": int((~d.target).sum()), "systems": score_set(systems, d, 4 * args.batch_size)}
                   for d in sets}
        speed = throughput(systems, sets[0], args.throughput_utts, args.repeat) if args.throughput_utts else None
    report = {
        "versions": versions(), "sets": results, "throughput": speed,
        "systems": {s.name: {"speechdl": s.speechdl, "backends": list(s.scorers),
                             **s.info} for s in systems},
        "config": {"sets": args.sets, "models": args.models, "max_per_speaker": args.max_per_speaker,
                   "nontargets_per_target": args.nontargets_per_target, "seed": args.seed, "aliases": args.alias,
                   "threads": args.threads, "batch_size": args.batch_size, "throughput_utts": args.throughput_utts,
                   "repeat": args.repeat, "quick": args.quick},
        "machine": {"python": platform.python_version(), "cpu": cpu_name(), "load_average_before": load0,
                    "load_average_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "notes": list(notes),
    }
    report["goals"] = goals(report)
    return report


# ---------------------------------------------------------------- output
def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A markdown pipe table of ``rows`` (dicts sharing keys)."""
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _yes(v: bool | None) -> str:
    return "-" if v is None else ("met" if v else "NOT met")


def tables(report: dict[str, Any], fmt: str = "text") -> str:
    """The header line, one table per set, the throughput table and the goals, as text or markdown."""
    table = markdown_table if fmt == "md" else format_table
    v, c = report["versions"], report["config"]
    out = [f"speechdl {v['speechdl']}, resemblyzer {v['resemblyzer'] or 'not installed'}, torch {v['torch']}; "
           f"{c['threads']} threads; CPU {report['machine']['cpu']}"]
    for name, s in report["sets"].items():
        rows = [{"system": n, "EER %": f"{100 * r['eer']:.2f}", "minDCF 0.01": f"{r['min_dcf_0.01']:.4f}",
                 "minDCF 0.05": f"{r['min_dcf_0.05']:.4f}", "targets": f"{r['targets']:,}",
                 "non-targets": f"{r['nontargets']:,}"} for n, r in s["systems"].items()]
        out.append(f"{name}: {s['speakers']} speakers, {s['utterances']} utterances "
                   f"({s['audio_seconds'] / 60:.1f} min), {s['targets']:,} target / {s['nontargets']:,} "
                   "non-target trials\n" + table(rows))
    t = report.get("throughput")
    if t:
        rows = [{"system": n, "embeddings/s": f"{r['embeddings_per_second']:,.1f}", "x RT": f"{r['x_real_time']:,.1f}",
                 "wall s": f"{r['wall_seconds']:.2f}", "CPU s": f"{r['cpu_seconds']:.2f}"}
                for n, r in t["systems"].items()]
        passes = f", fastest of {c['repeat']} passes" if c["repeat"] > 1 else ""
        out.append(f"throughput: {t['utterances']} utterances of {t['set']} ({t['audio_seconds'] / 60:.1f} min), audio "
                   f"in memory (file decoding excluded), batches of {c['batch_size']}, {c['threads']} threads{passes}\n"
                   + table(rows))
    g = report["goals"]
    lines = [f"  EER below Resemblyzer on {n}: {_yes(x)}" for n, x in g["eer_below_resemblyzer"].items()]
    lines.append(f"  embeddings/s >= {GOAL_SPEEDUP:g}x Resemblyzer batched: "
                 f"{_yes(g[f'throughput_{GOAL_SPEEDUP:g}x_resemblyzer'])}")
    out.append("goals (best speechdl row):\n" + "\n".join(lines))
    return "\n\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    from speechdl.pretrained import shipped_bundles

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS), metavar="NAME=DIR",
                   help="manifest dirs of speaker-labelled whole-file utterances; absent ones are skipped "
                        "(default: %(default)s)")
    p.add_argument("--models", nargs="*", default=["speaker=speaker"] if "speaker" in shipped_bundles() else [],
                   metavar="NAME=BUNDLE",
                   help="speechdl speaker bundles (default: the shipped 'speaker' bundle if any)")
    p.add_argument("--no-resemblyzer", action="store_true", help="leave Resemblyzer out")
    p.add_argument("--max-per-speaker", type=int, default=20, metavar="N", help="utterances per speaker (default 20)")
    p.add_argument("--nontargets-per-target", type=float, default=4.0, metavar="R",
                   help="non-target trials per target trial (default 4)")
    p.add_argument("--alias", nargs="*", default=[], metavar="LABEL=SAME",
                   help="speaker labels that are the same person as another label")
    p.add_argument("--conditions", nargs="*", default=["short", "noisy", "phone", "far", "whisper_sim"],
                   metavar="NAME", help="test-side conditions on the first set (benchmarks/speaker_conditions.py; "
                                        "default: short noisy phone far whisper_sim; none: --conditions)")
    p.add_argument("--seed", type=int, default=0, help="trial draws (default 0)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--batch-size", type=int, default=32, help="utterances per batch, both systems (default 32)")
    p.add_argument("--throughput-utts", type=int, default=200, metavar="N",
                   help="utterances of the first set timed for throughput (default 200; 0: no throughput)")
    p.add_argument("--repeat", type=int, default=1, help="timing passes; the fastest counts (default 1)")
    p.add_argument("--quick", action="store_true", help="smoke test: 5 utterances per speaker, 20 timed")
    p.add_argument("--format", choices=["text", "md", "json"], default="text", help="text tables, markdown or JSON")
    p.add_argument("--out", default=None, help="write the JSON report here")
    args = p.parse_args(argv)
    if args.quick:
        args.max_per_speaker = min(args.max_per_speaker, 5)
        args.throughput_utts = min(args.throughput_utts, 20)
    return args


def check_inputs(args: argparse.Namespace) -> str | None:
    """A one-line message for the first bad option, or None."""
    if args.max_per_speaker < 2:
        return f"{PROG}: --max-per-speaker must be at least 2"
    if min(args.threads, args.batch_size, args.repeat) < 1:
        return f"{PROG}: --threads, --batch-size and --repeat must be >= 1"
    if args.throughput_utts < 0 or args.nontargets_per_target <= 0:
        return f"{PROG}: --throughput-utts must be >= 0 and --nontargets-per-target > 0"
    from speaker_conditions import NAMES

    unknown = [c for c in args.conditions if c not in NAMES]
    if unknown:
        return f"{PROG}: --conditions: unknown condition {unknown[0]!r} (use some of: {', '.join(NAMES)})"
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    bad = check_inputs(args)
    if bad:
        print(bad, file=sys.stderr)
        return 2
    notes: list[str] = []
    t0 = time.perf_counter()
    try:
        report = run(args, notes)
    except SpeechdlError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    report["seconds"] = time.perf_counter() - t0
    text = tables(report, args.format) + f"\n\n(total {report['seconds']:.0f} s)"
    write_report(report, "json" if args.format == "json" else "text", text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
