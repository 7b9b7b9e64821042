"""A small Keras-HDF5 convolutional network run in NumPy (no TensorFlow).

Reads the ``model_config`` and ``model_weights`` of a Keras 2 ``.hdf5`` file with h5py and
runs the functional graph it describes, for the layer kinds a mini-Xception uses: Conv2D,
SeparableConv2D, BatchNormalization, Activation (relu, softmax, linear), MaxPooling2D,
Add, GlobalAveragePooling2D. Tensors are float32, N x H x W x C as in Keras. Padding follows
TensorFlow's 'same' rule: the total padding ``max((out - 1) * stride + k - size, 0)`` is
split with the larger half after (right and bottom), which matters for stride 2.
A layer of any other kind is refused with a clear error rather than guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viewfinder.errors import BadInput

Array = np.ndarray


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: Array, kernel: tuple[int, int], stride: tuple[int, int], padding: str, value: float = 0.0) -> Array:
    if padding == "valid":
        return x
    (top, bottom), (left, right) = (_same_padding(x.shape[i + 1], kernel[i], stride[i]) for i in (0, 1))
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(
    x: Array, kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[list[tuple[int, int, Array]], int, int]:
    """Every (row, column, strided slice) of a k x k window over a padded tensor."""
    height = (x.shape[1] - kernel[0]) // stride[0] + 1
    width = (x.shape[2] - kernel[1]) // stride[1] + 1
    slices = [
        (
            i,
            j,
            x[
                :,
                i : i + stride[0] * (height - 1) + 1 : stride[0],
                j : j + stride[1] * (width - 1) + 1 : stride[1],
                :,
            ],
        )
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]
    return slices, height, width


def conv2d(x: Array, kernel: Array, stride: tuple[int, int], padding: str, bias: Array | None = None) -> Array:
    """A Keras Conv2D: ``kernel`` is kh x kw x C_in x C_out."""
    size = (kernel.shape[0], kernel.shape[1])
    slices, height, width = _windows(_pad(x, size, stride, padding), size, stride)
    out = np.zeros((x.shape[0], height, width, kernel.shape[3]), dtype=np.float32)
    for i, j, window in slices:
        out += window @ kernel[i, j]
    return out if bias is None else out + bias


def depthwise2d(x: Array, kernel: Array, stride: tuple[int, int], padding: str) -> Array:
    """A depthwise convolution with depth multiplier 1: ``kernel`` is kh x kw x C x 1."""
    size = (kernel.shape[0], kernel.shape[1])
    slices, height, width = _windows(_pad(x, size, stride, padding), size, stride)
    out = np.zeros((x.shape[0], height, width, x.shape[3]), dtype=np.float32)
    for i, j, window in slices:
        out += window * kernel[i, j, :, 0]
    return out


def max_pool(x: Array, size: tuple[int, int], stride: tuple[int, int], padding: str) -> Array:
    slices, _, _ = _windows(_pad(x, size, stride, padding, -np.inf), size, stride)
    out = slices[0][2].copy()
    for _, _, window in slices[1:]:
        np.maximum(out, window, out=out)
    return out


def softmax(x: Array) -> Array:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass
class Node:
    """One layer of the graph: its function and the names of the layers it reads."""

    name: str
    inputs: list[str]
    run: Callable[..., Array]


@dataclass
class KerasNet:
    """A functional Keras model as NumPy functions, in the file's (topological) layer order."""

    input_name: str
    input_shape: tuple[int, ...]  # H x W x C
    output_name: str
    nodes: list[Node] = field(default_factory=list)

    def __call__(self, batch: Array) -> Array:
        """The output for an N x H x W x C float32 batch."""
        values: dict[str, Array] = {self.input_name: np.asarray(batch, dtype=np.float32)}
        for node in self.nodes:
            values[node.name] = node.run(*(values[name] for name in node.inputs))
        return values[self.output_name]

    @classmethod
    def load(cls, path: Path) -> KerasNet:
        """Read a Keras 2 ``.hdf5`` model (architecture and weights); BadInput naming the file
        and the layer when it is not one this reader knows."""
        import h5py

        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
            if raw is None:
                raise BadInput(f"{path}: no model_config in the HDF5 file; save the Keras model with its architecture")
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            group = h5["model_weights"] if "model_weights" in h5 else h5
            weights = {name: _layer_weights(group, name) for name in group.keys()}
        layers = config["config"]["layers"]
        first = layers[0]
        if first["class_name"] != "InputLayer":
            raise BadInput(f"{path}: the first layer is {first['class_name']}, not an InputLayer")
        shape = tuple(first["config"]["batch_input_shape"][1:])
        outputs = config["config"]["output_layers"]
        net = cls(first["name"], shape, outputs[0][0])
        for layer in layers[1:]:
            inputs = [inbound[0] for inbound in layer["inbound_nodes"][0]]
            net.nodes.append(Node(layer["name"], inputs, _layer(path, layer, weights.get(layer["name"], {}))))
        return net


