"""Recording a trial's end when the database goes away in the middle of it.

A PostgreSQL restart can commit a trial's new state and drop the connection before the reply
reaches the worker; the worker then retries the tell and finds the trial already finished.
That must count as its own result, while a trial that another worker failed as stale must
not. The storage is a real SQLite file; the fault (a commit whose reply is lost) is injected
at the storage call that records the state.
"""

from __future__ import annotations

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from search.coordination.storage import open_storage
from search.trial.worker import _tell

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(tmp_path) -> optuna.Study:
    return optuna.create_study(
        storage=open_storage(f"sqlite:///{tmp_path}/tell.db"), direction="maximize"
    )


def _lose_the_first_reply(study: optuna.Study, monkeypatch) -> list[TrialState]:
    """The first state write is committed, then the connection drops before the reply."""
    storage = study._storage
    record = storage.set_trial_state_values
    written: list[TrialState] = []

    def committed_then_unreachable(trial_id, state, values=None):
        done = record(trial_id, state, values)
        written.append(state)
        if len(written) == 1:
            raise sqlalchemy.exc.OperationalError("UPDATE trials", {}, ConnectionResetError())
        return done

    monkeypatch.setattr(storage, "set_trial_state_values", committed_then_unreachable)
    monkeypatch.setattr("search.coordination.storage.time.sleep", lambda s: None)
    return written


@pytest.mark.parametrize(
    ("state", "value"),
    [(TrialState.PRUNED, None), (TrialState.COMPLETE, 0.75), (TrialState.FAIL, None)],
)
def test_a_tell_whose_reply_was_lost_counts_as_recorded(tmp_path, monkeypatch, state, value):
    study = _study(tmp_path)
    trial = study.ask()
    trial.report(0.6, step=0)
    written = _lose_the_first_reply(study, monkeypatch)

    assert _tell(study, trial, state, value) is True
    assert written == [state]  # the retry found it recorded and wrote nothing again
    (recorded,) = study.get_trials(deepcopy=False)
    assert recorded.state == state
    assert recorded.value == {TrialState.PRUNED: 0.6, TrialState.COMPLETE: 0.75}.get(state)


def test_a_trial_failed_as_stale_meanwhile_is_dropped(tmp_path):
    study = _study(tmp_path)
    trial = study.ask()
    study.tell(trial, state=TrialState.FAIL)  # what another worker's stale check does

    assert _tell(study, trial, TrialState.COMPLETE, 0.75) is False
    (recorded,) = study.get_trials(deepcopy=False)
    assert recorded.state == TrialState.FAIL


def test_a_trial_failed_as_stale_between_its_record_and_its_tell_is_dropped(tmp_path, monkeypatch):
    study = _study(tmp_path)
    trial = study.ask()
    storage = study._storage
    record = storage.set_trial_state_values

    def another_worker_fails_it_first(trial_id, state, values=None):
        record(trial_id, TrialState.FAIL, None)
        monkeypatch.setattr(storage, "set_trial_state_values", record)
        raise sqlalchemy.exc.OperationalError("UPDATE trials", {}, ConnectionResetError())

    monkeypatch.setattr(storage, "set_trial_state_values", another_worker_fails_it_first)
    monkeypatch.setattr("search.coordination.storage.time.sleep", lambda s: None)

    assert _tell(study, trial, TrialState.PRUNED, None) is False
    (recorded,) = study.get_trials(deepcopy=False)
    assert recorded.state == TrialState.FAIL
