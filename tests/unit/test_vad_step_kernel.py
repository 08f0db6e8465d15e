"""The compiled streaming hop of the band-norm LSTM against a plain numpy statement of the same equations."""

import numpy as np
from numba import njit

from speechdl.tasks.vad.step_kernel import band_lstm_step, tanh32


@njit
def _tanh_all(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = tanh32(x[i])
    return out


def test_rational_tanh_is_float32_accurate_everywhere():
    x = np.linspace(-30, 30, 600_001).astype(np.float32)
    assert np.abs(_tanh_all(x) - np.tanh(x.astype(np.float64))).max() < 1e-6


def _reference(x0, acc, ring, slot, a, a_k, icw, w, b, h, c, hw, hb):
    acc = acc * a + x0 - ring[slot]
    ring = ring.copy()
    ring[slot] = x0 * a_k
    t = np.tanh(np.concatenate([x0, acc * icw, h]).astype(np.float64) @ w + b)
    s = 0.5 * t + 0.5
    H = h.size
    c = s[H:2 * H] * c + s[:H] * t[2 * H:3 * H]
    h = s[3 * H:] * np.tanh(c)
    return float(h @ hw[:, 0] + hb[0]), acc, ring, h, c


def test_kernel_follows_the_equations_over_a_stream():
    rng = np.random.default_rng(3)
    F, H, K = 40, 96, 100
    w = (rng.standard_normal((2 * F + H, 4 * H)) * 0.1).astype(np.float32)
    b = (rng.standard_normal(4 * H) * 0.1).astype(np.float32)
    hw, hb = rng.standard_normal((H, 1)).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    a = np.float32(np.exp(-1 / 33))
    a_k = np.float32(float(a) ** K)
    state = [np.zeros(F, np.float32), np.zeros((K, F), np.float32), np.zeros(H, np.float32), np.zeros(H, np.float32)]
    ref = [s.astype(np.float64) for s in state]
    for t in range(300):
        x = (rng.standard_normal(F) * 3).astype(np.float32)
        icw = np.float32(1.0 / (t + 1))
        logit = band_lstm_step(x, state[0], state[1], t % K, a, a_k, icw, w, b, state[2], state[3], hw, hb)
        want, *ref = _reference(x, ref[0], ref[1], t % K, a, a_k, icw, w, b, ref[2], ref[3], hw, hb)
        assert abs(logit - want) < 1e-4, t
    for got, exp in zip(state, ref, strict=True):
        np.testing.assert_allclose(got, exp, atol=1e-4)
