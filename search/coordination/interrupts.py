"""Ctrl-C, SIGTERM and a vanished parent as a request to stop, honoured where a worker can."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import keras

__all__ = ["Interrupts"]

log = logging.getLogger(__name__)

PARENT_POLL_S = 1.0


class Interrupts:
    """Ctrl-C and SIGTERM become a request to stop, honoured at safe points.

    The points are: between training batches (a Keras callback), between trials and while
    waiting for a slot. Raising KeyboardInterrupt at an arbitrary bytecode could land inside a
    garbage-collector callback, where Python swallows it, or between creating a trial and
    knowing it is ours. A second Ctrl-C stops at once.

    A worker process started by `search.run --workers N` is given its parent's PID: when that
    parent dies (even by SIGKILL, which it cannot pass on), the worker stops as on SIGTERM
    instead of running on as an orphan.
    """

    def __init__(self, parent_pid: int | None = None) -> None:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handle)
            signal.signal(signal.SIGTERM, self._handle)
        if parent_pid is not None:
            watch = threading.Thread(
                target=self._watch_parent, args=(parent_pid,), daemon=True, name="parent-watch"
            )
            watch.start()

    def _watch_parent(self, parent_pid: int) -> None:
        # An orphan is re-parented (to init or a subreaper), so its parent PID changes.
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        log.warning("the search.run parent (pid %d) is gone; stopping like on SIGTERM", parent_pid)
        self.requested = True

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
