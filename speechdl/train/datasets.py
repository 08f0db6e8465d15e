"""Dataset registry for recipes, and small deterministic datasets.

A dataset is registered by name with :func:`register_dataset` on a class or function whose keyword
arguments are the recipe's ``data:`` keys. It returns a ``torch.utils.data.Dataset`` of items
``{"x": (T, F) or (F,) float32, "y": () or (T,) label, optional "target": like x}``, or a pair
``(train, val)`` when the data has its own split. :mod:`speechdl.train.datamodule` batches them.

Example:
    >>> ds = build_dataset("toy_frames", n=100, dim=4)
    >>> ds[0]["x"].shape, ds[0]["y"].dtype
    (torch.Size([4]), torch.int64)
"""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from speechdl.catalog import DATASETS
from speechdl.errors import ConfigError, DataError
from speechdl.registry import Registry

_DATASETS = Registry("dataset", where="data", lazy=DATASETS)


def register_dataset(name: str) -> Callable:
    """Decorator: make ``fn_or_cls`` buildable as ``data: {name: <name>, ...}`` in a recipe."""
    return _DATASETS.register(name)


def available_datasets() -> list[str]:
    """Registered dataset names."""
    return _DATASETS.names()


def dataset_factory(name: str) -> Callable[..., Any]:
    """The registered constructor of ``name`` (ConfigError listing the valid names if unknown)."""
    return _DATASETS.get(name)


def dataset_signature_target(name: str) -> Callable:
    """What to check recipe kwargs against (``__init__`` for classes)."""
    obj = dataset_factory(name)
    return obj.__init__ if inspect.isclass(obj) else obj


def build_dataset(name: str, **kwargs: Any):
    """Construct the dataset registered as ``name``."""
    from speechdl.nn import check_kwargs

    check_kwargs(dataset_signature_target(name), kwargs, f"data {name!r}")
    return dataset_factory(name)(**kwargs)


class TensorItems(Dataset):
    """Items from aligned tensors: ``x[i]`` and ``y[i]`` (and ``target[i]`` when given)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None, target: torch.Tensor | None = None) -> None:
        self.x, self.y, self.target = x, y, target

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {"x": self.x[i]}
        if self.y is not None:
            item["y"] = self.y[i]
        if self.target is not None:
            item["target"] = self.target[i]
        return item


class ListItems(Dataset):
    """Items from a list of dicts (variable-length sequences)."""

    def __init__(self, items: list[dict[str, torch.Tensor]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


@register_dataset("toy_frames")
def toy_frames(n: int = 2000, dim: int = 39, num_classes: int = 2, noise: float = 1.0, seed: int = 0) -> TensorItems:
    """Frame classification: ``x = mean[y] + noise·N(0, I)``, class means drawn once from N(0, I).

    Items: ``x`` (dim,) float32, ``y`` () int64 in ``[0, num_classes)`` (``num_classes=1``: binary 0/1).
    """
    g = torch.Generator().manual_seed(seed)
    k = max(num_classes, 2)
    means = torch.randn(k, dim, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    x = means[y] + noise * torch.randn(n, dim, generator=g)
    return TensorItems(x.float(), y)


@register_dataset("toy_sequences")
def toy_sequences(n: int = 512, dim: int = 8, num_classes: int = 2, min_len: int = 5, max_len: int = 30,
                  noise: float = 1.0, frame_labels: bool = False, seed: int = 0) -> ListItems:
    """Sequence classification of variable-length sequences ``(T, dim)``, ``T ∈ [min_len, max_len]``.

    Every frame of a class-``c`` sequence is ``mean[c] + noise·N(0, I)``. ``y`` is () int64, or with
    ``frame_labels=True`` a (T,) vector (the class repeated) for frame-level tasks.
    """
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(max(num_classes, 2), dim, generator=g)
    items = []
    for _ in range(n):
        c = int(torch.randint(0, max(num_classes, 2), (1,), generator=g))
        t = int(torch.randint(min_len, max_len + 1, (1,), generator=g))
        x = means[c] + noise * torch.randn(t, dim, generator=g)
        y = torch.full((t,), c, dtype=torch.long) if frame_labels else torch.tensor(c)
        items.append({"x": x.float(), "y": y})
    return ListItems(items)


@register_dataset("toy_regression")
def toy_regression(n: int = 1000, dim: int = 8, out_dim: int = 1, noise: float = 0.1, seed: int = 0) -> TensorItems:
    """Linear regression ``y = W x + noise``; ``x`` (dim,), ``y`` (out_dim,) float32."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, out_dim, generator=g)
    x = torch.randn(n, dim, generator=g)
    y = x @ w + noise * torch.randn(n, out_dim, generator=g)
    return TensorItems(x, y)


def _load_array(path: Path, what: str) -> np.ndarray:
    if not path.exists():
        raise DataError(path, f"{what} file not found", "check the path in data.*")
    try:
        if path.suffix == ".npz":
            with np.load(path) as z:
                key = next((k for k in ("x", "features", "y", "labels") if k in z), None)
                return z[key] if key else z[z.files[0]]
        return np.load(path)
    except (OSError, ValueError) as err:
        raise DataError(path, f"cannot read {what} ({err})", "write it with numpy.save / numpy.savez") from None


@register_dataset("npy_frames")
def npy_frames(features: str | None = None, labels: str | None = None, csv_file: str | None = None,
               label_dtype: str = "int64") -> TensorItems:
    """Frame dataset from ``.npy``/``.npz`` files, or a CSV in the lecture's layout.

    ``features``: (N, F) array (``.npz``: key ``x`` or ``features``; with ``labels`` omitted also ``y``
    or ``labels``). ``labels``: (N,) array. ``csv_file``: comma-separated rows of F feature columns
    followed by one label column (e.g. 39 MFCCs and a 0/1 speech label); a non-numeric first row is
    taken as a header. ``label_dtype``: ``int64`` for classes, ``float32`` for regression targets.
    """
    if csv_file:
        path = Path(csv_file)
        if not path.exists():
            raise DataError(path, "CSV file not found", "check data.csv_file")
        from speechdl.validate import read_text

        text = read_text(path, "CSV file", DataError, "save it as UTF-8 text, one frame per row")
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
        try:
            float(rows[0][0])
        except (ValueError, IndexError):
            rows = rows[1:]
        try:
            arr = np.asarray(rows, dtype=np.float32)
        except ValueError:
            raise DataError(path, "CSV rows must be numbers with the same column count",
                            "one frame per row: features, then the label") from None
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise DataError(path, "CSV needs at least one feature column and a label column", "check the layout")
        x, y = arr[:, :-1], arr[:, -1]
    elif features:
        x = _load_array(Path(features), "features")
        if labels:
            y = _load_array(Path(labels), "labels")
        elif Path(features).suffix == ".npz":
            with np.load(features) as z:
                key = next((k for k in ("y", "labels") if k in z), None)
                if key is None:
                    raise DataError(features, "no labels: .npz has no 'y' or 'labels' array",
                                    "add one or pass data.labels")
                y = z[key]
        else:
            raise ConfigError("data 'npy_frames'", "labels missing", "set data.labels or use an .npz with x and y")
    else:
        raise ConfigError("data 'npy_frames'", "no input", "set data.features (+ data.labels) or data.csv_file")
    if x.ndim != 2 or len(x) != len(y):
        raise DataError(features or csv_file, f"features {x.shape} and labels {np.shape(y)} do not align",
                        "expect (N, F) features and (N,) labels")
    dtype = torch.long if label_dtype.startswith("int") else torch.float32
    return TensorItems(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(np.asarray(y)).to(dtype))