def _layer_weights(group: Any, name: str) -> dict[str, Array]:
    """A layer's arrays by short name (``kernel``, ``gamma``, ...)."""
    layer = group[name]
    names = [n.decode() if isinstance(n, bytes) else n for n in layer.attrs.get("weight_names", [])]
    return {n.split("/")[-1].split(":")[0]: np.asarray(layer[n], dtype=np.float32) for n in names}


def _layer(path: Path, layer: dict[str, Any], w: dict[str, Array]) -> Callable[..., Array]:
    kind, cfg = layer["class_name"], layer["config"]
    if kind == "Conv2D":
        stride, padding, bias = tuple(cfg["strides"]), cfg["padding"], w.get("bias")
        _refuse_unless(
            path, layer, cfg.get("activation", "linear") == "linear" and tuple(cfg["dilation_rate"]) == (1, 1)
        )
        return lambda x: conv2d(x, w["kernel"], stride, padding, bias)
    if kind == "SeparableConv2D":
        stride, padding, bias = tuple(cfg["strides"]), cfg["padding"], w.get("bias")
        _refuse_unless(path, layer, cfg.get("depth_multiplier", 1) == 1 and cfg.get("activation", "linear") == "linear")
        pointwise = w["pointwise_kernel"][0, 0]
        return lambda x: _add_bias(depthwise2d(x, w["depthwise_kernel"], stride, padding) @ pointwise, bias)
    if kind == "BatchNormalization":
        scale = w.get("gamma", np.float32(1.0)) / np.sqrt(w["moving_variance"] + np.float32(cfg["epsilon"]))
        shift = w.get("beta", np.float32(0.0)) - w["moving_mean"] * scale
        return lambda x: x * scale + shift
    if kind == "Activation":
        activation = cfg["activation"]
        _refuse_unless(path, layer, activation in ("relu", "softmax", "linear"))
        if activation == "relu":
            return lambda x: np.maximum(x, np.float32(0.0))
        return softmax if activation == "softmax" else (lambda x: x)
    if kind == "MaxPooling2D":
        size, stride, padding = tuple(cfg["pool_size"]), tuple(cfg["strides"]), cfg["padding"]
        return lambda x: max_pool(x, size, stride, padding)
    if kind == "Add":
        return lambda *xs: np.sum(xs, axis=0)
    if kind == "GlobalAveragePooling2D":
        return lambda x: x.mean(axis=(1, 2))
    raise BadInput(f"{path}: layer {layer['name']!r} is a {kind}, which this NumPy reader does not run")


def _add_bias(x: Array, bias: Array | None) -> Array:
    return x if bias is None else x + bias


def _refuse_unless(path: Path, layer: dict[str, Any], supported: bool) -> None:
    if not supported:
        raise BadInput(
            f"{path}: layer {layer['name']!r} ({layer['class_name']}) uses settings this NumPy reader "
            "does not run (activation, dilation or depth multiplier)"
        )
