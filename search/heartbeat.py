"""A running trial's heartbeat, beaten from a background thread while it trains.

Optuna beats only inside `study.optimize`; the worker uses ask/tell, so it beats itself.
A worker that dies stops beating, and after the grace period any other worker fails the
trial (and retries it) through Optuna's stale-trial check.
"""

from __future__ import annotations

import logging
import threading

import optuna

from search.storage import storage_reason

__all__ = ["Heartbeat"]

log = logging.getLogger(__name__)


class Heartbeat:
    """Records the trial's heartbeat in the background while it trains (ask/tell has none)."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial: optuna.Trial) -> None:
        self._stop = threading.Event()
        interval = storage.get_heartbeat_interval() or 10
        # Trial exposes no public id; the storage's heartbeat API needs it.
        trial_id = trial._trial_id

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    storage.record_heartbeat(trial_id)
                except Exception as exc:  # a missed beat is retried at the next interval
                    log.warning("heartbeat failed: %s", storage_reason(exc))

        storage.record_heartbeat(trial_id)
        self._thread = threading.Thread(target=beat, daemon=True, name="heartbeat")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
