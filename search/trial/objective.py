"""One trial: sample a configuration, train the CNN, report validation AUC every epoch.

The objective receives the data once (memory-mapped cache) and is called once per trial.
Its value is the validation macro AUC (or micro with `metric="micro"`); test figures are
recorded as user attributes for the record, never used to select.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras
import optuna

from data import CelebaData
from model import EpochResult, Metrics, default_dtype_policy, evaluate, predict_proba, train
from model.latency import measure_footprint
from search.coordination.storage import retry_storage
from search.trial.constraints import Constraints
from search.trial.records import BUDGET, CONSTRAINT, PRUNER, TIME, TrialRecord
from search.trial.space import get_space

__all__ = ["Objective"]


def metric_value(metrics: Metrics, metric: str) -> float:
    return metrics.macro_auc if metric == "macro" else metrics.micro_auc


class Objective:
    """Callable objective; raises optuna.TrialPruned when the pruner says so."""

    def __init__(
        self,
        data: CelebaData,
        *,
        space: str,
        epochs: int,
        metric: str = "macro",
        seed: int = 0,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        max_params: int | None = None,
        max_latency_ms: float | None = None,
        deadline: float | None = None,
    ) -> None:
        self.data = data
        self.space = get_space(space)
        self.epochs = epochs
        self.metric = metric
        self.seed = seed
        self.callbacks = callbacks
        self.constraints = Constraints(max_params, max_latency_ms)
        self.deadline = deadline  # time.time() after which no trial's epoch may end
        # from the last trial's start to its first epoch's end: what a new trial needs at least
        self.first_epoch_seconds = 0.0

    def __call__(self, trial: optuna.Trial, epochs: int | None = None) -> float:
        """Train `trial`'s configuration for `epochs` (default: the objective's) at most."""
        started = time.perf_counter()
        params = retry_storage(lambda: self.space.sample(trial), "sample parameters")
        footprint = measure_footprint(
            params.model,
            self.data.image_size,
            len(self.data.attr_names),
            dtype_policy=default_dtype_policy(),
        )
        broken = self._broken_constraint(footprint.n_params, footprint.latency_ms)
        TrialRecord(
            n_params=footprint.n_params,
            latency_ms=footprint.latency_ms,
            infeasible=broken,
            pruned_by=None if broken is None else CONSTRAINT,
        ).save(trial)
        excess = self.constraints.excess(footprint.n_params, footprint.latency_ms)
        for name, value in excess.items():  # what TPE learns the feasible region from
            retry_storage(lambda n=name, v=value: trial.set_constraint(n, v), "set a constraint")
        if broken is not None:
            raise optuna.TrialPruned(f"not trained: {broken}")
        history: list[EpochResult] = []

        def on_epoch_end(result: EpochResult) -> None:
            history.append(result)
            if result.epoch == 1:
                self.first_epoch_seconds = time.perf_counter() - started
            value = metric_value(result.val, self.metric)
            retry_storage(lambda: trial.report(value, result.epoch), "report an epoch")
            if retry_storage(trial.should_prune, "ask the pruner"):
                TrialRecord(**_epoch_figures(history), pruned_by=PRUNER).save(trial)
                raise optuna.TrialPruned(f"pruned after epoch {result.epoch}: {value:.4f}")

        epochs = self.epochs if epochs is None else min(epochs, self.epochs)
        train_started = time.perf_counter()
        result = train(
            params.model,
            self.data,
            epochs=epochs,
            batch_size=params.batch_size,
            seed=self.seed,
            on_epoch_end=on_epoch_end,
            callbacks=self.callbacks,
            deadline=self.deadline,
        )
        if result.stopped_by == "time":
            TrialRecord(**_epoch_figures(history), pruned_by=TIME).save(trial)
            raise optuna.TrialPruned(f"the time budget ran out after epoch {len(history)}")
        if epochs < self.epochs:
            # Stopped by the budget, not finished: a COMPLETE 1-epoch score would teach TPE,
            # the summary and refit that it is what this configuration is worth.
            TrialRecord(**_epoch_figures(history), pruned_by=BUDGET).save(trial)
            raise optuna.TrialPruned(f"the epoch budget ran out after epoch {len(history)}")
        eval_started = time.perf_counter()
        train_seconds = eval_started - train_started
        test_probs = predict_proba(result.model, self.data.test.images)
        test = evaluate(self.data.test.labels, test_probs, self.data.attr_names)
        eval_seconds = time.perf_counter() - eval_started
        val = history[-1].val
        TrialRecord(
            **_epoch_figures(history),
            val_macro_auc=val.macro_auc,
            val_micro_auc=val.micro_auc,
            val_mean_accuracy=val.mean_accuracy,
            val_auc_per_attribute={
                name: auc for name, auc in val.per_attribute_auc.items() if auc is not None
            },
            test_macro_auc=test.macro_auc,
            test_micro_auc=test.micro_auc,
            test_mean_accuracy=test.mean_accuracy,
            n_params=result.n_params,
            train_seconds=train_seconds,
            test_eval_seconds=eval_seconds,
            trial_seconds=time.perf_counter() - started,
        ).save(trial)
        return metric_value(val, self.metric)

    def _broken_constraint(self, n_params: int, latency_ms: float) -> str | None:
        limits = self.constraints
        if limits.max_params is not None and n_params > limits.max_params:
            return f"{n_params:,} parameters > --max-params {limits.max_params:,}"
        if limits.max_latency_ms is not None and latency_ms > limits.max_latency_ms:
            return f"latency {latency_ms:.2f} ms > --max-latency-ms {limits.max_latency_ms:g}"
        return None


def _epoch_figures(history: list[EpochResult]) -> dict[str, float]:
    """What a trial records of its epochs, pruned or not."""
    fit_seconds = sum(r.seconds for r in history)
    return {
        "epochs_run": len(history),
        "fit_seconds": fit_seconds,
        "seconds_per_epoch": fit_seconds / max(len(history), 1),
        "images_per_second": sum(r.images_per_second for r in history) / max(len(history), 1),
    }
