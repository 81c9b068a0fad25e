"""What defines one network, as a frozen config whose defaults are the notebook's network.

Kept apart from the builder so that code that only names a configuration (the search
spaces, a model card) does not import Keras.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelParams"]


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
