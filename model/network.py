"""The CNN's builder: uint8 images in, 40 sigmoid probabilities out."""

from __future__ import annotations

import keras

from model.params import ModelParams

__all__ = ["build_model"]


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
