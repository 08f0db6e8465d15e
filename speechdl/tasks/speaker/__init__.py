"""Speaker recognition with DNN embeddings (x-vectors): train, enroll, verify, identify.

Importing this package imports nothing (the catalogue, :mod:`speechdl.catalog`, names what it holds).
Rooms, by role (see DESIGN.md):
    net.py        what a bundle holds: ``speaker_net`` (x-vector TDNN or thin ResNet-34 encoder with a softmax
                  or AAM head); no Lightning
    train.py      training task ``speaker`` (LightningModule: cross-entropy, val EER / minDCF of the embeddings)
    data.py       ``speaker_utts``: speaker-labelled manifests -> features of random crops
    toy.py        ``speaker_toy``: source-filter toy voices, a problem that trains in seconds
    backends.py   cosine, LDA, PLDA, s-norm / AS-norm, calibration (scikit-learn fits)
    scoring.py    the back-end a bundle scores with (``Scorer``: plda.npz, cohort.npy, calibrations)
    infer.py      the engine: ``SpeakerModel`` (bundle -> embeddings, scores, decisions)
    pipeline.py   the application contract: ``speechdl.load("speaker").run((a, b)) -> VerifyResult``
    export.py     ``speechdl speaker export``: a training run -> a bundle with its back-end and calibrations
    trials.py     VoxCeleb-format trial lists; store.py: the SQLite enrollment store
    evaluate.py   EER / minDCF / DET of a bundle on a trial list
    cli.py        ``speechdl speaker embed|verify|enroll|identify|list|remove|eval|train|export|trials``
"""
