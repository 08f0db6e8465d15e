"""The lecture's VAD frame classifier in Keras 3 (torch backend): 39 MFCC+delta+delta-delta -> speech/non-speech.

Make the CSV with speechdl (39 feature columns, then the 0/1 label per 10 ms frame), then train:

    speechdl vad export-frames /data/vad/train_real --out my_dataset.csv --max-frames 200000
    python examples/lecture_keras_vad.py --csv my_dataset.csv --epochs 100

Shapes: X (N, 39) float, y (N,) 0/1; the network maps each frame to P(speech) in (0, 1).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402  (the backend must be chosen before keras is imported)
import numpy  # noqa: E402


def main(argv: list[str] | None = None) -> float:
    """Train the lecture's network on ``--csv`` for ``--epochs`` epochs; returns the final training accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default="my_dataset.csv", help="frames CSV: 39 feature columns, then the label")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    dataset = numpy.loadtxt(args.csv, delimiter=",")
    X = dataset[:, 0:39]
    y = dataset[:, 39]

    model = keras.Sequential([
        keras.Input(shape=(39,)),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(4, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(X, y, epochs=args.epochs, batch_size=20, verbose=2)
    _, accuracy = model.evaluate(X, y, verbose=0)
    print(f"Accuracy: {accuracy * 100:.2f}")
    return float(history.history["accuracy"][-1])


if __name__ == "__main__":
    main()
