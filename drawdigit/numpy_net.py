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

import hashlib
from collections.abc import Callable, Mapping

import numpy as np

from drawdigit.model_config import INPUT_SIZE, KERNEL, ModelConfig

# Images per pass for big batches. Small passes keep each layer's im2col and output in the
# CPU caches (conv1's are ~100 KB per image); measured per image on the busy 2-core machine,
# interleaved: passes of 4-8 0.99-1.04 ms, 16 1.12, 32 1.17, 64 1.20.
CHUNK = 8

# ``occluded_logits``: conv2 is recomputed in a window of 6x6 of its 11x11 outputs, which
# holds every output a black square of up to 4 pixels can change.
_CONV2_WINDOW = 6
OCCLUSION_WINDOW_SQUARE = 4
OCCLUSION_CHUNK = 16  # its windows are small: 16 per pass beat 8 (and 64), measured


# ``answers_finitely``'s inputs: blank, all ink, and fixed noise of each density.
_PROBES = np.concatenate(
    [
        np.zeros((1, INPUT_SIZE, INPUT_SIZE), np.float32),
        np.ones((1, INPUT_SIZE, INPUT_SIZE), np.float32),
        np.random.default_rng(0).random((4, INPUT_SIZE, INPUT_SIZE), np.float32)
        ** np.array([0.25, 1.0, 4.0, 16.0], np.float32)[:, None, None],
    ]
)


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


_CELLS = ((0, 0), (0, 1), (1, 0), (1, 1))  # a 2x2 pooling window's cells, row-major


def _pool(x: np.ndarray) -> np.ndarray:
    """2x2 max-pooling, stride 2, odd edges dropped (torch's floor mode)."""
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    pooled = np.maximum(x[:, 0:h:2, 0:w:2], x[:, 0:h:2, 1:w:2])
    np.maximum(pooled, x[:, 1:h:2, 0:w:2], out=pooled)
    return np.maximum(pooled, x[:, 1:h:2, 1:w:2], out=pooled)


