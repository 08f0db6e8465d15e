"""``make demo``: the voice activity detector on the bundled sample, tables and pictures.

Runs the shipped VAD bundle (the same path as ``speechdl vad detect``) on
``speechdl/assets/sample.flac`` (synthetic speech), prints its speech segments and writes
``out/demo_vad.png``; transcribes it with the shipped English ASR bundle (``speechdl asr transcribe``:
Deep Speech 2, beam search with its 3-gram LM); verifies the sample's speaker with the shipped x-vector bundle
(``speechdl speaker verify``: its first half against its second half, and against the second half with a
changed voice); denoises the sample mixed with engine noise at 5 dB SNR with the shipped enhancer
(``speechdl enhance``; ``out/demo_noisy.wav`` and ``out/demo_enhanced.wav`` to listen to); spots the commands
in ``speechdl/assets/commands.flac`` (a voice no training clip has, saying yes, stop, seven, go) with the shipped
keyword spotter (``speechdl kws detect``); then log-Mel and the lecture's MFCC39 with their speed,
``out/demo_features.png``.

Example:
    python -m speechdl.demo --out out
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from speechdl import audio
from speechdl.console import format_table
from speechdl.features import MFCC39, LogMel

SAMPLE = Path(__file__).resolve().parent / "assets" / "sample.flac"
COMMANDS = SAMPLE.parent / "commands.flac"


def run(out_dir: Path) -> list[dict]:
    """Extract features from the sample, return the table rows and write the plot."""
    wave, sr = audio.load(SAMPLE, sample_rate=16000)
    x = torch.from_numpy(wave).unsqueeze(0)
    rows, feats = [], {}
    for name, fe in (("log-Mel 40", LogMel()), ("MFCC39 (13+d+dd)", MFCC39())):
        with torch.no_grad():
            fe(x)
            start = time.perf_counter()
            for _ in range(5):
                y = fe(x)
            dt = (time.perf_counter() - start) / 5
        feats[name] = y[0].numpy()
        rows.append({"features": name, "frames": y.shape[1], "dims": y.shape[2],
                     "x real time": len(wave) / sr / dt})
    _plot(wave, sr, feats, out_dir / "demo_features.png")
    return rows


def _plot(wave, sr, feats, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    t = torch.arange(len(wave)) / sr
    axes[0].plot(t.numpy(), wave, lw=0.4)
    axes[0].set_ylabel("waveform")
    for ax, (name, f) in zip(axes[1:], feats.items()):
        f = (f - f.mean(0)) / (f.std(0) + 1e-8)  # per-dimension contrast, else c0 hides the rest
        ax.imshow(f.T, origin="lower", aspect="auto", extent=(0, len(wave) / sr, 0, f.shape[1]))
        ax.set_ylabel(name)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"speechdl front-end on {SAMPLE.name}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with audio.atomic_write(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def run_vad(out_dir: Path) -> list[dict]:
    """Speech segments of the sample from the shipped VAD bundle; writes ``demo_vad.png``."""
    from speechdl.tasks.vad.cli import detect_file
    from speechdl.tasks.vad.infer import load_vad

    vad = load_vad()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = detect_file(vad, str(SAMPLE), vad.post, plot=str(out_dir / "demo_vad.png"))
    return [{"segment": i + 1, "start (s)": s["start"], "end (s)": s["end"],
             "duration (s)": round(s["end"] - s["start"], 3)} for i, s in enumerate(result["segments"])]


def run_asr() -> list[dict]:
    """Text of the sample from the shipped ASR bundle (its default beam and LM), and the decoding speed."""
    import speechdl

    start = time.perf_counter()
    asr = speechdl.load("asr")
    result = asr.run(SAMPLE).to_dict()   # the first call also reads the LM
    first = time.perf_counter() - start
    start = time.perf_counter()
    asr.run(SAMPLE)
    seconds = time.perf_counter() - start
    speed = (f"({result['duration'] / seconds:.0f}x real time, 1 thread; loading the model and LM took "
             f"{first - seconds:.1f} s)")
    return [{"start (s)": s["start"], "end (s)": s["end"], "text": s["text"]} for s in result["segments"]] + [
        {"start (s)": "", "end (s)": "", "text": speed}]


def run_speaker() -> list[dict]:
    """Speaker verification with the shipped ``speaker`` bundle: the sample's first half against its second
    half (same voice) and against the second half with pitch x1.3 and formants x1.15 (another voice)."""
    from speechdl.data.perturb import change_voice
    from speechdl.tasks.speaker.infer import load_speaker

    spk = load_speaker("speaker")
    wave, sr = audio.load(SAMPLE, sample_rate=spk.cfg.sample_rate)
    half = len(wave) // 2
    first, second = wave[:half], wave[half:]
    other = change_voice(second, sr, pitch_ratio=1.3, formant_ratio=1.15)
    emb = spk.embed_waves([first, second, other])
    rows = []
    for name, j in (("first half vs second half", 1), ("first half vs second half, changed voice", 2)):
        d = spk.decide(float(spk.score(emb[:1], emb[j:j + 1])[0]))
        rows.append({"pair": name, "score": d["score"], "threshold": d["threshold"],
                     "decision": "same speaker" if d["same"] else "different speakers"})
    return rows


def run_enhance(out_dir: Path, snr_db: float = 5.0) -> list[dict]:
    """The sample in generated engine noise at ``snr_db`` dB, denoised by the shipped ``enhance`` bundle:
    SI-SDR and ESTOI against the sample before and after; writes both WAVs to ``out_dir``."""
    import numpy as np

    from speechdl.data.synth.noise import mix_at_snr
    from speechdl.data.synth.noise_families import draw_noise
    from speechdl.metrics.quality import estoi, si_sdr
    from speechdl.tasks.enhance.infer import load_enhancer

    enh = load_enhancer("enhance")
    clean, sr = audio.load(SAMPLE, sample_rate=enh.sample_rate)
    noise, _ = draw_noise(["vehicles"], len(clean), sr, np.random.default_rng(0))
    noisy, _ = mix_at_snr(clean, noise, snr_db)
    start = time.perf_counter()
    out = enh.enhance(noisy)
    speed = len(noisy) / sr / (time.perf_counter() - start)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, wave in ((f"noisy input ({snr_db:g} dB engine noise)", noisy), ("enhanced", out)):
        path = out_dir / ("demo_noisy.wav" if wave is noisy else "demo_enhanced.wav")
        audio.save(path, wave, sr)
        rows.append({"audio": name, "SI-SDR (dB)": round(float(si_sdr(clean, wave)), 1),
                     "ESTOI": round(float(estoi(clean, wave, sr)), 3), "file": str(path)})
    rows[-1]["audio"] += f" ({speed:.0f}x real time, 1 thread)"
    return rows


def run_kws(threshold: float | None = None) -> list[dict]:
    """Keyword events of the shipped ``kws`` bundle in ``commands.flac`` (said: yes, stop, seven, go) at
    ``threshold`` (default the bundle's, 0.85: calibrated on dev-speaker dialogue, about 4 false alarms an hour
    there and 20 on held-out dialogue; recipes/kws/README.md)."""
    import speechdl

    start = time.perf_counter()
    r = speechdl.load("kws").run(str(COMMANDS), threshold=threshold)
    speed = r.duration / (time.perf_counter() - start)
    threshold = r.threshold
    rows = [{"time (s)": e["time"], "keyword": e["keyword"], "score": e["score"]} for e in r.events]
    return rows + [{"time (s)": "", "keyword": f"said: yes, stop, seven, go (threshold {threshold}; "
                                               f"{speed:.0f}x real time)", "score": ""}]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m speechdl.demo``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="folder for the plot")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    print(f"speechdl vad detect {SAMPLE.name} (shipped bundle 'vad')")
    print(format_table(run_vad(out)))
    print(f"plot: {out / 'demo_vad.png'}\n")
    print(f"speechdl asr transcribe {SAMPLE.name} (shipped bundle 'asr', beam search + 3-gram LM)")
    print(format_table(run_asr()) + "\n")
    print("speechdl speaker verify (shipped bundle 'speaker', x-vector, its default back-end)")
    print(format_table(run_speaker()) + "\n")
    print("speechdl enhance (shipped bundle 'enhance', causal band-gain GRU)")
    print(format_table(run_enhance(out)) + "\n")
    print(f"speechdl kws detect {COMMANDS.name} (shipped bundle 'kws', res8 CNN over 1 s windows)")
    print(format_table(run_kws()) + "\n")
    rows = run(out)
    print(f"speechdl front-end on {SAMPLE} (1 thread)")
    print(format_table(rows))
    print(f"plot: {Path(args.out) / 'demo_features.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
