"""The VAD's honest protocol: leave one speech-source family and one noise family out per fold.

Real speech comes in **source families** (one part folder each, built by ``speechdl data mix``, see
``recipes/vad/DATA.md``); noise comes in **families** (:data:`~speechdl.data.augment.TEST_FAMILIES`).
Fold ``k`` holds out speech family ``FOLDS[k][0]`` and noise family ``FOLDS[k][1]``: its model trains
and is selected (early stopping, threshold) on the other families only; its test audio is the held-out
speech, clean and mixed with the held-out noise at each of :data:`TEST_SNRS`, plus noise-only audio of
the held-out family (false alarms). Synthetic speech (``synth``) and the ``stationary`` / ``babble``
noises are in every fold's training and never tested on. The shipped model is the same recipe on all
families (:func:`fold_recipe` with ``fold=None``); its honest figures are the folds'.

Example:
    >>> [f"{s}+{n}" for s, n in FOLDS][:2]
    ['fotaq+animals', 'fillets+vehicles']
    >>> r = fold_recipe({"data": {"name": "vad_frames"}}, 0, parts="/parts")
    >>> "/parts/fotaq" in r["data"]["manifests"], "animals" in r["data"]["augment"]["families"]
    (False, False)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from speechdl.data.augment import DEFAULT_FAMILIES, AugmentConfig, augment_wave
from speechdl.errors import ConfigError

# speech family -> the real_dev sources in its part (built with `speechdl data mix --select source=...`)
SPEECH_FAMILIES: dict[str, tuple[str, ...]] = {
    "fotaq": ("flight-of-the-amazon-queen",),                                   # English game dialogue, MP3
    "fillets": ("fillets-ng-data-nl",),                                          # Dutch dub, 22 kHz Vorbis
    "drascula": ("drascula",),                                                   # English, 8-bit 11 kHz
    "ivr": ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-es-wav", "asterisk-core-sounds-fr-wav",
            "asterisk-core-sounds-it-wav", "asterisk-core-sounds-ru-wav", "asterisk-prompt-it-menardi-wav",
            "asterisk-prompt-fr-armelle", "asterisk-prompt-es-co", "saytime"),   # 8 kHz telephone prompts
    "voices": ("hedgewars-data", "warzone2100-data", "megaglest-data", "tuxpaint-stamps-default",
               "ktuberling-data", "klettres-data", "alsa-utils"),               # short words, shouts
}
TRAIN_ONLY_SPEECH = ("synth", "synth_piper")   # espeak-ng / Piper: always trained on, never a test family
FOLDS: tuple[tuple[str, str], ...] = (
    ("fotaq", "animals"), ("fillets", "vehicles"), ("drascula", "music"), ("ivr", "weather"), ("voices", "clicks"))
TEST_SNRS = (-5.0, 0.0, 5.0, 10.0, 20.0)
TEST_LEVEL_DB = (-26.0, -6.0)


def fold_name(fold: int | None) -> str:
    """``"fold0-fotaq+animals"`` ... or ``"all"`` (the shipped model)."""
    if fold is None:
        return "all"
    s, n = FOLDS[fold]
    return f"fold{fold}-{s}+{n}"


def train_parts(fold: int | None, parts: str | Path) -> list[str]:
    """Part folders a fold trains (and selects models) on: every family but the held-out one, and synth."""
    held = None if fold is None else FOLDS[fold][0]
    return [str(Path(parts) / f) for f in (*SPEECH_FAMILIES, *TRAIN_ONLY_SPEECH) if f != held]


def fold_recipe(base: dict[str, Any], fold: int | None, parts: str | Path = "${SPEECHDL_WORK}/vad_lofo/parts",
                out_root: str = "runs/vad_lofo") -> dict[str, Any]:
    """The recipe ``base`` restricted to fold ``fold`` (``None``: all families).

    Training and validation read the same part folders, split by recording id (``split`` train/dev);
    the validation conditions are fixed per item; the held-out noise family is removed from both.
    The base recipe's ``data.manifests`` (part folder names under ``parts``, never a test family) are extra
    train-only speech added to every fold.
    """
    r = copy.deepcopy(base)
    data = r.setdefault("data", {})
    aug = dict(data.get("augment") or {})
    held_noise = () if fold is None else (FOLDS[fold][1],)
    aug["families"] = [f for f in aug.get("families", DEFAULT_FAMILIES) if f not in held_noise]
    from speechdl.tasks.vad.data import _paths

    extra = _paths(data.get("manifests") or [])
    for name in extra:
        if name in SPEECH_FAMILIES or name in TRAIN_ONLY_SPEECH:
            raise ConfigError("data.manifests", f"{name!r} is a test family or already in every fold",
                              "name only extra train-only part folders (e.g. bass, synth_engines)")
    train = train_parts(fold, parts) + [str(Path(parts) / name) for name in extra]
    data.update(manifests=train, val_manifests=list(train), split="train",
                val_split="dev", augment=aug, val_augment=dict(aug, **(data.get("val_augment") or {})))
    data["val_augment"]["families"] = aug["families"]
    name = Path(str(r.get("out_dir", "vad"))).name
    r["out_dir"] = f"{out_root}/{name}/{fold_name(fold)}"
    return r


def fold_conditions() -> list[str]:
    """``["clean", "-5", "0", "5", "10", "20", "noise"]``: the per-fold test conditions."""
    return ["clean", *[f"{s:g}" for s in TEST_SNRS], "noise"]


def fold_test_items(fold: int, condition: str, parts: str | Path, noise_dirs: tuple[str, ...] = (),
                    max_recordings: int | None = None, noise_items: int = 24, noise_seconds: float = 10.0,
                    seed: int = 1234) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(id, wave_16k (N,), labels (1 + N // 160,))`` of fold ``fold``'s test audio under ``condition``.

    ``"clean"``: the held-out family's recordings as they are; ``"<snr>"``: each mixed with noise of the
    held-out noise family at that SNR (fixed per recording and condition); ``"noise"``: ``noise_items``
    clips of ``noise_seconds`` of the held-out noise family alone (labels all 0).
    """
    from speechdl.data.synth.mixer import interval_mask
    from speechdl.tasks.vad.data import read_recordings
    from speechdl.tasks.vad.evaluate import SR

    speech_family, noise_family = FOLDS[fold]
    cfg = AugmentConfig(families=(noise_family,), p_noise=1.0, p_noise_only=0.0, p_reverb=0.0, p_channel=0.0,
                        level_db=TEST_LEVEL_DB, noise_dirs=tuple(noise_dirs))
    if condition == "noise":
        only = AugmentConfig(**{**cfg.__dict__, "p_noise_only": 1.0})
        n = int(noise_seconds * SR)
        for i in range(noise_items):
            rng = np.random.default_rng([seed, fold, 99, i])
            wave, _ = augment_wave(np.zeros(n, np.float32), np.zeros(n, bool), SR, rng, only)
            yield f"{noise_family}-noise-{i}", wave, np.zeros(1 + n // 160, np.float32)
        return
    snr = None if condition == "clean" else float(condition)
    mixed = AugmentConfig(**{**cfg.__dict__, "snr_range": (snr or 0.0, snr or 0.0)})
    for i, rec in enumerate(read_recordings(Path(parts) / speech_family)[:max_recordings]):
        wave, labels = _clean(rec)
        if snr is not None:
            rng = np.random.default_rng([seed, fold, int(round(snr * 10)) + 1000, i])
            wave, _ = augment_wave(wave, interval_mask(rec["speech"], wave.size, SR), SR, rng, mixed)
        yield rec["id"], wave, labels


def fold_dev_items(fold: int | None, parts: str | Path, augment: dict[str, Any] | AugmentConfig,
                   dev_every: int = 10, max_recordings: int | None = None,
                   seed: int = 4321) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(id, wave_16k, labels)`` of fold ``fold``'s dev audio: the dev recordings of its training
    families under its training conditions (held-out noise family removed), fixed per recording.

    This is where thresholds are tuned; no test family (speech or noise) reaches it.
    """
    from speechdl.data.synth.mixer import interval_mask
    from speechdl.tasks.vad.data import read_recordings, split_of
    from speechdl.tasks.vad.evaluate import SR

    cfg = augment if isinstance(augment, AugmentConfig) else AugmentConfig.from_dict(augment)
    if fold is not None:
        cfg = cfg.without(FOLDS[fold][1])
    recs = [r for r in read_recordings(train_parts(fold, parts)) if split_of(r["id"], dev_every) == "dev"]
    for count, rec in enumerate(recs[:max_recordings]):
        wave, labels = _clean(rec)
        rng = np.random.default_rng([seed, count])
        wave, info = augment_wave(wave, interval_mask(rec["speech"], wave.size, SR), SR, rng, cfg)
        yield rec["id"], wave, (np.zeros_like(labels) if info["noise_only"] else labels)


def _clean(rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A part recording (``read_recordings`` row) at 16 kHz ``(N,)`` and its labels on the 10 ms grid."""
    from speechdl import audio
    from speechdl.tasks.vad.evaluate import SR, num_frames, reference_labels

    wave, _ = audio.load(rec["path"], sample_rate=SR)
    return wave, reference_labels(rec["speech"], num_frames(wave.size))
