"""One optimisation step per training batch, with as little bookkeeping around it as the
backend allows.

`model.fit` feeds batches through a TensorFlow data pipeline or an iterator of its own (JAX): on
one core that made a TensorFlow trial of the demo's network 1.6-1.9x as long, most of it
system time (docs/benchmarks-speed.md). `model.train_on_batch` has no such feeding, but on
JAX it gathers every variable of the model before each batch and writes it back after it;
the JAX steps below do that once per epoch.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["EpochSteps", "epoch_steps"]


class EpochSteps:
    """`model.train_on_batch`, batch by batch, for any backend.

    Call `begin()` before an epoch's first batch and `end()` after its last one, before
    the model is used otherwise (scored, saved, its weights read or set).
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self._total = 0.0
        self._batches = 0

    def begin(self) -> None:
        self._total, self._batches = 0.0, 0

    def __call__(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Train on one batch; the epoch's mean batch loss so far (as `fit` reports it).

        A non-finite batch loss makes the mean non-finite from that batch on."""
        self._total += float(self.model.train_on_batch(images, labels))
        self._batches += 1
        return self._total / self._batches

    def end(self) -> None:
        pass


class _JaxEpochSteps(EpochSteps):
    """Keras' own jitted JAX train step, its state kept as arrays for a whole epoch.

    The first batch of a training goes through `train_on_batch`, which builds what the step
    needs and compiles it; later batches call the same compiled `model.train_function` with
    the state it returned, and the model's variables are written once, at the epoch's end.
    The loss tracker's state runs on from batch to batch, so the step reports the epoch's
    mean loss so far itself.
    """

    def __init__(self, model: keras.Model) -> None:
        super().__init__(model)
        self._state: tuple | None = None

    def begin(self) -> None:
        super().begin()
        if self.model.train_function is not None:  # else the first batch builds the step
            self.model.reset_metrics()
            self._state = self._read_state()

    def __call__(self, images: np.ndarray, labels: np.ndarray) -> float:
        if self._state is None:
            mean = super().__call__(images, labels)
            self._state = self._read_state()  # its loss tracker runs on from this batch
            return mean
        logs, self._state = self.model.train_function(self._state, iter([(images, labels, None)]))
        return float(logs["loss"])

    def end(self) -> None:
        if self._state is None:
            return
        for variables, values in zip(self._variables(), self._state, strict=True):
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)
        self._state = None

    def _variables(self) -> tuple[list, list, list, list]:
        """The model's variables in the order of the state Keras' JAX train step takes."""
        model = self.model
        return (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )

    def _read_state(self) -> tuple[list, ...]:
        return tuple([v.value for v in variables] for variables in self._variables())


def epoch_steps(model: keras.Model) -> EpochSteps:
    """The cheapest correct way to train `model` batch by batch on this backend."""
    if keras.backend.backend() == "jax" and model.jit_compile and not model.run_eagerly:
        return _JaxEpochSteps(model)
    return EpochSteps(model)
