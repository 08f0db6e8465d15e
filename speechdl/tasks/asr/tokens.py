"""Output units of the recogniser: moved to :mod:`speechdl.text` (shared by ASR, TTS, KWS, text tasks).

This module re-exports them so that existing imports and shipped bundles keep working:
:func:`normalize_text` is the ``asr`` preset of :func:`speechdl.text.normalize.normalize` (unchanged), and
the tokenizers and their dicts are those of :mod:`speechdl.text.tokenizers`.

Example:
    >>> from speechdl.tasks.asr.tokens import CharTokenizer, normalize_text
    >>> normalize_text("Hi 42!"), CharTokenizer().vocab_size
    ('hi forty two', 30)
"""

from speechdl.text.normalize import normalize_text
from speechdl.text.numbers import spell_number
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
    "BLANK_ID", "BPETokenizer", "CharTokenizer", "EOS_ID", "SPECIALS", "Tokenizer", "load_tokenizer",
    "normalize_text", "save_tokenizer", "spell_number", "tokenizer_from_dict",
]
