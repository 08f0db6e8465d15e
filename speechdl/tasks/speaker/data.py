"""Speaker training data: utterances with speaker labels -> features of random crops and speaker ids.

* :func:`read_speaker_utterances`: one row per supervision with a speaker (``id``, ``path``, ``offset``,
  ``duration``, ``speaker``) from one or more lhotse manifest directories (``speechdl data import ...``;
  ``import_folder`` takes the speaker from the folder name).
* :class:`SpeakerUtterances` (recipe dataset ``speaker_utts``): items ``{"x": (T, F) float32, "y": ()
  int64 speaker id}``; in training a random crop of ``crop_seconds`` (default 2-4 s) of each utterance,
  optionally augmented with the synthetic-corpus conditions (reverb, noise at an SNR, telephone band:
  :func:`speechdl.data.synth.mixer.apply_conditions`); in validation the whole utterance. Features are
  computed on the fly (default: 80-band log-Mel with per-utterance mean and variance normalisation).
  With ``teacher`` (``data.teacher: resemblyzer``) every item also has ``"t": (D,) float32``, the teacher's
  embedding of the clean whole utterance (``speechdl data teacher-embed``, :mod:`.teacher`), whatever crop and
  augmentation the item got; with ``unlabeled: true`` the manifests' utterances without a speaker come too,
  with ``y = -1`` (they teach through the teacher only).

Example recipe::

    data: {name: speaker_utts, manifests: [/data/spk/train], crop_seconds: [2.0, 4.0],
           augment: {prob: 0.6, p_telephone: 0.2}, val_fraction: 0.05}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl import audio
from speechdl.data.synth.mixer import apply_conditions, parse_augment
from speechdl.errors import ConfigError, DataError
from speechdl.features import Frontend, FrontendConfig
from speechdl.train.datasets import register_dataset

DEFAULT_FRONTEND = {"kind": "logmel", "n_mels": 80, "cmvn": "utterance"}


def frontend_config(frontend: FrontendConfig | dict | None) -> FrontendConfig:
    """The front-end of a recipe's ``data.frontend``: None (80-band log-Mel, utterance CMVN) or a dict."""
    if isinstance(frontend, FrontendConfig):
        return frontend
    if frontend is None:
        return FrontendConfig.from_dict(DEFAULT_FRONTEND)
    if not isinstance(frontend, dict):
        raise ConfigError("data.frontend", f"{frontend!r} is not a front-end", "give a FrontendConfig mapping")
    return FrontendConfig.from_dict(dict(frontend))


