"""What the enhancement models train, validate and are tested on (the held-out choice, fixed here).

Clean speech is wideband (>= 16 kHz native) and clean: the studio-recorded Dutch dub of Fish Fillets,
the KDE word and letter sets (KLettres, KTuberling; the 8 kHz files are dropped), the English Tux Paint
descriptions, the Hedgewars voice packs and the ALSA announcements (``real_dev``), plus the clean
recordings (no noise, reverb or telephone band) of the synthetic many-voice set (espeak-ng, Flite,
Festival, Piper at 16 kHz; ``data/asr/synth_voices``). Telephone (8 kHz Asterisk, saytime) is not used.
The studio-recorded 11 kHz game dialogue of Flight of the Amazon Queen and Beneath a Steel Sky
(:data:`NARROW_SPEECH_SOURCES`: dozens of characters and a dozen actors, far more voices than the wideband
sources) is the ``narrow`` group: clean, but band-limited to 5.5 kHz, so the target has nothing above it
(the model learns that an empty upper band is not noise to fill, and that noise up there is all noise).
Drascula and Warzone 2100 are the shipped ASR's test families and stay out.

Held out of training **and** validation, for the test mixes (:mod:`speechdl.tasks.enhance.testset`):

- speech source family :data:`HELD_OUT_SPEECH` (the MegaGlest unit voices: 31 voice sets recorded by
  "family, friends and neighbours", so unseen people and microphones);
- noise family :data:`HELD_OUT_NOISE` (music: tonal, wideband, speech-like onsets; the hardest for a
  band-gain denoiser).

Validation uses the training families on recordings held out by id (:func:`split_of`).

Example:
    >>> split_of("fillets-ng-data-nl/x.ogg") in ("train", "val")
    True
    >>> "music" in TRAIN_NOISE_FAMILIES, HELD_OUT_SPEECH
    (False, ('megaglest-data',))
"""

from __future__ import annotations

import hashlib

SAMPLE_RATE = 16000

# real_dev sources (manifest.jsonl "source") of wideband clean speech used for training and validation
TRAIN_SPEECH_SOURCES: tuple[str, ...] = ("fillets-ng-data-nl", "klettres-data", "ktuberling-data",
                                         "tuxpaint-stamps-default", "hedgewars-data", "alsa-utils")
MIN_NATIVE_RATE = 16000            # files below this native rate are not wideband: skipped
# clean studio dialogue at 11.025 kHz (the "narrow" group); every NARROW_EVERY-th clip (by manifest order)
NARROW_SPEECH_SOURCES: tuple[str, ...] = ("flight-of-the-amazon-queen", "beneath-a-steel-sky")
NARROW_EVERY = 3
TUXPAINT_LANGS = ("en", "en_GB")   # the stored part of tuxpaint-stamps-default
SYNTH_VOICES = "${SPEECHDL_WORK}/asr/synth_voices"   # lhotse manifests; only the clean recordings are used
SYNTH_ENGINES = ("espeak", "flite", "festival", "piper")

HELD_OUT_SPEECH: tuple[str, ...] = ("megaglest-data",)   # test only: never trained or validated on
HELD_OUT_NOISE: tuple[str, ...] = ("music",)             # test only

ALL_NOISE_FAMILIES = ("weather", "animals", "vehicles", "music", "clicks", "stationary", "babble")
TRAIN_NOISE_FAMILIES: tuple[str, ...] = tuple(f for f in ALL_NOISE_FAMILIES if f not in HELD_OUT_NOISE)
NOISE_DIRS = ("${SPEECHDL_WORK}/noise_bank", "${SPEECHDL_DATA}/real_dev", "${SPEECHDL_WORK}/vad_lofo/babble")

SNR_RANGE = (-5.0, 20.0)                       # the first recipes' training mixes, dB against active speech
TEST_SNRS = (-5.0, 0.0, 5.0, 10.0, 15.0, 20.0)  # the test grid (E2's test mixes)
VAL_EVERY = 20                                  # one recording in VAL_EVERY (by id hash) is validation


def split_of(item_id: str, every: int = VAL_EVERY) -> str:
    """``"val"`` for about one id in ``every`` (a stable hash), else ``"train"``."""
    h = int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "big")
    return "val" if h % every == 0 else "train"
