"""The keyword-spotting label set and the pools of "unknown" words.

The classes are the twelve of Google Speech Commands v0.02's "12-class" task (ten commands, ``_silence_``
and ``_unknown_``) plus the ten digits, 22 in all. Unknown words are frequent English words of the project's
text corpus (:func:`speechdl.data.synth.text.load_sentences`), split into a training and an evaluation pool
by a hash of the word, so that a held-out set's unknown words were never heard in training; homophones of a
keyword ("know", "four"/"for", "to"/"two", ...) are in neither pool.

Example:
    >>> LABELS[:3], len(LABELS), label_index("_unknown_") == len(LABELS) - 1
    (('yes', 'no', 'up'), 22, True)
    >>> word_split("house") in ("train", "eval")
    True
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
KEYWORDS = COMMANDS + DIGITS
LABELS = KEYWORDS + (SILENCE, UNKNOWN)

# Words that sound like a keyword (or are one in another spelling): never used as "unknown".
HOMOPHONES = frozenset(
    "know noh nope yeah yep yea yess ok okay oh o nought naught zeroes won wan to too tu ta for fore fo "
    "ate eighth write rite wright wrought rights lefts ups downs ons offs stops goes gone going go's "
    "sics sicks sex nein tree free fife fives sixes ones twos threes fours sevens eights nines".split())
EVAL_SHARE = 5  # one word in five (by hash) is an evaluation-only unknown word


def label_index(label: str) -> int:
    """Class index of ``label`` in :data:`LABELS` (``ValueError`` if it is not one)."""
    return LABELS.index(label)


def word_split(word: str) -> str:
    """``"eval"`` for one word in :data:`EVAL_SHARE` (a fixed hash of the lower-cased word), else ``"train"``."""
    h = int(hashlib.sha1(word.lower().encode()).hexdigest()[:8], 16)
    return "eval" if h % EVAL_SHARE == 0 else "train"


def is_unknown_candidate(word: str) -> bool:
    """True for a plain alphabetic word of 2-12 letters that is neither a keyword nor a homophone of one."""
    w = word.lower()
    return bool(re.fullmatch(r"[a-z]{2,12}", w)) and w not in KEYWORDS and w not in HOMOPHONES


def unknown_words(split: str, count: int, sentences: list[str] | None = None) -> list[str]:
    """The ``count`` most frequent unknown-word candidates of ``split`` (``"train"`` / ``"eval"``).

    ``sentences``: the text to count words in (default: the English corpus, all of it, since the word
    split, not the sentence split, is what keeps evaluation words unheard).
    """
    if sentences is None:
        from speechdl.data.synth.text import load_sentences

        sentences = load_sentences("en", split="train") + load_sentences("en", split="eval")
    counts = Counter(w for s in sentences for w in re.findall(r"[A-Za-z]+", s.lower()))
    ranked = [w for w, _ in counts.most_common() if is_unknown_candidate(w) and word_split(w) == split]
    return ranked[:count]