def read_speaker_utterances(manifests: str | os.PathLike | Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Rows ``{"id", "path", "offset", "duration", "speaker"}`` of every supervision with a speaker.

    Raises :class:`DataError` when a manifest has none.
    """
    from speechdl.data.manifests import supervision_rows

    paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
    rows = supervision_rows(paths, "speaker", "speaker training needs speaker labels")
    return [{**r, "speaker": str(r["speaker"])} for r in rows]


def _span(value: Sequence[float] | None, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    lo, hi = (float(v) for v in value)
    if not 0 < lo <= hi:
        raise ConfigError(where, f"expected [low, high] seconds with 0 < low <= high, got {list(value)}", "e.g. [2, 4]")
    return lo, hi


class SpeakerUtterances(Dataset):
    """Utterances with speakers -> ``{"x": (T, F) float32 features, "y": () int64 speaker id}``.

    Args:
        rows: :func:`read_speaker_utterances` rows (subclasses may add their own keys and :meth:`wave`).
        frontend: :func:`frontend_config` spec.
        crop_seconds: ``[low, high]``: training items are a random crop of that length (whole utterance
            when shorter); None: whole utterances.
        augment: ``{"prob": p, **Conditions fields}``: with probability ``p`` reverb / noise / telephone.
        speakers: the speaker names in id order (validation sets reuse the training set's); default:
            the sorted names of ``rows``.
        training: crops and augmentation on. seed: their random draws.
        open_set: speakers of ``rows`` that are not in ``speakers`` get the ids after them (validation on
            held-out speakers: the task scores their embeddings but leaves them out of the loss).
        p_whisper: probability that a training crop is whispered (:func:`speechdl.data.styles.whisperize`).
        p_overlap: probability that another training utterance (another speaker, or unlabelled) is added
            under the crop at ``overlap_snr`` dB (a second talker, as in meetings); the targets stay the crop's.
        noise_dir, noise_families: real noise files for the augmentation's ``real`` noise
            (:func:`speechdl.data.synth.noise.load_noise_bank`: a folder with ``manifest.jsonl``, optionally
            only some families, so that others stay held out for evaluation).
    """

    def __init__(self, rows: list[dict[str, Any]], frontend: Any = None, crop_seconds: Sequence[float] | None = None,
                 augment: dict[str, Any] | None = None, speakers: Sequence[str] | None = None,
                 training: bool = True, seed: int = 0, open_set: bool = False, p_whisper: float = 0.0,
                 p_overlap: float = 0.0, overlap_snr: Sequence[float] = (5.0, 20.0), noise_dir: str | None = None,
                 noise_families: Sequence[str] | None = None) -> None:
        if not rows:
            raise DataError("speaker data", "no utterances", "check the manifests")
        self.cfg = frontend_config(frontend)
        self.frontend = Frontend(self.cfg).eval()
        labelled = {r["speaker"] for r in rows if r["speaker"]}
        self.speakers = list(speakers) if speakers is not None else sorted(labelled)
        index = {s: i for i, s in enumerate(self.speakers)}
        index[""] = -1                                     # no speaker label: teacher target only
        unknown = sorted(labelled - set(index))
        if unknown and open_set:
            index.update({s: len(self.speakers) + i for i, s in enumerate(unknown)})
        elif unknown:
            raise DataError("speaker data", f"speaker {unknown[0]!r} is not among the training speakers",
                            "validate on utterances of the training speakers, or set data.val_open_set: true")
        self.rows = [{**r, "label": index[r["speaker"]]} for r in rows]
        self._labels = np.array([r["label"] for r in self.rows], dtype=np.int64)
        self.crop = _span(crop_seconds, "data.crop_seconds")
        self.aug_prob, self.conditions = parse_augment(augment)
        self.training, self.seed, self._draws = training, seed, 0
        for name, value in (("p_whisper", p_whisper), ("p_overlap", p_overlap)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"data.{name}", f"{value} is not a probability", "use a value in [0, 1]")
        self.p_whisper, self.p_overlap = float(p_whisper), float(p_overlap)
        self.overlap_snr = tuple(float(v) for v in overlap_snr)
        self.bank: list[Any] = []
        if noise_dir is not None:
            from speechdl.data.synth.noise import load_noise_bank

            self.bank = load_noise_bank(noise_dir, families=list(noise_families) if noise_families else None)
            if not self.bank:
                raise DataError(noise_dir, "no noise files here (of the families asked for)",
                                "build it with speechdl data noise-bank, or check data.noise_families")

    @property
    def num_speakers(self) -> int:
        """Number of speaker classes."""
        return len(self.speakers)

    @property
    def durations(self) -> list[float]:
        """Seconds per item as it will be fed (crops: at most their upper length), for bucketed batches."""
        hi = self.crop[1] if self.crop and self.training else float("inf")
        return [min(r["duration"], hi) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def wave(self, i: int) -> np.ndarray:
        """Mono float32 audio ``(n,)`` of utterance ``i`` at the front-end's rate."""
        r = self.rows[i]
        return audio.load(r["path"], sample_rate=self.cfg.sample_rate, offset=r["offset"], duration=r["duration"])[0]

    def _train_wave(self, wave: np.ndarray, rng: np.random.Generator, label: int = -1) -> np.ndarray:
        sr = self.cfg.sample_rate
        if self.crop is not None:
            n = int(rng.uniform(*self.crop) * sr)
            if len(wave) > n:
                start = int(rng.integers(0, len(wave) - n + 1))
                wave = wave[start:start + n]
        if self.p_whisper > 0 and rng.random() < self.p_whisper:
            from speechdl.data.styles import whisperize

            wave = whisperize(wave, sr, rng)
        if self.p_overlap > 0 and rng.random() < self.p_overlap:
            wave = self._overlap(wave, rng, label)
        if self.aug_prob > 0 and rng.random() < self.aug_prob:
            wave, _ = apply_conditions(wave, np.ones(len(wave), bool), sr, rng, self.conditions, bank=self.bank)
        return wave

    def _overlap(self, wave: np.ndarray, rng: np.random.Generator, label: int) -> np.ndarray:
        """``wave`` with a stretch of another speaker's utterance (another label, or unlabelled) under it at an
        SNR drawn from ``overlap_snr``."""
        from speechdl.data.synth.noise import mix_at_snr

        others = np.flatnonzero((self._labels != label) | (self._labels < 0))
        if not len(others):
            return wave
        other = self.wave(int(others[rng.integers(len(others))]))
        if len(other) < 160 or not np.any(other):
            return wave
        if len(other) >= len(wave):
            start = int(rng.integers(0, len(other) - len(wave) + 1))
            other = other[start:start + len(wave)]
        else:                                           # a shorter talker: somewhere inside the crop
            at = int(rng.integers(0, len(wave) - len(other) + 1))
            other = np.pad(other, (at, len(wave) - len(other) - at))
        return mix_at_snr(wave, other, float(rng.uniform(*self.overlap_snr)))[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        wave = self.wave(i)
        if self.training:
            rng = np.random.default_rng([self.seed, i, self._draws])
            self._draws += 1
            wave = self._train_wave(wave, rng, self.rows[i]["label"])
        item = {"x": self.frontend.features_of(wave), "y": torch.tensor(self.rows[i]["label"], dtype=torch.long)}
        if "teacher" in self.rows[i]:
            item["t"] = torch.from_numpy(self.rows[i]["teacher"])
        return item


def with_teacher(rows: list[dict[str, Any]], manifests: str | list[str], teacher: str) -> list[dict[str, Any]]:
    """``rows`` with ``"teacher"``: the embedding of :func:`speechdl.tasks.speaker.teacher.load_teacher` for
    each row's supervision id (every manifest must have its file; rows it lacks raise :class:`DataError`)."""
    from speechdl.tasks.speaker.teacher import load_teacher, teacher_file

    paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
    table: dict[str, np.ndarray] = {}
    for m in paths:
        table.update(load_teacher(m, teacher))
    missing = [r["id"] for r in rows if r["id"] not in table]
    if missing:
        raise DataError(teacher_file(paths[0], teacher), f"{len(missing)} utterances have no teacher embedding "
                        f"(e.g. {missing[0]})", "run speechdl data teacher-embed on the manifests again (it resumes)")
    return [{**r, "teacher": table[r["id"]]} for r in rows]


def unlabeled_utterances(manifests: str | list[str]) -> list[dict[str, Any]]:
    """Rows (``speaker`` "") of the supervisions of ``manifests`` that have no speaker label."""
    from speechdl.tasks.speaker.teacher import utterance_rows

    paths = [manifests] if isinstance(manifests, str | os.PathLike) else list(manifests)
    return [{**r, "speaker": ""} for m in paths for r in utterance_rows(m) if not r.get("speaker")]


@register_dataset("speaker_utts")
def speaker_utts(manifests: str | list[str], val_manifests: str | list[str] | None = None, frontend: Any = None,
                 crop_seconds: list[float] | None = None, augment: dict[str, Any] | None = None,
                 min_duration: float = 1.0, seed: int = 0, val_open_set: bool = False,
                 max_val_seconds: float = 8.0, teacher: str | None = None,
                 unlabeled: bool = False, p_whisper: float = 0.0, p_overlap: float = 0.0,
                 overlap_snr: list[float] | None = None, noise_dir: str | None = None,
                 noise_families: list[str] | None = None) -> SpeakerUtterances | tuple[SpeakerUtterances, ...]:
    """Recipe dataset ``speaker_utts``: speaker-labelled utterances of at least ``min_duration`` s, random
    crops of ``crop_seconds`` (default ``[2, 4]``) in training. With ``val_manifests`` a ``(train, val)``
    pair (clean utterances, cut to their first ``max_val_seconds``, of the same speakers, or with
    ``val_open_set`` of held-out ones: then ``val_eer`` measures what verification needs); otherwise the
    engine's ``val_fraction`` split (its items are cropped and augmented like training items). ``teacher``:
    distillation targets for the training items; ``unlabeled``: speaker-less utterances too (needs ``teacher``);
    ``p_whisper``, ``p_overlap``, ``overlap_snr``, ``noise_dir``, ``noise_families``: see
    :class:`SpeakerUtterances`."""
    rows = read_speaker_utterances(manifests)
    if unlabeled:
        if not teacher:
            raise ConfigError("data.unlabeled", "utterances without a speaker need a teacher target",
                              "set data.teacher: resemblyzer (after speechdl data teacher-embed)")
        rows += unlabeled_utterances(manifests)
    rows = [r for r in rows if r["duration"] >= min_duration]
    if teacher:
        rows = with_teacher(rows, manifests, teacher)
    train = SpeakerUtterances(rows, frontend, crop_seconds or [2.0, 4.0], augment, None, True, seed,
                              p_whisper=p_whisper, p_overlap=p_overlap, overlap_snr=overlap_snr or (5.0, 20.0),
                              noise_dir=noise_dir, noise_families=noise_families)
    if val_manifests is None:
        return train
    val_rows = [{**r, "duration": min(r["duration"], max_val_seconds)} for r in read_speaker_utterances(val_manifests)
                if r["duration"] >= min_duration]
    return train, SpeakerUtterances(val_rows, train.cfg, None, None, train.speakers, False, seed, val_open_set)
