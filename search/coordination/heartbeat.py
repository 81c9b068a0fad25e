"""A running trial's heartbeat: its first beat inside the claim, then a background thread.

Optuna beats only inside `study.optimize`; the worker uses ask/tell, so it beats itself.
A worker that dies stops beating, and after the grace period any other worker fails the
trial (and retries it) through Optuna's stale-trial check.
"""

from __future__ import annotations

import logging
import threading

import optuna

from search.coordination.storage import storage_reason

__all__ = ["Heartbeat", "first_beat"]

log = logging.getLogger(__name__)


def first_beat(study: optuna.Study, trial: optuna.Trial) -> None:
    """Beat at once, while the claim's lock is held, so a new trial is never without a beat.

    If this beat fails, the trial is still recognised later: a RUNNING trial with no beat
    after the grace period is failed as orphaned (search.coordination.storage.OrphanAwareStorage).
    """
    # Neither Study nor Trial exposes its storage or id publicly; the heartbeat API needs both.
    study._storage.record_heartbeat(trial._trial_id)


class Heartbeat:
    """Records the trial's heartbeat in the background while it trains (ask/tell has none)."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial: optuna.Trial) -> None:
        self._stop = threading.Event()
        interval = storage.get_heartbeat_interval() or 10
        trial_id = trial._trial_id

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    storage.record_heartbeat(trial_id)
                except Exception as exc:  # a missed beat is retried at the next interval
                    log.warning("heartbeat failed: %s", storage_reason(exc))

        # The claim beat first (first_beat), so this thread only keeps the beat going.
        self._thread = threading.Thread(target=beat, daemon=True, name="heartbeat")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
