"""Enhancement training run -> bundle: the shared export (:mod:`speechdl.pretrained.export`) with the
enhancer's framing as the bundle's front-end record and the held-out split in its data summary.

Example:
    >>> frontend_of({"model": {"n_fft": 320, "sample_rate": 16000}})["hop_length"]
    160
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from speechdl.pretrained.export import load_run, save_run_bundle
from speechdl.tasks.enhance import splits


def frontend_of(cfg: dict[str, Any]) -> dict[str, Any]:
    """The STFT the network holds (for the record: the network computes it itself)."""
    m = cfg.get("model") or {}
    n_fft = int(m.get("n_fft", 320))
    return {"sample_rate": int(m.get("sample_rate", splits.SAMPLE_RATE)), "n_fft": n_fft, "win_length": n_fft,
            "hop_length": n_fft // 2, "window": "sqrt_hann", "kind": "stft_mask"}


CARD = """## What it does
Removes noise from speech: mono audio at 16 kHz in, the same length out (any input format and rate is
converted first). {what}

{data}## Metrics
{metrics}

Validation: fixed mixes of the training families' held-out recordings (one in 20), 4 s each
(`speechdl enhance eval`). The held-out test families, per SNR and per noise family, against
noisereduce, Wiener, RNNoise and DeepFilterNet3: `benchmarks/enhance.py` and `recipes/enhance/BENCH.md`.

## Limits
- Band gains and the noisy phase: noise between the harmonics of a voice and at 0 dB SNR or below is
  reduced, not removed; some muffling of weak consonants at low SNR.
- Music and babble are speech-like and the hardest (music is a held-out family); reverberation is kept.
- No 8 kHz telephone speech in training: expect little gain on telephone-band input.
"""


DATA_FIRST = """## Training data (mixed on the fly; nothing of it is in the bundle)
- Clean speech, wideband (>= 16 kHz native): from `real_dev` (Debian packages) Fish Fillets NG Dutch dub
  (GPL-2), KLettres and KTuberling (GPL-2+), Tux Paint English descriptions (GPL-2), Hedgewars voice
  packs (GFDL-1.3), ALSA speaker-test announcements (GPL-2); plus clean synthetic English voices made
  here with espeak-ng, Flite, Festival and Piper (`data/asr/synth_voices`). 2,760 clips, 145 min.
- Noise: the VAD noise bank (sounds of Debian game and theme packages, licences per package in
  `data/noise_bank/licenses/`: GPL-2+, CC-BY-SA-3.0, CC-BY-3.0, CC0, ...), `real_dev` ambience,
  espeak-ng babble and synthetic generators, at -5..20 dB SNR; 20 % of the speech reverberated
  (synthetic rooms, RT60 0.2-0.8 s); random level.
