"""Speech enhancement (denoising): data, networks, training, pipeline, CLI, export (issue 16).

Example:
    >>> from speechdl.tasks.enhance.splits import HELD_OUT_NOISE
    >>> HELD_OUT_NOISE
    ('music',)
"""
