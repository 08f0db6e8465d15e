"""Custom keywords from a few recordings (issue 19, item 4): miss rate and false alarms against the number of
enrollment recordings, for the two transfer methods of :mod:`speechdl.tasks.kws.custom`, beside
``pymicro-wakeword``'s own models of four of the phrases (one run, the same audio for every system).

Users: talkers no training clip has (the held-out espeak-ng variants, Flite rms, Festival ked). Each user says each
phrase 14 times (speaking rates 130-208 words per minute, pitch ±4): the first ``n`` recordings (1, 3, 5, 10) enroll,
the last 4 are the test positives, each in 1 s of silence before and after, clean and with music at 10 dB (music is
no part of training). Negatives: the same user saying 30 held-out non-keyword words (a false accept is any event of
the phrase), and ``--negative-minutes`` of real_dev dialogue without keywords (false alarms per hour).

Per method and ``n``: miss rate (positives with no event of the phrase) at the enrolled threshold, false accepts on
the user's other words, false alarms per hour on the dialogue; microWakeWord at its own cutoff on the same clips.

Usage:
    python benchmarks/kws_custom.py --model kws            # tables
    python benchmarks/kws_custom.py --users 2 --phrases "hey jarvis" --negative-minutes 1   # quick
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speechdl.console import write_report  # noqa: E402

SR = 16000
PHRASES = ("okay nabu", "hey jarvis", "hey mycroft", "alexa", "hey speech")
COUNTS = (1, 3, 5, 10)


def users(n: int) -> list[Any]:
    from speechdl.data.synth import engines as E
    from speechdl.data.synth import voices as V

    pool = list(V.voice_pool(["en"], 5, per_language=max(1, n - 2), split="eval")["en"])
    pool += [v for v in E.engine_pool(["flite", "festival"], 5, split="eval", per_voice=1)]
    return pool[:n]


def renderings(text: str, voice: Any, count: int = 14) -> list[np.ndarray]:
    from dataclasses import replace

    from speechdl import audio
    from speechdl.data.synth.engines import synthesize
    from speechdl.tasks.kws.synth_words import trim_word

    out = []
    for k in range(count):
        v = replace(voice, rate=130 + 6 * k, pitch=voice.pitch + (k % 3 - 1) * 4 if voice.pitch else 0)
        x, sr = synthesize(text.capitalize() + ".", v)
        out.append(trim_word(audio.resample(x, sr, SR), SR))
    return out


def in_silence(word: np.ndarray, noisy: bool, rng: np.random.Generator) -> np.ndarray:
    from speechdl.data.augment import AugmentConfig, augment_wave

    x = np.concatenate([np.zeros(SR, np.float32), word, np.zeros(SR, np.float32)])
    cfg = AugmentConfig.from_dict({"p_noise": 1.0 if noisy else 0.0, "snr_range": [10.0, 10.0], "p_noise_only": 0.0,
                                   "p_reverb": 0.0, "p_channel": 0.0, "level_db": [-20.0, -6.0], "families": ["music"],
                                   "noise_dirs": [os.path.expandvars("${SPEECHDL_WORK}/noise_bank")]})
    return augment_wave(x, np.abs(x) > 0, SR, rng, cfg)[0]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from kws import negative_stream

    import speechdl
    from speechdl.pretrained.bundle import load_bundle
    from speechdl.tasks.kws import custom as C
    from speechdl.tasks.kws.baselines import MicroWakeWordAnchor
    from speechdl.tasks.kws.vocab import unknown_words

    pipe = speechdl.load(args.model)
    enc = C.Encoder(pipe.model, pipe.cfg)
    neg = np.load(load_bundle(args.model).path / "negatives.npy").astype(np.float32)
    stream = negative_stream(args.negative_minutes, seed=3)
    stream_emb = C.window_embeddings(enc, stream)
    hours = len(stream) / SR / 3600
    others = unknown_words("eval", 30)
    rng = np.random.default_rng(0)
    rows: dict[tuple[str, int], dict[str, list]] = {}
    mww: dict[str, dict[str, list]] = {}
    for phrase in args.phrases:
        anchor = MicroWakeWordAnchor(phrase) if phrase in MicroWakeWordAnchor.PHRASES and args.anchor else None
        for u in users(args.users):
            recs = renderings(phrase, u)
            tests = [in_silence(w, noisy, rng) for w in recs[-4:] for noisy in (False, True)]
            test_emb = [C.window_embeddings(enc, t) for t in tests]
            other_emb = [C.window_embeddings(enc, in_silence(w, False, rng))
                         for w in renderings_words(others, u)]
            for method in ("head", "template"):
                for n in args.counts:
                    kw = C.enroll(phrase, recs[:n], enc, neg, method=method)
                    r = rows.setdefault((method, n), {"miss": [], "false_accept": [], "fa": []})
                    r["miss"] += [not any(e["keyword"] == phrase for e in C.events_of(e_, [kw])) for e_ in test_emb]
                    r["false_accept"] += [bool(C.events_of(e_, [kw])) for e_ in other_emb]
                    r["fa"].append(len(C.events_of(stream_emb, [kw])) / hours)
            if anchor is not None:
                a = mww.setdefault(phrase, {"miss": [], "false_accept": []})
                a["miss"] += [not anchor.detections(t) for t in tests]
                a["false_accept"] += [bool(anchor.detections(in_silence(w, False, rng)))
                                      for w in renderings_words(others[:10], u)]
        if anchor is not None:
            mww[phrase]["fa"] = [len(anchor.detections(stream)) / hours]
        print(f"kws custom: {phrase} done", file=sys.stderr)
    table = [{"system": f"speechdl {m}", "recordings": n, "miss_rate": round(float(np.mean(r["miss"])), 4),
              "false_accept": round(float(np.mean(r["false_accept"])), 4),
              "fa_per_hour": round(float(np.mean(r["fa"])), 2), "positives": len(r["miss"])}
             for (m, n), r in sorted(rows.items())]
    table += [{"system": f"microWakeWord {p}", "recordings": "-", "miss_rate": round(float(np.mean(a["miss"])), 4),
               "false_accept": round(float(np.mean(a["false_accept"])), 4), "fa_per_hour": round(a["fa"][0], 2),
               "positives": len(a["miss"])} for p, a in mww.items()]
    return {"table": table, "negative_hours": round(hours, 4), "users": args.users, "phrases": list(args.phrases)}


def renderings_words(words: list[str], voice: Any) -> list[np.ndarray]:
    from speechdl import audio
    from speechdl.data.synth.engines import synthesize
    from speechdl.tasks.kws.synth_words import trim_word

    out = []
    for w in words:
        x, sr = synthesize(w, voice)
        out.append(trim_word(audio.resample(x, sr, SR), SR))
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from speechdl.console import format_table

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="kws")
    p.add_argument("--phrases", nargs="+", default=list(PHRASES))
    p.add_argument("--users", type=int, default=6)
    p.add_argument("--counts", type=int, nargs="+", default=list(COUNTS))
    p.add_argument("--negative-minutes", type=float, default=20.0)
    p.add_argument("--no-anchor", dest="anchor", action="store_false")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    report = run(args)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    write_report(report, args.format, format_table(report["table"]) + f"\n(total {report['seconds']:.0f} s)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