def _pool_bias_relu(x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """2x2 max-pooling, stride 2, odd edges dropped (torch's floor mode), + bias, ReLU."""
    pooled = _pool(x)
    pooled += bias
    return np.maximum(pooled, 0.0, out=pooled)


def _pool_with_routes(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """2x2 max-pooling and, for each of the 4 window cells (row-major), a mask of the
    outputs whose first maximum it holds: where the backward pass sends the gradient."""
    pooled = _pool(x)
    h, w = pooled.shape[1] * 2, pooled.shape[2] * 2
    taken = np.zeros(pooled.shape, dtype=bool)
    routes = []
    for di, dj in _CELLS:
        route = x[:, di:h:2, dj:w:2] == pooled
        route &= ~taken
        taken |= route
        routes.append(route)
    return pooled, routes


def _unpool(g: np.ndarray, routes: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The max-pool's backward: each pooled gradient back to its window's maximum."""
    out = np.zeros(shape, dtype=np.float32)
    h, w = g.shape[1] * 2, g.shape[2] * 2
    for (di, dj), route in zip(_CELLS, routes, strict=True):
        np.multiply(g, route, out=out[:, di:h:2, dj:w:2])
    return out


def _conv_backward(g: np.ndarray, kernel: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``_conv``'s gradient with respect to its input: one matrix product back to the
    im2col columns, then each of the 9 shifted views added back where it was cut from."""
    n, oh, ow, out = g.shape
    c = shape[3]
    columns = (g.reshape(-1, out) @ kernel.T).reshape(n, oh, ow, KERNEL * KERNEL, c)
    columns = np.ascontiguousarray(columns.transpose(3, 0, 1, 2, 4))  # each view contiguous
    grad = np.zeros(shape, dtype=np.float32)
    for k in range(KERNEL * KERNEL):
        i, j = divmod(k, KERNEL)
        grad[:, i : i + oh, j : j + ow] += columns[k]
    return grad


def _in_chunks(
    function: Callable[..., tuple[np.ndarray, np.ndarray]], *arrays: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``function`` over passes of ``CHUNK`` rows of ``arrays`` (all of the same length),
    its two results concatenated: one pass when the batch is small."""
    if len(arrays[0]) <= CHUNK:
        return function(*arrays)
    parts = [function(*(a[i : i + CHUNK] for a in arrays)) for i in range(0, len(arrays[0]), CHUNK)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


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
        return self._from_conv2(_conv(x, self._k2))

    def _from_conv2(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and hidden from conv2's output before its bias (N, 11, 11, conv2)."""
        n = x.shape[0]
        x = _pool_bias_relu(x, self._b2)  # 11 -> 5
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
        return _in_chunks(self._chunk, x)

    def answers_finitely(self) -> bool:
        """Whether the network's outputs are finite numbers for inputs like a drawing's.

        Finite weights can still overflow float32 on the way (weights x1e36, or a training
        run that diverged): then every answer is NaN and every drawing "not sure - 0 or 8?".
        Checked on a few fixed inputs spanning what preprocessing gives (blank, full ink,
        noise in [0, 1]) whenever a model is read or saved (``store``)."""
        with np.errstate(over="ignore", invalid="ignore"):
            logits, hidden = self.logits_and_features(_PROBES)
        return bool(np.isfinite(logits).all() and np.isfinite(hidden).all())

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Softmax of the logits, (N, 10) float32, each row summing to 1."""
        return softmax(self.logits_and_features(batch)[0])

    # ------------------------------------------------------------------ looking inside

    def occluded_logits(self, image28: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
        """Logits (P, 10) of ``image28`` with a black ``size`` x ``size`` square at each of
        the P ``corners`` (row, column): what occlusion saliency needs, for about 2/3 of the
        CPU time of P whole forward passes (measured: 20 ms against 30 for 169 squares).

        A square changes conv1 only near it, so conv2 (most of the work) is recomputed in
        a 6x6 window of its 11x11 output around the square, from an 18x18 crop of the
        input, and pasted into the unoccluded image's conv2 output; the rest (pool, conv3,
        fc) is small and runs whole. Equal to the full pass up to float rounding
        (``tests/test_explain.py``). Squares of up to 4 pixels fit the window."""
        if not 1 <= size <= OCCLUSION_WINDOW_SQUARE:
            raise ValueError(f"squares of 1..{OCCLUSION_WINDOW_SQUARE} pixels, not {size}")
        x = np.asarray(image28, dtype=np.float32).reshape(INPUT_SIZE, INPUT_SIZE)
        corners = np.asarray(corners, dtype=np.intp).reshape(-1, 2)
        whole = _conv(_pool_bias_relu(_conv(x.reshape(1, 28, 28, 1), self._k1), self._b1), self._k2)
        out, crop = _CONV2_WINDOW, 2 * _CONV2_WINDOW + 6  # 6 conv2 outputs <- 18 input rows
        # conv2 rows the square can change: from (its conv1 rows' pooled rows) - 2 on.
        starts = np.clip((corners - 2) // 2 - 2, 0, whole.shape[1] - out)
        logits = []
        for begin in range(0, len(corners), OCCLUSION_CHUNK):
            part, at = (
                corners[begin : begin + OCCLUSION_CHUNK],
                starts[begin : begin + OCCLUSION_CHUNK],
            )
            crops = np.empty((len(part), crop, crop, 1), dtype=np.float32)
            for k, ((r, c), (i, j)) in enumerate(zip(part, at, strict=True)):
                block = x[2 * i : 2 * i + crop, 2 * j : 2 * j + crop].copy()
                block[
                    max(r - 2 * i, 0) : r + size - 2 * i, max(c - 2 * j, 0) : c + size - 2 * j
                ] = 0
                crops[k, ..., 0] = block
            window = _conv(_pool_bias_relu(_conv(crops, self._k1), self._b1), self._k2)
            conv2 = np.repeat(whole, len(part), axis=0)
            for k, (i, j) in enumerate(at):
                conv2[k, i : i + out, j : j + out] = window[k]
            logits.append(self._from_conv2(conv2)[0])
        return np.concatenate(logits) if logits else np.empty((0, self.config.num_classes))

    def first_layer_filters(self) -> np.ndarray:
        """conv1's kernels as (conv1, 3, 3) float32: what the first layer looks for."""
        return np.ascontiguousarray(self._k1.T.reshape(-1, KERNEL, KERNEL))

    def weights_digest(self) -> str:
        """A SHA-256 of the config and every parameter: the same weights give the same
        digest whatever file (or training run) they came from, so caches key on it."""
        digest = hashlib.sha256(repr(sorted(self.config.to_dict().items())).encode())
        for array in (self._k1, self._b1, self._k2, self._b2, self._k3, self._b3):
            digest.update(np.ascontiguousarray(array).tobytes())
        for array in (self._fc1, self._fc1_b, self._fc2, self._fc2_b):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def layer_activations(
        self, image28: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
        """For one (28, 28) input: the three convolutions' maps after bias + ReLU and before
        pooling, channels first ((32, 26, 26), (64, 11, 11), (64, 3, 3) for the seed
        shape), fc1's ReLU output (hidden,) and the logits (10,).

        The full maps are what a person wants to see, so here the bias and ReLU come
        before the pooling (the same values where pooling keeps them: max commutes)."""
        x = np.asarray(image28, dtype=np.float32).reshape(1, INPUT_SIZE, INPUT_SIZE, 1)
        maps = []
        for kernel, bias in ((self._k1, self._b1), (self._k2, self._b2), (self._k3, self._b3)):
            full = _conv(x, kernel)
            full += bias
            np.maximum(full, 0.0, out=full)
            maps.append(full)
            x = _pool(full)
        hidden = maps[2].reshape(1, -1) @ self._fc1
        hidden += self._fc1_b
        np.maximum(hidden, 0.0, out=hidden)
        logits = hidden @ self._fc2 + self._fc2_b
        layers = tuple(np.ascontiguousarray(m[0].transpose(2, 0, 1)) for m in maps)
        return layers, hidden[0], logits[0]  # type: ignore[return-value]

    def input_gradients(
        self, batch: np.ndarray, output_weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The logits (N, 10) and the gradient of ``sum(output_weights * logits)`` per image
        with respect to each input pixel, (N, 28, 28): a hand-written backward pass of this
        small network, so saliency needs no torch (1-2.5 s to import) on the way to the
        panel. ``output_weights`` is (10,) for every image or (N, 10): e.g. +1 at the
        target and -1 at the class it is compared with.

        Max-pooling sends the gradient to the first maximum of each window (row-major), as
        torch does; ReLU passes it where the pre-activation is > 0. Passes of ``CHUNK``
        images, as in the forward pass (16 at once took twice as long as 2 x 8)."""
        x = np.asarray(batch, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE, 1)
        weights = np.broadcast_to(
            np.asarray(output_weights, dtype=np.float32), (len(x), self.config.num_classes)
        )
        return _in_chunks(self._gradient_chunk, x, weights)

    def _gradient_chunk(self, x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[0]
        c1 = _conv(x, self._k1)
        p1, where1 = _pool_with_routes(c1)
        p1 += self._b1
        alive1 = p1 > 0
        np.maximum(p1, 0.0, out=p1)
        c2 = _conv(p1, self._k2)
        p2, where2 = _pool_with_routes(c2)
        p2 += self._b2
        alive2 = p2 > 0
        np.maximum(p2, 0.0, out=p2)
        c3 = _conv(p2, self._k3)
        c3 += self._b3
        alive3 = c3 > 0
        np.maximum(c3, 0.0, out=c3)
        hidden = c3.reshape(n, -1) @ self._fc1
        hidden += self._fc1_b
        logits = np.maximum(hidden, 0.0) @ self._fc2 + self._fc2_b

        g = (weights @ self._fc2.T) * (hidden > 0)
        g = (g @ self._fc1.T).reshape(c3.shape) * alive3
        g = _conv_backward(g, self._k3, p2.shape) * alive2
        g = _conv_backward(_unpool(g, where2, c2.shape), self._k2, p1.shape) * alive1
        g = _conv_backward(_unpool(g, where1, c1.shape), self._k1, x.shape)
        return logits, g.reshape(n, INPUT_SIZE, INPUT_SIZE)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so large logits cannot overflow."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted
