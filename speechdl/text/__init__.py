"""Text shared by the tasks: normalisation, tokenizers (characters, BPE) and the espeak-ng phonemizer.

Rooms:
    numbers.py     English number words (cardinals, ordinals, years, money, times)
    normalize.py   ``normalize(text, norm)`` with presets ``asr`` (frozen: the ASR task's), ``spoken``, ``tts``
    tokenizers.py  :class:`CharTokenizer`, :class:`BPETokenizer`, their dicts for bundles
    phonemize.py   :class:`Phonemizer` (espeak-ng, one process per batch); ``phonemize`` (cached)

The functions ``normalize`` and ``phonemize`` are imported from their modules (the package re-exports
neither, so that ``speechdl.text.normalize`` and ``speechdl.text.phonemize`` stay the modules).

Example:
    >>> from speechdl.text import CharTokenizer
    >>> from speechdl.text.normalize import normalize
    >>> normalize("On the 2nd of May", "spoken")
    'on the second of may'
    >>> CharTokenizer().decode(CharTokenizer().encode("Hi 5!"))
    'hi five'
"""

from speechdl.text.normalize import PRESETS, TextNorm, normalize_text
from speechdl.text.numbers import spell_number
from speechdl.text.phonemize import Phonemizer
from speechdl.text.tokenizers import (
    BLANK_ID,
    EOS_ID,
    SPECIALS,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    load_tokenizer,
    save_tokenizer,
    tokenizer_from_dict,
)

__all__ = [
    "BLANK_ID", "BPETokenizer", "CharTokenizer", "EOS_ID", "PRESETS", "Phonemizer", "SPECIALS", "TextNorm",
    "Tokenizer", "load_tokenizer", "normalize_text", "save_tokenizer", "spell_number", "tokenizer_from_dict",
]
