"""An exported model.keras run with NumPy alone, for `serve.predict`.

Scoring a few photos takes milliseconds; with Keras and TensorFlow imported to do it, the
command took 4.7 s against 0.3 s on a Zen 4 core and 14 s against 1 s on one as slow as a
first-generation EPYC (docs/benchmarks-speed.md, section 3). The file is read as data
(config.json and the weights, never code), so it is as safe as Keras' safe_mode. Only the
layers that model.network.build_model writes, at float32, in one chain, are known here: for
any other export `numpy_model` returns None and the caller loads it with Keras.
tests/model/test_numpy_model.py holds the probabilities to Keras' own on the same file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["NumpyModel", "numpy_model"]

Layer = Callable[[np.ndarray], np.ndarray]

# Keras names a layer's weights in the file by its class, snake_case, numbered by order
# (saving_lib._save_container_state), not by the layer's own name
_WEIGHTS_GROUP = {
    "InputLayer": "input_layer",
    "Rescaling": "rescaling",
    "RandomFlip": "random_flip",
    "Conv2D": "conv2d",
    "BatchNormalization": "batch_normalization",
    "MaxPooling2D": "max_pooling2d",
    "Flatten": "flatten",
    "Dense": "dense",
    "Dropout": "dropout",
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(89) is inf in float32: 1 / inf is the right 0
        return 1.0 / (1.0 + np.exp(-x))


# each is given an array made for it, so relu may overwrite it
_ACTIVATIONS: dict[str, Layer] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0, out=x),
    "sigmoid": _sigmoid,
}
_CHUNK = 32  # images per pass: bounds the memory of the patches (under 40 MB at 64x64)


@dataclass(frozen=True)
class NumpyModel:
    """The same interface as keras.Model where model.prediction.predict_proba uses it."""

    layers: tuple[Layer, ...]
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(x), _CHUNK):
            y = np.asarray(x[start : start + _CHUNK])
            for layer in self.layers:
                y = layer(y)
            out.append(y.astype(np.float32, copy=False))
        return np.concatenate(out) if out else np.zeros((0, self.output_shape[-1]), np.float32)


def numpy_model(path: str | Path) -> NumpyModel | None:
    """The model in a .keras file, or None if it holds anything build_model does not write
    (or cannot be read: Keras then gives its own reason)."""
    import h5py  # Keras' own dependency; 0.1 s

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
        with h5py.File(io.BytesIO(weights), "r") as store:
            return _build(config, store["layers"])
    except (OSError, KeyError, TypeError, ValueError, IndexError, zipfile.BadZipFile):
        return None


def _build(config: dict, store) -> NumpyModel | None:
    if config.get("class_name") != "Functional":
        return None
    specs = config["config"]["layers"]
    if not _one_chain(specs, config["config"]):
        return None
    counts: dict[str, int] = {}
    layers: list[Layer] = []
    shape: tuple[int | None, ...] = ()
    for spec in specs:
        kind, settings = spec["class_name"], spec["config"]
        if kind not in _WEIGHTS_GROUP or not _float32(kind, settings):
            return None
        group = _WEIGHTS_GROUP[kind]
        number = counts.get(group, 0)
        counts[group] = number + 1
        found = store[group if number == 0 else f"{group}_{number}"]["vars"]
        arrays = [np.asarray(found[str(i)], dtype=np.float32) for i in range(len(found))]
        if kind == "InputLayer":
            shape = tuple(settings["batch_shape"])
            continue
        layer = _layer(kind, settings, arrays)
        if layer is None:
            return None
        layers.append(layer)
    output = _output_shape(layers, shape) if layers else None
    if output is None:
        return None
    return NumpyModel(layers=tuple(layers), input_shape=shape, output_shape=output)


def _one_chain(specs: list[dict], graph: dict) -> bool:
    """The input first, each layer takes the one before it, and the last is the output."""
    if specs[0]["class_name"] != "InputLayer":
        return False
    for before, spec in zip(specs, specs[1:], strict=False):
        nodes = spec.get("inbound_nodes") or []
        if len(nodes) != 1 or len(nodes[0]["args"]) != 1:
            return False
        if nodes[0]["args"][0]["config"]["keras_history"][0] != before["name"]:
            return False
    outputs = graph["output_layers"]
    outputs = outputs if isinstance(outputs[0], list) else [outputs]
    return len(outputs) == 1 and outputs[0][0] == specs[-1]["name"]


def _float32(kind: str, settings: dict) -> bool:
    if kind == "InputLayer":
        return settings["dtype"] in ("uint8", "float32")
    policy = settings["dtype"]
    name = policy["config"]["name"] if isinstance(policy, dict) else policy
    return name == "float32"


def _layer(kind: str, settings: dict, arrays: list[np.ndarray]) -> Layer | None:
    if kind in ("RandomFlip", "Dropout"):  # training only
        return lambda x: x
    if kind == "Rescaling":
        scale, offset = np.float32(settings["scale"]), np.float32(settings["offset"])
        return lambda x: x.astype(np.float32) * scale + offset
    if kind == "Flatten":
        return lambda x: x.reshape(len(x), -1)
    if kind == "Dense":
        return _dense(settings, arrays)
    if kind == "Conv2D":
        return _conv2d(settings, arrays)
    if kind == "BatchNormalization":
        return _batch_norm(settings, arrays)
    if kind == "MaxPooling2D":
        return _max_pool(settings)
    return None


def _dense(settings: dict, arrays: list[np.ndarray]) -> Layer | None:
    kernel, bias = arrays
    activation = _ACTIVATIONS.get(settings["activation"])
    if activation is None or not settings["use_bias"]:
        return None
    return lambda x: activation(x @ kernel + bias)


def _conv2d(settings: dict, arrays: list[np.ndarray]) -> Layer | None:
    kernel, bias = arrays
    rows, cols = kernel.shape[:2]
    activation = _ACTIVATIONS.get(settings["activation"])
    plain = (
        settings["padding"] == "same"
        and list(settings["strides"]) == [1, 1]
        and list(settings["dilation_rate"]) == [1, 1]
        and settings["groups"] == 1
        and settings["use_bias"]
        and settings["data_format"] == "channels_last"
        and rows % 2 == 1
        and cols % 2 == 1
    )
    if not plain or activation is None:
        return None

    matrix = kernel.reshape(-1, kernel.shape[-1])  # (rows * cols * channels, filters)

    def conv(x: np.ndarray) -> np.ndarray:
        n, height, width, _ = x.shape
        padded = np.pad(x, ((0, 0), (rows // 2, rows // 2), (cols // 2, cols // 2), (0, 0)))
        # every pixel's neighbourhood as one row, in the kernel's (row, col, channel) order:
        # one matrix product, 1.2-3.7x faster than one per kernel position
        windows = sliding_window_view(padded, (rows, cols), axis=(1, 2))
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * height * width, -1)
        out = (patches @ matrix).reshape(n, height, width, -1)
        out += bias
        return activation(out)

    return conv


def _batch_norm(settings: dict, arrays: list[np.ndarray]) -> Layer | None:
    if settings["axis"] not in (-1, 3) or not (settings["center"] and settings["scale"]):
        return None
    gamma, beta, mean, variance = arrays
    inverse = gamma / np.sqrt(variance + np.float32(settings["epsilon"]))
    shift = beta - mean * inverse
    return lambda x: x * inverse + shift


def _max_pool(settings: dict) -> Layer | None:
    size = list(settings["pool_size"])
    if (
        size != [2, 2]
        or list(settings["strides"]) != [2, 2]
        or settings["padding"] != "valid"
        or settings["data_format"] != "channels_last"
    ):
        return None

    def pool(x: np.ndarray) -> np.ndarray:
        n, height, width, channels = x.shape
        h, w = height // 2, width // 2  # "valid": an odd last row or column is dropped
        blocks = x[:, : 2 * h, : 2 * w, :].reshape(n, h, 2, w, 2, channels)
        return blocks.max(axis=(2, 4))

    return pool


def _output_shape(layers: list[Layer], shape: tuple[int | None, ...]) -> tuple | None:
    """The output's shape, found by running one black image through the layers."""
    try:
        y = np.zeros((1, *shape[1:]), dtype=np.uint8)
        for layer in layers:
            y = layer(y)
    except (ValueError, TypeError):  # weights that do not fit the shapes
        return None
    return (None, *y.shape[1:])
