"""The CNN: a frozen config whose defaults are the notebook's network, and its builder."""

from __future__ import annotations

from dataclasses import dataclass

import keras

__all__ = ["ModelParams", "build_model"]


@dataclass(frozen=True)
class ModelParams:
    """What a search may vary (widths, dropout, learning rate) and what a user may set."""

    # channels of the four Conv3x3 + BatchNorm + MaxPool2 blocks
    conv_widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    # units of the two hidden Dense layers after Flatten
    dense_widths: tuple[int, int] = (1024, 512)
    # dropout rate after each hidden Dense layer
    dropout: float = 0.5
    # Adam's learning rate
    learning_rate: float = 1e-3
    # random horizontal flips of training images (faces are roughly symmetric)
    flip: bool = False
    # binary cross-entropy label smoothing; 0 is the notebook's plain loss
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if len(self.conv_widths) != 4 or min(self.conv_widths) < 1:
            raise ValueError(f"conv_widths must be four positive ints, got {self.conv_widths}")
        if len(self.dense_widths) != 2 or min(self.dense_widths) < 1:
            raise ValueError(f"dense_widths must be two positive ints, got {self.dense_widths}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.learning_rate > 0.0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


def build_model(
    params: ModelParams, image_size: int, n_attrs: int = 40, *, dtype_policy: str | None = None
) -> keras.Model:
    """Build and compile the CNN for uint8 RGB `image_size` x `image_size` images.

    Scaling to [0, 1] happens inside the model, so an exported model takes raw pixels.
    `dtype_policy` (e.g. "mixed_bfloat16") applies to every layer but the output, which
    stays float32 so that the loss and the probabilities are computed at full precision.
    """
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 (four 2x2 poolings), got {image_size}")
    dtype = dtype_policy or "float32"
    inputs = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, dtype=dtype, name="rescale")(inputs)
    if params.flip:
        x = keras.layers.RandomFlip("horizontal", dtype=dtype, name="flip")(x)
    for i, width in enumerate(params.conv_widths, start=1):
        x = keras.layers.Conv2D(
            width, 3, padding="same", activation="relu", dtype=dtype, name=f"conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(dtype=dtype, name=f"bn{i}")(x)
        x = keras.layers.MaxPooling2D(2, dtype=dtype, name=f"pool{i}")(x)
    x = keras.layers.Flatten(dtype=dtype, name="flatten")(x)
    for i, units in enumerate(params.dense_widths, start=1):
        x = keras.layers.Dense(units, activation="relu", dtype=dtype, name=f"dense{i}")(x)
        x = keras.layers.Dropout(params.dropout, dtype=dtype, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(n_attrs, activation="sigmoid", dtype="float32", name="attrs")(x)
    model = keras.Model(inputs, outputs, name="celeba_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss=keras.losses.BinaryCrossentropy(label_smoothing=params.label_smoothing),
    )
    return model
