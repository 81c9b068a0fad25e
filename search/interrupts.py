"""Ctrl-C and SIGTERM as a request to stop, honoured where a worker can stop cleanly."""

from __future__ import annotations

import logging
import signal
import threading

import keras

__all__ = ["Interrupts"]

log = logging.getLogger(__name__)


class Interrupts:
    """Ctrl-C and SIGTERM become a request to stop, honoured at safe points.

    The points are: between training batches (a Keras callback), between trials and while
    waiting for a slot. Raising KeyboardInterrupt at an arbitrary bytecode could land inside a
    garbage-collector callback, where Python swallows it, or between creating a trial and
    knowing it is ours. A second Ctrl-C stops at once.
    """

    def __init__(self) -> None:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after the current batch (Ctrl-C again to stop at once)")

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def keras_callback(self) -> keras.callbacks.Callback:
        interrupts = self

        class StopOnInterrupt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                interrupts.check()

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                interrupts.check()

        return StopOnInterrupt()