- **Held out of training and validation** (the benchmark's test set): speech source `megaglest-data`
  (31 voice sets of unseen people) and the noise family `music`.

"""

# the data of recipes/enhance/gru_robust*.yaml (cache built with --narrow-every 3 --synth-per-engine 300 --all-tuxpaint)
DATA_ROBUST = """## Training data (mixed on the fly; nothing of it is in the bundle)
- Clean speech from `real_dev` (Debian packages), wideband: Fish Fillets NG Dutch dub (GPL-2), Tux Paint
  descriptions in 12 languages by 13 recordists (GPL-2; the non-English part via `real_dev`'s `fetch.sh`),
  KLettres and KTuberling (GPL-2+), Hedgewars voice packs (GFDL-1.3), ALSA announcements (GPL-2); and
  band-limited (11 kHz) studio game dialogue, every third clip: Flight of the Amazon Queen and Beneath a
  Steel Sky (freeware game licences: redistribution of the game with its readme; the clips are used for
  training only and nothing of them is in the bundle). Plus clean synthetic English voices made here with
  espeak-ng, Flite, Festival and Piper (`data/asr/synth_voices`, 2 h). 12,251 clips, 457 min.
- Noise: the train half of the VAD noise bank's files (sounds of Debian game and theme packages, licences
  per package in `data/noise_bank/licenses/`: GPL-2+, CC-BY-SA-3.0, CC-BY-3.0, CC0, ...), `real_dev`
  ambience, espeak-ng babble and synthetic generators, at -5..35 dB SNR; 10 % of the items with no noise
  (the target is the input); 20 % of the speech reverberated (synthetic rooms, RT60 0.2-0.8 s); random
  level.
- **Held out of training and validation** (the benchmark's test set): speech source `megaglest-data`
  (31 voice sets of unseen people) and the noise family `music`; validation noise comes from the bank's
  eval half only.

"""


def model_card(what: str, metrics: str, data: str = DATA_FIRST) -> str:
    """The bundle's model card text (data, licences, metrics, limits)."""
    return CARD.format(what=what, metrics=metrics, data=data)


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, metrics: dict[str, Any] | None = None,
               card: str = "", half: bool = False) -> Path:
    """Bundle the best checkpoint of an ``enhance`` training run (resolved ``config.yaml`` + checkpoint)."""
    run = load_run(run_dir, ("enhance", "enhance_metricgan"))
    held = {"held_out_speech": list(splits.HELD_OUT_SPEECH), "held_out_noise": list(splits.HELD_OUT_NOISE)}
    return save_run_bundle(run, out, task="enhance", frontend=frontend_of(run.config),
                           command=f"speechdl enhance export {run.path} --bundle {out}", metrics=metrics,
                           extra={"splits": held}, half=half,
                           card=card or f"Recipe:\n```yaml\n{json.dumps(run.config, indent=1)}\n```")


def metrics_lines(report: dict[str, Any]) -> str:
    """Markdown lines of a :func:`~speechdl.tasks.enhance.evaluate.evaluate` report."""
    p = report["pooled"]
    lo, hi = (report.get("mix") or {}).get("snr_range") or splits.SNR_RANGE
    lines = [f"- validation ({report['items']} mixes of {report['seconds_each']} s, {lo:g}..{hi:g} dB): "
             f"PESQ-WB {p['pesq_noisy']} -> {p['pesq']}, ESTOI {p['estoi_noisy']} -> {p['estoi']}, "
             f"SI-SDR improvement {p['si_sdri']} dB; {report['x_real_time_1_thread']}x real time on 1 thread"]
    for band, b in report["by_snr"].items():
        lines.append(f"  - {band}: PESQ {b['pesq_noisy']} -> {b['pesq']}, ESTOI {b['estoi_noisy']} -> {b['estoi']}, "
                     f"SI-SDRi {b['si_sdri']} dB")
    return "\n".join(lines)


def ship(bundle: str | os.PathLike, out: str | os.PathLike, report: dict[str, Any], what: str,
         data: str = DATA_FIRST, extra_metrics: str = "") -> Path:
    """Re-save ``bundle`` as ``out`` with the validation ``report`` in its metrics and the full model card
    (``data``: its training-data section; ``extra_metrics``: more markdown lines under the metrics)."""
    from speechdl.pretrained.bundle import load_bundle, save_bundle

    b = load_bundle(bundle)
    known = {"format_version", "task", "model", "frontend", "thresholds", "post", "metrics", "data", "weights",
             "reproduce", "created"}
    p = report["pooled"]
    val = {f"val_{k}": p[k] for k in ("pesq_noisy", "pesq", "estoi_noisy", "estoi", "si_sdri")}
    return save_bundle(out, task="enhance", model=b.meta["model"], state_dict=b.state_dict, frontend=b.meta["frontend"],
                       metrics={**b.meta.get("metrics", {}), **val,
                                "x_real_time_1_thread": report["x_real_time_1_thread"]},
                       data=b.meta.get("data"), reproduce=b.meta.get("reproduce"),
                       extra={k: v for k, v in b.meta.items() if k not in known},
                       card=model_card(what, metrics_lines(report) + extra_metrics, data))
