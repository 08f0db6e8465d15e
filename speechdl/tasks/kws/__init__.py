"""Keyword spotting (issue 19): command words with CNNs, streaming detection, custom keywords.

Roles: :mod:`.vocab` (the label set and the "unknown" word pools), :mod:`.synth_words` (spoken words from
synthetic voices), :mod:`.real_words` (real spoken words cut from ``real_dev``), :mod:`.data` (the training
dataset: a word placed in a 1 s window with noise, reverb and channel), :mod:`.evaluate` (accuracy and
confusions on a held-out word set).
"""
