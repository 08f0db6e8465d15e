"""Small, seeded toy datasets for the architecture recipes (each builds in well under a second).

* ``toy_spectra``: variable-length ``(T, F)`` "spectrograms" whose class is a spectral-temporal
  pattern (steady low band, steady high band, rising sweep, falling sweep, ...): sequence
  classification for RNN / CNN / ResNet / TDNN / x-vector / Transformer / Conformer recipes. The
  sweep classes differ only in the *order* of their frames, so a bag-of-frames model cannot solve them.
* ``toy_copy`` / ``toy_reverse``: a token string rendered as frames (each token ``frames_per_token``
  noisy copies of its random embedding); the target is the string (reversed for ``toy_reverse``):
  sequence-to-sequence with attention.
* ``toy_tones``: μ-law encoded sine / chirp waveforms, optionally with per-frame conditioning (the
  instantaneous frequency) for WaveNet.
* ``toy_gaussian``: samples of a correlated Gaussian: what a GAN's generator must learn to imitate.
* ``toy_noisy_frames``: low-rank non-negative "spectral" frames (clean) and noisy copies: denoising
  autoencoders and GAN enhancement (``x`` noisy, ``target`` clean).

Every dataset takes ``seed``; the same arguments give the same items.

Example:
    >>> ds = build_dataset("toy_spectra", n=8, dim=16, seed=0)
    >>> ds[0]["x"].shape[1], ds[0]["y"].dtype
    (16, torch.int64)
    >>> item = build_dataset("toy_copy", n=4, vocab=5)[0]
    >>> item["x"].dim(), bool((item["y"] >= 3).all())   # ids 0/1/2 are pad/sos/eos
    (2, True)
"""

from __future__ import annotations

import math

import torch

from speechdl.errors import ConfigError
from speechdl.train.datasets import ListItems, TensorItems, build_dataset, register_dataset

__all__ = ["toy_spectra", "toy_copy", "toy_reverse", "toy_tones", "toy_gaussian", "toy_noisy_frames",
           "FIRST_TOKEN", "build_dataset"]

FIRST_TOKEN = 3   # token ids 0, 1, 2 are pad, sos, eos (the Seq2Seq defaults)


def _bump(dim: int, centre: torch.Tensor, width: float) -> torch.Tensor:
    """Gaussian bumps over ``dim`` bins centred at ``centre`` (T,) -> (T, dim)."""
    bins = torch.arange(dim, dtype=torch.float32)
    return torch.exp(-0.5 * ((bins[None, :] - centre[:, None]) / width) ** 2)


@register_dataset("toy_spectra")
def toy_spectra(n: int = 512, dim: int = 20, num_classes: int = 4, min_len: int = 20, max_len: int = 40,
                noise: float = 0.3, frame_labels: bool = False, seed: int = 0) -> ListItems:
    """Spectral-pattern classification of ``(T, dim)`` sequences, ``T ∈ [min_len, max_len]``.

    Class ``c`` (``num_classes`` ≤ 2·dim/4): even classes are a steady band at a class-specific bin,
    odd classes a sweep (rising for ``c % 4 == 1``, falling for ``c % 4 == 3``) between class-specific
    bins; a random offset of ±1 bin, a random level in [0.7, 1.3] and ``noise``·N(0, 1) are added.
    Items: ``x`` (T, dim) float32 (log-energy-like), ``y`` () int64 or, with ``frame_labels``, (T,).
    """
    if num_classes < 2 or num_classes > max(2, dim // 2):
        raise ConfigError("data 'toy_spectra'", f"num_classes={num_classes} with dim={dim}",
                          "use 2 <= num_classes <= dim / 2")
    if not 1 <= min_len <= max_len:
        raise ConfigError("data 'toy_spectra'", f"min_len={min_len}, max_len={max_len}", "use 1 <= min_len <= max_len")
    g = torch.Generator().manual_seed(seed)
    width = max(dim / 20, 0.8)
    items = []
    for _ in range(n):
        c = int(torch.randint(0, num_classes, (1,), generator=g))
        t = int(torch.randint(min_len, max_len + 1, (1,), generator=g))
        k = c // 2                                        # which band pair
        lo = (k + 0.5) * dim / (num_classes // 2 + 1)     # the class's bin
        offset = float(torch.randint(-1, 2, (1,), generator=g))
        if c % 2 == 0:
            centre = torch.full((t,), lo + offset)
        else:
            span = dim / (num_classes // 2 + 1)
            ramp = torch.linspace(0, 1, t)
            if c % 4 == 3:
                ramp = ramp.flip(0)
            centre = lo + offset + span * ramp
        level = 0.7 + 0.6 * float(torch.rand(1, generator=g))
        x = level * _bump(dim, centre, width) + noise * torch.randn(t, dim, generator=g)
        y = torch.full((t,), c, dtype=torch.long) if frame_labels else torch.tensor(c)
        items.append({"x": x.float(), "y": y})
    return ListItems(items)


def _token_items(n: int, vocab: int, dim: int, min_tokens: int, max_tokens: int, frames_per_token: int,
                 noise: float, reverse: bool, seed: int) -> ListItems:
    if vocab < 1 or not 1 <= min_tokens <= max_tokens:
        raise ConfigError("data 'toy_copy'", f"vocab={vocab}, min_tokens={min_tokens}, max_tokens={max_tokens}",
                          "use vocab >= 1 and 1 <= min_tokens <= max_tokens")
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(vocab, dim, generator=g)
    items = []
    for _ in range(n):
        u = int(torch.randint(min_tokens, max_tokens + 1, (1,), generator=g))
        tokens = torch.randint(0, vocab, (u,), generator=g)
        x = table[tokens].repeat_interleave(frames_per_token, dim=0)
        x = x + noise * torch.randn(x.shape, generator=g)
        y = (tokens.flip(0) if reverse else tokens) + FIRST_TOKEN
        items.append({"x": x.float(), "y": y.long()})
    return ListItems(items)


@register_dataset("toy_copy")
def toy_copy(n: int = 1000, vocab: int = 8, dim: int = 12, min_tokens: int = 2, max_tokens: int = 6,
             frames_per_token: int = 3, noise: float = 0.3, seed: int = 0) -> ListItems:
    """Frames -> the token string they spell (ids ``3 .. vocab + 2``; 0/1/2 are pad/sos/eos).

    Items: ``x`` (U·frames_per_token, dim) float32, ``y`` (U,) int64 token ids (no eos: the task appends it).
    A model with ``vocab_size = vocab + 3`` fits.
    """
    return _token_items(n, vocab, dim, min_tokens, max_tokens, frames_per_token, noise, False, seed)


@register_dataset("toy_reverse")
def toy_reverse(n: int = 1000, vocab: int = 8, dim: int = 12, min_tokens: int = 2, max_tokens: int = 6,
                frames_per_token: int = 3, noise: float = 0.3, seed: int = 0) -> ListItems:
    """As ``toy_copy`` but the target is the string reversed: attention must run backwards over the input."""
    return _token_items(n, vocab, dim, min_tokens, max_tokens, frames_per_token, noise, True, seed)


@register_dataset("toy_tones")
def toy_tones(n: int = 256, length: int = 512, n_classes: int = 64, sample_rate: int = 8000,
              min_freq: float = 100.0, max_freq: float = 800.0, chirp: float = 0.5, amplitude: float = 0.8,
              hop_length: int = 0, noise: float = 0.0, seed: int = 0) -> TensorItems | ListItems:
    """μ-law encoded tones: ``x`` (length,) int64 class ids in ``[0, n_classes)``.

    Each segment is ``amplitude · sin(phase)`` with a random start frequency in [min_freq, max_freq] and,
    with probability ``chirp``, a linear glide to another random frequency; random phase. With
    ``hop_length > 0`` items also hold ``cond`` (length / hop_length, 1): the normalised instantaneous
    frequency per frame (local conditioning for WaveNet; ``length`` must be a multiple of hop_length).
    """
    from speechdl.nn.wavenet import mu_law_encode

    if hop_length and length % hop_length:
        raise ConfigError("data 'toy_tones'", f"length={length} is not a multiple of hop_length={hop_length}",
                          "choose length = k * hop_length")
    g = torch.Generator().manual_seed(seed)
    f0 = min_freq + (max_freq - min_freq) * torch.rand(n, 1, generator=g)
    f1 = min_freq + (max_freq - min_freq) * torch.rand(n, 1, generator=g)
    glide = (torch.rand(n, 1, generator=g) < chirp).float()
    ramp = torch.linspace(0, 1, length)[None, :]
    freq = f0 + glide * (f1 - f0) * ramp                              # (n, length) Hz
    phase = 2 * math.pi * torch.cumsum(freq, dim=1) / sample_rate + 2 * math.pi * torch.rand(n, 1, generator=g)
    wave = amplitude * torch.sin(phase) + noise * torch.randn(n, length, generator=g)
    ids = mu_law_encode(wave, n_classes)
    if not hop_length:
        return TensorItems(ids)
    frames = freq[:, hop_length // 2::hop_length]                      # (n, length / hop)
    cond = ((frames - min_freq) / max(max_freq - min_freq, 1e-6))[..., None]
    return ListItems([{"x": ids[i], "cond": cond[i].float()} for i in range(n)])


@register_dataset("toy_gaussian")
def toy_gaussian(n: int = 2048, dim: int = 2, mean: float | list[float] = 2.0, scale: float = 0.5,
                 correlation: float = 0.8, seed: int = 0) -> TensorItems:
    """Real samples for a GAN: ``x`` (dim,) from N(μ, Σ) with Σ = scale²·((1-ρ)·I + ρ·11ᵀ).

    ``mean`` is one number (every coordinate) or a list of ``dim``. The generator starts far from it
    (its outputs are near 0 with unit-ish spread), so matching μ and Σ is a visible learning signal.
    """
    g = torch.Generator().manual_seed(seed)
    mu = torch.as_tensor(mean, dtype=torch.float32).expand(dim).clone()
    cov = scale ** 2 * ((1 - correlation) * torch.eye(dim) + correlation * torch.ones(dim, dim))
    chol = torch.linalg.cholesky(cov)
    x = mu + torch.randn(n, dim, generator=g) @ chol.T
    return TensorItems(x.float())


@register_dataset("toy_noisy_frames")
def toy_noisy_frames(n: int = 1024, dim: int = 24, rank: int = 3, seq_len: int = 0, noise: float = 0.3,
                     seed: int = 0) -> TensorItems:
    """Clean low-rank spectral frames and noisy copies: ``x`` noisy, ``target`` clean, both float32.

    A clean frame is a non-negative mix of ``rank`` fixed smooth spectral shapes (so it lies near a
    ``rank``-dimensional manifold an autoencoder's bottleneck can capture); noisy = clean + ``noise``·N(0, 1).
    ``seq_len = 0``: items are frames (dim,); otherwise sequences (seq_len, dim) whose mixing weights
    drift smoothly over time (for convolutional models).
    """
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(rank, generator=g) * (dim - 1)
    shapes = _bump(dim, centres, max(dim / 8, 1.0))                       # (rank, dim)
    if seq_len:
        start = torch.rand(n, 1, rank, generator=g)
        end = torch.rand(n, 1, rank, generator=g)
        ramp = torch.linspace(0, 1, seq_len)[None, :, None]
        weights = start + (end - start) * ramp                            # (n, T, rank)
    else:
        weights = torch.rand(n, rank, generator=g)
    clean = weights @ shapes
    noisy = clean + noise * torch.randn(clean.shape, generator=g)
    return TensorItems(noisy.float(), target=clean.float())
