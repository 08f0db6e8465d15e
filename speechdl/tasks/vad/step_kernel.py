"""The streaming hop of the band-norm LSTM VAD compiled as one function (numba).

:class:`speechdl.tasks.vad.net.NumpyBandNorm` computes one 30 ms frame in about fifteen small numpy calls
(the recursive band mean, one ``(2F + H, 4H)`` product, the gates, the head); at these sizes each call's overhead
costs more than its arithmetic. :func:`band_lstm_step` does the same float32 arithmetic in one compiled loop.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> F, H, K = 3, 4, 5
    >>> w, b = rng.standard_normal((2 * F + H, 4 * H)).astype(np.float32), np.zeros(4 * H, np.float32)
    >>> hw, hb = rng.standard_normal((H, 1)).astype(np.float32), np.zeros(1, np.float32)
    >>> acc, ring = np.zeros(F, np.float32), np.zeros((K, F), np.float32)
    >>> h, c, x = np.zeros(H, np.float32), np.zeros(H, np.float32), np.ones(F, np.float32)
    >>> a, a_k = np.float32(0.5), np.float32(0.5 ** K)
    >>> logit = band_lstm_step(x, acc, ring, 0, a, a_k, np.float32(1.0), w, b, h, c, hw, hb)
    >>> bool(np.allclose(acc, x)), bool(np.allclose(ring[0], x * 0.5 ** K)), bool(np.isfinite(logit))
    (True, True, True)
"""

from __future__ import annotations

import numpy as np
from numba import njit

# tanh(x) ~ x P(x^2) / Q(x^2) on [-9, 9] (beyond: +-1 to float32 precision), max error ~1e-7: a minimax
# rational fit (the constants of Eigen's float tanh). Unlike a libm call it vectorises in the gate loop.
_P = (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08,
      -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16)
_Q = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06)
P0, P1, P2, P3, P4, P5, P6 = (np.float32(v) for v in _P)
Q0, Q1, Q2, Q3 = (np.float32(v) for v in _Q)
CLIP = np.float32(9.0)


@njit(inline="always", fastmath=True, error_model="numpy")
def tanh32(x: np.float32) -> np.float32:  # pragma: no cover - compiled
    """Rational float32 tanh (see above)."""
    x = CLIP if x > CLIP else x
    x = -CLIP if x < -CLIP else x
    x2 = x * x
    p = x * ((((((P6 * x2 + P5) * x2 + P4) * x2 + P3) * x2 + P2) * x2 + P1) * x2 + P0)
    return p / (((Q3 * x2 + Q2) * x2 + Q1) * x2 + Q0)


@njit(cache=True, fastmath=True, error_model="numpy")
def band_lstm_step(x0: np.ndarray, acc: np.ndarray, ring: np.ndarray, slot: int, a: np.float32, a_k: np.float32,
                   inv_cumw: np.float32, w: np.ndarray, b: np.ndarray, h: np.ndarray, c: np.ndarray,
                   head_w: np.ndarray, head_b: np.ndarray) -> float:  # pragma: no cover - compiled
    """One frame: updates ``acc (F,)``, ``ring[slot]``, ``h (H,)`` and ``c (H,)`` in place; returns the logit.

    ``acc = a acc + x0 - ring[slot]``, ``ring[slot] = a^K x0``; ``v = [x0, acc / cumw, h]``;
    ``t = tanh(v @ w + b)`` (the sigmoid gates are pre-scaled by 1/2); ``s = (t + 1) / 2``;
    ``c = s_f c + s_i t_g``, ``h = s_o tanh(c)``; logit ``h @ head_w + head_b``.
    """
    dim = x0.shape[0]
    hidden = h.shape[0]
    t = b.copy()
    for k in range(dim):
        v = x0[k]
        acc[k] = acc[k] * a + v - ring[slot, k]
        ring[slot, k] = v * a_k
        for j in range(4 * hidden):
            t[j] += v * w[k, j]
    for k in range(dim):
        v = acc[k] * inv_cumw
        for j in range(4 * hidden):
            t[j] += v * w[dim + k, j]
    for k in range(hidden):
        v = h[k]
        for j in range(4 * hidden):
            t[j] += v * w[2 * dim + k, j]
    for j in range(4 * hidden):
        t[j] = tanh32(t[j])
    out = head_b[0]
    for j in range(hidden):
        c[j] = (0.5 * t[hidden + j] + 0.5) * c[j] + (0.5 * t[j] + 0.5) * t[2 * hidden + j]
        h[j] = (0.5 * t[3 * hidden + j] + 0.5) * tanh32(c[j])
        out += h[j] * head_w[j, 0]
    return out
