"""Where a trial's first epoch goes: one profiled `model.train` run, split into parts.

The parts come from wall clocks around the run and a callback that stamps every batch:
`trace` is the first step's time beyond a steady step (tracing, compiling, first-call
set-up), `retrace` the same for epoch 1's last step (a smaller batch traces again), and
`first val` the first validation pass beyond a steady one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from data import CelebaData, Split
from model import ModelParams, build_model, predict_proba, train
from model.traces import TraceCounter

__all__ = ["Mode", "Network", "Profile", "profile", "synthetic_data"]


@dataclass(frozen=True)
class Network:
    name: str
    params: ModelParams
    image_size: int
    batch_size: int
    n_train: int
    n_val: int  # the test split has as many


@dataclass(frozen=True)
class Mode:
    name: str
    trace_once: bool
    jit_compile: bool | None  # None: the backend's own choice ("auto")


@dataclass(frozen=True)
class Profile:
    build: float  # clear_session + build_model (+ compile)
    setup: float  # from calling train to its first batch
    trace: float  # first step beyond a steady step
    retrace: float  # epoch 1's last step beyond a steady step
    first_val: float  # first validation pass beyond a steady one
    first_epoch: float  # training part of epoch 1, as EpochResult.seconds
    steady_epoch: float  # median of the later epochs
    images_per_second: float  # steady, as EpochResult.images_per_second
    train_traces: int
    predict_traces: int
    jit_compile: bool

    @property
    def rest(self) -> float:
        """Epoch 1's extra time not explained by the trace and the retrace."""
        return self.first_epoch - self.steady_epoch - self.trace - self.retrace

    @property
    def ratio(self) -> float:
        return self.first_epoch / self.steady_epoch


class _BatchClock(keras.callbacks.Callback):
    """Start and end of every batch, per epoch (logs arrive as floats: the step is done)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[list[tuple[float, float]]] = []
        self._begun = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.steps.append([])

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._begun = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps[-1].append((self._begun, time.perf_counter()))


def synthetic_data(network: Network, seed: int = 0) -> CelebaData:
    """Random uint8 images and 0/1 labels in memory, shaped like the cache's splits."""
    rng = np.random.default_rng(seed)
    size, n_attrs = network.image_size, 40

    def split(n: int) -> Split:
        ids = np.array([f"{i:06d}.jpg" for i in range(n)])
        images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        return Split(ids, images, rng.integers(0, 2, (n, n_attrs), dtype=np.uint8))

    return CelebaData(
        path=Path("in-memory"),
        attr_names=tuple(f"attr{i}" for i in range(n_attrs)),
        image_size=size,
        train=split(network.n_train),
        val=split(network.n_val),
        test=split(network.n_val),
        fingerprint="synthetic",
        manifest={},
    )


def profile(
    network: Network, mode: Mode, data: CelebaData, epochs: int, policy: str | None
) -> Profile:
    """One trial of `network` in `mode`: train for `epochs`, then predict the test split."""
    if epochs < 2:
        raise ValueError("a steady epoch needs epochs >= 2")
    started = time.perf_counter()
    keras.backend.clear_session(free_memory=True)
    model = build_model(network.params, network.image_size, 40, dtype_policy=policy)
    if mode.jit_compile is not None:
        model.jit_compile = mode.jit_compile
    built = time.perf_counter()
    traces = TraceCounter.install(model)
    clock = _BatchClock()
    called = time.perf_counter()
    result = train(
        network.params,
        data,
        epochs=epochs,
        batch_size=network.batch_size,
        model=model,
        callbacks=[clock],
        trace_once=mode.trace_once,
    )
    predict_proba(result.model, data.test.images, pad=mode.trace_once)
    steady_steps = [end - begin for epoch in clock.steps[1:] for begin, end in epoch]
    steady_step = float(np.median(steady_steps))
    first_begin, first_end = clock.steps[0][0]
    last_begin, last_end = clock.steps[0][-1]
    later = result.history[1:]
    return Profile(
        build=built - started,
        setup=first_begin - called,
        trace=first_end - first_begin - steady_step,
        retrace=last_end - last_begin - steady_step,
        first_val=result.history[0].val_seconds - float(np.median([e.val_seconds for e in later])),
        first_epoch=result.history[0].seconds,
        steady_epoch=float(np.median([e.seconds for e in later])),
        images_per_second=float(np.median([e.images_per_second for e in later])),
        train_traces=traces.train,
        predict_traces=traces.predict,
        jit_compile=bool(model.jit_compile),
    )
