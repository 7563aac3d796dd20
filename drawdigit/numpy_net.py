"""The seed CNN's forward pass in numpy: the same function as ``model.DigitNet``, no torch.

Why: ``import torch`` costs 1-2.5 s, and one drawing needs only ~2.8 M multiply-adds. Each
3x3 convolution is an im2col (the 9 shifted views concatenated into one (pixels, 9*C)
matrix) times the kernel matrix: one BLAS call per layer. Activations stay channels-last
(N, H, W, C), so each shifted view copies whole rows; the flattening before ``fc1`` therefore
reads (h, w, c) where torch reads (c, h, w), and fc1's columns are permuted once at load.
Bias and ReLU come after each max-pool (both commute with max exactly), on a 4x smaller
array. Everything is float32, like torch's CPU path; probabilities agree with torch to 1e-5
(``tests/test_numpy_net.py`` checks all 10,000 MNIST test images).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from drawdigit.model_config import INPUT_SIZE, KERNEL, ModelConfig

# Images per pass for big batches. Small passes keep each layer's im2col and output in the
# CPU caches (conv1's are ~100 KB per image); measured per image on the busy 2-core machine,
# interleaved: passes of 4-8 0.99-1.04 ms, 16 1.12, 32 1.17, 64 1.20.
CHUNK = 8


def _conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A valid 3x3 convolution of channels-last ``x`` (N, H, W, C) -> (N, H-2, W-2, out),
    without the bias (added after pooling, on a 4x smaller array: max(a + b) = max(a) + b).

    im2col by concatenating the 9 shifted views along the channels: each copy moves whole
    rows of W*C contiguous floats, where a window view's copy would move runs of 3.
    ``kernel`` is (9*C, out) with rows in (kh, kw, c) order to match.
    """
    n, h, w, c = x.shape
    oh, ow = h - KERNEL + 1, w - KERNEL + 1
    shifted = [x[:, i : i + oh, j : j + ow] for i in range(KERNEL) for j in range(KERNEL)]
    columns = np.concatenate(shifted, axis=3).reshape(n * oh * ow, KERNEL * KERNEL * c)
    return (columns @ kernel).reshape(n, oh, ow, -1)


def _pool_bias_relu(x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """2x2 max-pooling, stride 2, odd edges dropped (torch's floor mode), + bias, ReLU."""
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    pooled = np.maximum(x[:, 0:h:2, 0:w:2], x[:, 0:h:2, 1:w:2])
    np.maximum(pooled, x[:, 1:h:2, 0:w:2], out=pooled)
    np.maximum(pooled, x[:, 1:h:2, 1:w:2], out=pooled)
    pooled += bias
    return np.maximum(pooled, 0.0, out=pooled)


class NumpyDigitNet:
    """A frozen ``DigitNet`` as numpy arrays. Stateless after construction, so thread-safe."""

    def __init__(self, config: ModelConfig, weights: Mapping[str, np.ndarray]) -> None:
        self.config = config
        w = {name: np.asarray(v, dtype=np.float32) for name, v in weights.items()}
        self.parameter_count = int(sum(v.size for v in w.values()))

        def kernel(name: str) -> np.ndarray:  # (out, C, kh, kw) -> (kh*kw*C, out)
            return np.ascontiguousarray(w[name].transpose(2, 3, 1, 0).reshape(-1, len(w[name])))

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
        x = _pool_bias_relu(_conv(x, self._k1), self._b1)  # 26 -> 13
        x = _pool_bias_relu(_conv(x, self._k2), self._b2)  # 11 -> 5
        x = _conv(x, self._k3)  # 3x3
        x += self._b3
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
