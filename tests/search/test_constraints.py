"""Deployable search: configurations over --max-params / --max-latency-ms are never trained."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from search.run import main
from tests.search.conftest import TINY_RUN


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="demo", storage=url).get_trials(deepcopy=False)


def test_infeasible_configurations_are_recorded_and_never_trained(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/tight.db"

    assert main([*TINY_RUN, "--trials", "4", "--max-params", "1000", "--storage", url]) == 0

    trials = _trials(url)
    assert len(trials) == 4
    for trial in trials:
        attrs = trial.user_attrs
        assert trial.state == TrialState.PRUNED
        assert not trial.intermediate_values and "epochs_run" not in attrs  # not trained
        assert attrs["n_params"] > 1000 and attrs["latency_ms"] > 0
        assert f"{attrs['n_params']:,} parameters > --max-params 1,000" == attrs["infeasible"]
        # what TPE's constraints_func stored: positive means infeasible
        assert trial.system_attrs["constraints"] == [attrs["n_params"] - 1000]


def test_feasible_configurations_train_and_record_their_footprint(in_search_home):
    url = f"sqlite:///{in_search_home}/loose.db"

    assert main([*TINY_RUN, "--trials", "2", "--max-latency-ms", "60000", "--storage", url]) == 0

    for trial in _trials(url):
        attrs = trial.user_attrs
        assert trial.intermediate_values and attrs["epochs_run"] >= 1
        assert "infeasible" not in attrs
        assert 0 < attrs["latency_ms"] <= 60000 and attrs["n_params"] > 0
        assert trial.system_attrs["constraints"] == [attrs["latency_ms"] - 60000]


def test_bad_constraints_get_one_clear_line(in_search_home, capsys):
    assert main([*TINY_RUN, "--trials", "2", "--max-latency-ms", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --max-latency-ms must be positive, got 0.0\n"
