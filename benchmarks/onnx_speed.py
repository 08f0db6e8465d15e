"""ONNX benchmark: onnxruntime vs torch inference speed of every shipped model, same inputs, one run.

For every shipped bundle (``vad``, ``vad-lecture``, ``asr``, ``speaker``; ``--models`` to choose):

* the waveform graph is exported in memory (``speechdl/tasks/<task>/onnx.py``: front-end + network) and
  checked against torch (max |difference| in the table); the export and the session creation are timed,
  i.e. what building the graph at load time would cost;
* on the same clips of ``--seconds`` (the package's speech sample, looped to length; 16 kHz, in memory)
  each path runs ``--repeat`` times after one warm-up and the fastest pass counts:
  - torch: what the task runs today (VAD: ``VAD.probabilities``, blockwise with the state carried and
    numpy for a dense net; ASR: ``Frontend`` + ``model(x, lengths)`` up to the CTC log-probabilities,
    decoding excluded; speaker: ``SpeakerModel.embed_waves``);
  - onnxruntime: the exported graph, one call per clip;
* the front-end alone too (``Frontend`` vs :class:`~speechdl.onnx.frontend.GraphFrontend` in onnxruntime):
  the FFT against the DFT by matrix product;
* both on one thread (``torch.set_num_threads(1)``, ORT ``intra_op_num_threads=1``).

x real time = seconds of audio per second of compute; speedup = torch time / onnxruntime time.

Usage:
    python benchmarks/onnx_speed.py                 # every shipped model, clips of 2 and 10 s
    python benchmarks/onnx_speed.py --models asr --seconds 5 20 --repeat 5
    python benchmarks/onnx_speed.py --format json --out onnx.json

(Not ``benchmarks/onnx.py``: a script run from this folder has it first on ``sys.path``, so a file named
``onnx.py`` here would be imported as the ``onnx`` package by ``torch.onnx`` and by ``benchmarks/vad.py``.)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from speechdl.console import format_table, write_report  # noqa: E402
from speechdl.errors import SpeechdlError  # noqa: E402
from speechdl.onnx.export import check_signal  # noqa: E402
from speechdl.onnx.session import OrtRunner  # noqa: E402

PROG = "benchmarks/onnx_speed.py"
MODELS = ("vad", "vad-lecture", "asr", "speaker")
Fn = Callable[[np.ndarray], Any]
Loaded = tuple[Any, Fn, Callable[[], dict[str, Any]]]  # (front-end config, torch path, export)


def _vad(name: str) -> Loaded:
    from speechdl.tasks.vad.infer import load_vad
    from speechdl.tasks.vad.onnx import export_vad

    vad = load_vad(name)
    return vad.frontend, vad.probabilities, lambda: export_vad(vad, None)


def _asr(name: str) -> Loaded:
    from speechdl.features import Frontend, FrontendConfig
    from speechdl.pretrained import load_model
    from speechdl.tasks.asr.onnx import export_asr

    b, model = load_model(name, "asr")
    cfg = FrontendConfig.from_dict(b.meta["frontend"])
    frontend = Frontend(cfg).eval()

    def torch_path(wave: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = frontend(torch.from_numpy(wave)[None])
            return model(x, torch.tensor([x.shape[1]]))[0].numpy()

    return cfg, torch_path, lambda: export_asr(model, cfg, None)


def _speaker(name: str) -> Loaded:
    from speechdl.tasks.speaker.infer import load_speaker
    from speechdl.tasks.speaker.onnx import export_speaker

    spk = load_speaker(name)
    return spk.cfg, lambda w: spk.embed_waves([w]), lambda: export_speaker(spk.model, spk.cfg, None)


def _frontends(cfg: Any) -> tuple[Fn, Fn]:
    """The torch front-end and its onnxruntime graph, each ``(samples,) -> features``."""
    from speechdl.features import Frontend
    from speechdl.onnx.export import graph_bytes
    from speechdl.onnx.frontend import GraphFrontend

    data = graph_bytes(GraphFrontend(cfg), torch.zeros(1, cfg.sample_rate), ["waveform"], ["features"],
                       {"waveform": {1: "samples"}, "features": {1: "frames"}})
    runner, fe = OrtRunner(data, threads=1), Frontend(cfg).eval()

    def torch_fe(wave: np.ndarray) -> Any:
        with torch.no_grad():
            return fe(torch.from_numpy(wave)[None])

    return torch_fe, lambda w: runner(waveform=w[None])


LOADERS = {"vad": _vad, "asr": _asr, "speaker": _speaker}


def fastest(fn: Callable[[], Any], repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` calls, after one untimed warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_model(name: str, seconds: list[float], repeat: int) -> dict[str, Any]:
    """One model's export facts and one timing row per clip length."""
    from speechdl.api import read_meta

    _, meta = read_meta(name)
    task = meta["task"]
    if task not in LOADERS:
        raise SpeechdlError(name, f"task {task!r} has no ONNX graph here", f"choose among {', '.join(MODELS)}")
    t0 = time.perf_counter()
    cfg, torch_fn, export = LOADERS[task](name)
    t1 = time.perf_counter()
    info = export()
    t2 = time.perf_counter()
    runner = OrtRunner(info["onnx"], threads=1)
    session_s = time.perf_counter() - t2
    fe_torch, fe_ort = _frontends(cfg)
    rows = []
    for part, (f_torch, f_ort) in (("whole", (torch_fn, lambda w: runner(waveform=w[None]))),
                                   ("front-end", (fe_torch, fe_ort))):
        for sec in seconds:
            wave = check_signal(cfg.sample_rate, sec, seed=3)
            t_torch = fastest(lambda w=wave, f=f_torch: f(w), repeat)
            t_ort = fastest(lambda w=wave, f=f_ort: f(w), repeat)
            rows.append({"model": name, "task": task, "part": part, "seconds": sec, "torch_ms": 1e3 * t_torch,
                         "ort_ms": 1e3 * t_ort, "torch_xrt": sec / t_torch, "ort_xrt": sec / t_ort,
                         "speedup": t_torch / t_ort})
    return {"model": name, "task": task, "max_abs_diff": info["max_abs_diff"], "graph_mb": info["bytes"] / 2**20,
            "load_s": t1 - t0, "export_s": t2 - t1, "session_s": session_s, "rows": rows}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole report (JSON-ready)."""
    import onnxruntime

    torch.set_num_threads(1)
    models = [bench_model(m, args.seconds, args.repeat) for m in args.models]
    return {"config": {"threads": 1, "repeat": args.repeat, "seconds": args.seconds, "torch": torch.__version__,
                       "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
                       "cpu": platform.processor() or platform.machine()},
            "models": models}


def tables(report: dict[str, Any]) -> str:
    """Human tables: speed per clip, then the export facts."""
    c = report["config"]
    speed = [{"model": r["model"], "part": r["part"], "clip s": f"{r['seconds']:g}", "torch ms": f"{r['torch_ms']:.1f}",
              "onnxruntime ms": f"{r['ort_ms']:.1f}", "torch xRT": f"{r['torch_xrt']:.0f}",
              "onnxruntime xRT": f"{r['ort_xrt']:.0f}", "speedup": f"{r['speedup']:.2f}x"}
             for m in report["models"] for r in m["rows"]]
    facts = [{"model": m["model"], "max |ort - torch|": f"{m['max_abs_diff']:.1e}", "graph MB": f"{m['graph_mb']:.1f}",
              "torch load s": f"{m['load_s']:.2f}", "export + check s": f"{m['export_s']:.2f}",
              "session s": f"{m['session_s']:.2f}"} for m in report["models"]]
    head = (f"torch {c['torch']} vs onnxruntime {c['onnxruntime']}, 1 thread each, fastest of {c['repeat']} "
            f"passes, {c['cpu']}")
    return "\n\n".join([head, format_table(speed), "what onnxruntime by default would add to loading (export in "
                        "memory, parity-checked, then the session):\n" + format_table(facts)])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), metavar="BUNDLE",
                   help="shipped bundle names or bundle directories (default: %(default)s)")
    p.add_argument("--seconds", nargs="+", type=float, default=[2.0, 10.0], metavar="S",
                   help="clip lengths (default: 2 10)")
    p.add_argument("--repeat", type=int, default=5, help="timed passes per clip; the fastest counts (default 5)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="table or JSON")
    p.add_argument("--out", default=None, help="write the JSON report here too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    if args.repeat < 1 or min(args.seconds) < 0.1:
        print(f"{PROG}: --repeat must be >= 1 and --seconds >= 0.1", file=sys.stderr)
        return 2
    try:
        report = run(args)
    except SpeechdlError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    write_report(report, args.format, tables(report), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
