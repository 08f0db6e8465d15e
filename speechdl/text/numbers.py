"""English number words: cardinals, ordinals, years, decimals, money, times (used by :mod:`.normalize`).

Every function takes digits (a string or an int) and returns lower-case words separated by single
spaces (``a-z``, space, and the apostrophe of ``o'clock``), so the result survives every normalisation.

Example:
    >>> spell_number(1905), ordinal(21), year(1905), year(2024)
    ('one thousand nine hundred five', 'twenty first', 'nineteen oh five', 'twenty twenty four')
    >>> decimal("3.05"), money("1.50", "$"), money("2", "£")
    ('three point zero five', 'one dollar fifty cents', 'two pounds')
"""

from __future__ import annotations

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}
# symbol -> (unit, units, subunit, subunits); no subunit: decimals are read with "point"
CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
              "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "", "")}


def spell_digits(digits: str) -> str:
    """Digit by digit: ``"007"`` -> ``zero zero seven``."""
    return " ".join(ONES[int(d)] for d in digits)


def spell_number(n: int) -> str:
    """English cardinal of a non-negative integer (``1905`` -> ``one thousand nine hundred five``).

    Numbers of 10^15 and more are read digit by digit.
    """
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell_number(n % 100))
    for value, name in SCALES:
        if n >= value:
            if n // value >= 1000:  # beyond the largest scale: read digit by digit
                return spell_digits(str(n))
            rest = n % value
            return spell_number(n // value) + " " + name + ("" if rest == 0 else " " + spell_number(rest))
    raise AssertionError(n)


def cardinal(digits: str | int) -> str:
    """Cardinal of a digit string; a leading zero (``"007"``) or more than 15 digits reads digit by digit."""
    s = str(digits)
    if len(s) > 15 or (len(s) > 1 and s[0] == "0"):
        return spell_digits(s)
    return spell_number(int(s))


def _last_word(words: str, fn) -> str:
    head, _, last = words.rpartition(" ")
    return (head + " " if head else "") + fn(last)


def ordinal(digits: str | int) -> str:
    """Ordinal words: ``1`` -> ``first``, ``12`` -> ``twelfth``, ``40`` -> ``fortieth``, ``100`` -> ``one hundredth``.
    """
    def word(w: str) -> str:
        if w in _ORDINAL:
            return _ORDINAL[w]
        return w[:-1] + "ieth" if w.endswith("y") else w + "th"

    return _last_word(spell_number(int(digits)), word)


def plural(words: str) -> str:
    """Plural of number words (``nineteen ninety`` -> ``nineteen nineties``, ``six`` -> ``sixes``)."""
    def word(w: str) -> str:
        if w.endswith("y"):
            return w[:-1] + "ies"
        return w + ("es" if w.endswith(("x", "s")) else "s")

    return _last_word(words, word)


def year(digits: str | int) -> str:
    """A year read in pairs: ``1905`` -> ``nineteen oh five``, ``1900`` -> ``nineteen hundred``,
    ``2000``-``2009`` -> ``two thousand (N)``, ``2024`` -> ``twenty twenty four``; other values as cardinals."""
    n = int(digits)
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009:
        return spell_number(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return spell_number(hi) + " hundred" if hi % 10 else spell_number(n)
    return spell_number(hi) + (" oh " if lo < 10 else " ") + spell_number(lo)


def decimal(text: str) -> str:
    """``"3.05"`` -> ``three point zero five``; ``".5"`` -> ``point five``; the fraction digit by digit."""
    whole, _, frac = text.partition(".")
    out = cardinal(whole) if whole else ""
    if frac:
        out = (out + " " if out else "") + "point " + spell_digits(frac)
    return out


def money(amount: str, symbol: str, scale: str = "") -> str:
    """Money read aloud: ``money("1.50", "$")`` -> ``one dollar fifty cents``.

    ``amount`` is digits with an optional decimal part (no thousands separators); ``scale``
    (``million``...) is read before the unit: ``two point five million dollars``. Two decimals are a
    sub-unit (cents, pence); any other decimal part is read with ``point``.
    """
    one, many, sub, subs = CURRENCIES[symbol]
    whole, _, frac = amount.partition(".")
    whole = whole or "0"
    if scale or (frac and (len(frac) != 2 or not sub)):
        return f"{decimal(amount)}{' ' + scale if scale else ''} {many}"
    parts = []
    if int(whole) or not frac or not int(frac):
        parts.append(f"{cardinal(whole)} {one if int(whole) == 1 else many}")
    if frac and int(frac):
        parts.append(f"{spell_number(int(frac))} {sub if int(frac) == 1 else subs}")
    return " ".join(parts)


def clock(hours: str, minutes: str) -> str:
    """``3:05`` -> ``three oh five``, ``3:00`` -> ``three o'clock``, ``15:30`` -> ``fifteen thirty``."""
    h, m = int(hours), int(minutes)
    if m == 0:
        return f"{spell_number(h)} o'clock"
    return f"{spell_number(h)} {'oh ' if m < 10 else ''}{spell_number(m)}"
