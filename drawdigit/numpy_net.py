"""The seed CNN's forward pass in numpy: the same function as ``model.DigitNet``, no torch.

Why: ``import torch`` costs 1-2.5 s, and one drawing needs only ~2.8 M multiply-adds. Each
3x3 convolution is an im2col (a strided window view, copied into one (pixels, 9*C) matrix)
times the kernel matrix: one BLAS call per layer. Activations stay channels-last (N, H, W, C)
so the windows of all channels are one view; the flattening before ``fc1`` therefore reads
(h, w, c) where torch reads (c, h, w), and fc1's columns are permuted once at load instead.
ReLU comes after each max-pool (max and ReLU commute exactly), on a 4x smaller array.
Everything is float32, like torch's CPU path; probabilities agree with torch to 1e-5
(``tests/test_numpy_net.py`` checks all 10,000 MNIST test images).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from drawdigit.model_config import INPUT_SIZE, KERNEL, ModelConfig

# Images per pass for big batches: conv1's im2col and output take ~100 KB per image, so
# 256 keeps a pass near 25 MB and in cache-friendly sizes; larger is no faster here.
CHUNK = 256


def _conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A valid 3x3 convolution of channels-last ``x`` (N, H, W, C) -> (N, H-2, W-2, out).

    ``kernel`` is (C*9, out) with rows in (c, kh, kw) order: the order of the window view's
    trailing axes, so torch's (out, C, kh, kw) weight needs only a reshape and transpose.
    """
    n, h, w, c = x.shape
    oh, ow = h - KERNEL + 1, w - KERNEL + 1
    windows = sliding_window_view(x, (KERNEL, KERNEL), axis=(1, 2))  # (N, oh, ow, C, 3, 3)
    columns = windows.reshape(n * oh * ow, c * KERNEL * KERNEL)  # the im2col copy
    out = columns @ kernel
    out += bias
    return out.reshape(n, oh, ow, -1)


def _pool_relu(x: np.ndarray) -> np.ndarray:
    """2x2 max-pooling, stride 2, odd edges dropped (torch's floor mode), then ReLU."""
    n, h, w, c = x.shape
    ph, pw = h // 2, w // 2
    pooled = x[:, : 2 * ph, : 2 * pw].reshape(n, ph, 2, pw, 2, c).max(axis=(2, 4))
    return np.maximum(pooled, 0.0, out=pooled)


class NumpyDigitNet:
    """A frozen ``DigitNet`` as numpy arrays. Stateless after construction, so thread-safe."""

    def __init__(self, config: ModelConfig, weights: Mapping[str, np.ndarray]) -> None:
        self.config = config
        w = {name: np.asarray(v, dtype=np.float32) for name, v in weights.items()}
        self.parameter_count = int(sum(v.size for v in w.values()))

        def kernel(name: str) -> np.ndarray:  # (out, C, 3, 3) -> (C*9, out)
            return np.ascontiguousarray(w[name].reshape(w[name].shape[0], -1).T)

        self._k1, self._b1 = kernel("conv1.weight"), w["conv1.bias"].copy()
        self._k2, self._b2 = kernel("conv2.weight"), w["conv2.bias"].copy()
        self._k3, self._b3 = kernel("conv3.weight"), w["conv3.bias"].copy()
        fc1 = w["fc1.weight"].reshape(config.hidden, config.conv3, 3, 3)  # columns (c, h, w)
        self._fc1 = np.ascontiguousarray(fc1.transpose(2, 3, 1, 0).reshape(-1, config.hidden))
        self._fc1_b = w["fc1.bias"].copy()
        self._fc2 = np.ascontiguousarray(w["fc2.weight"].T)
        self._fc2_b = w["fc2.bias"].copy()

    def _chunk(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[0]
        x = x.reshape(n, INPUT_SIZE, INPUT_SIZE, 1)
        x = _pool_relu(_conv(x, self._k1, self._b1))  # 26 -> 13
        x = _pool_relu(_conv(x, self._k2, self._b2))  # 11 -> 5
        x = _conv(x, self._k3, self._b3)  # 3x3
        x = np.maximum(x, 0.0, out=x).reshape(n, -1)
        hidden = x @ self._fc1
        hidden += self._fc1_b
        np.maximum(hidden, 0.0, out=hidden)
        logits = hidden @ self._fc2
        logits += self._fc2_b
        return logits, hidden

    def logits_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N, 10) and fc1's 64 ReLU outputs (N, 64) for (N, 28, 28) inputs in [0, 1]."""
        x = np.asarray(batch, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE)
        if x.shape[0] <= CHUNK:
            return self._chunk(x)
        parts = [self._chunk(x[i : i + CHUNK]) for i in range(0, x.shape[0], CHUNK)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Softmax of the logits, (N, 10) float32, each row summing to 1."""
        return softmax(self.logits_and_features(batch)[0])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so large logits cannot overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted
