"""Voice activity detection: the lecture's worked example (39 MFCC -> Dense 12-8-4-1) made real.

Rooms (see DESIGN.md):
    data.py    frame-label datasets from lhotse manifests (speech intervals -> 0/1 per 10 ms frame)
    model.py   the ``vad`` training task (frame BCE over padded sequences)
    infer.py   public API: ``VAD`` (offline, blockwise) and ``VADStream`` (any chunk size, numpy per hop)
    post.py    posterior smoothing with hysteresis, min speech / min silence, segments
    cli.py     ``speechdl vad detect|eval|train|export|export-frames``
"""
