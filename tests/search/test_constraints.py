"""Deployable search: configurations over --max-params / --max-latency-ms are never trained."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from model.export import read_card
from search import refit
from search.refit import NoCompleteTrialError, best_complete_trial
from search.report.page import write_report
from search.report.tradeoff import pareto_front
from search.run import main
from search.trial.constraints import Constraints
from search.trial.space import encoded
from tests.search.conftest import TINY_RUN


def _trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="demo", storage=url).get_trials(deepcopy=False)


def test_infeasible_configurations_are_recorded_and_never_trained(in_search_home, capfd):
    url = f"sqlite:///{in_search_home}/tight.db"
    # Two worker processes, as on a CPU machine by default: the limit must reach both.
    args = [*TINY_RUN, "--workers", "2", "--trials", "4", "--max-params", "1000"]

    assert main([*args, "--storage", url]) == 0

    # Untrained trials do not count toward --trials: nothing fits, so the cap on them
    # (at least 20) ends the search, and the user is told why no trial was trained.
    trials = _trials(url)
    assert len(trials) == 20
    out = capfd.readouterr().out
    assert "stopped after 20 untrained configurations" in out
    assert "0 of the 4 trials asked for were trained" in out
    for trial in trials:
        attrs = trial.user_attrs
        assert trial.state == TrialState.PRUNED
        assert not trial.intermediate_values and "epochs_run" not in attrs  # not trained
        assert attrs["n_params"] > 1000 and attrs["latency_ms"] > 0
        assert f"{attrs['n_params']:,} parameters > --max-params 1,000" == attrs["infeasible"]
        # what TPE learns from (set before training): positive means infeasible
        assert trial.constraints == {"max_params": attrs["n_params"] - 1000}


def test_trials_counts_trained_trials_only(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/some-fit.db"
    study = optuna.create_study(study_name="demo", storage=url, direction="maximize")
    big = {"c1": 16, "c2": 32, "c3": 64, "c4": 128, "batch_size": 32, "learning_rate": 3e-3}
    small = {
        **big,
        "c1": 4,
        "c2": 8,
        "c3": 16,
        "c4": 32,
    }  # 21,536 parameters at 16 px, big 125,768
    for params in (big, big, small, small, small):
        study.enqueue_trial(encoded(params))  # as the space stores them
    args = [*TINY_RUN, "--trials", "2", "--max-params", "50000", "--no-warm-start"]

    assert main([*args, "--storage", url]) == 0

    states = [(t.state, "infeasible" in t.user_attrs) for t in _trials(url)]
    assert states[:2] == [(TrialState.PRUNED, True)] * 2
    assert [infeasible for _, infeasible in states[2:4]] == [False, False]
    assert states[4] == (TrialState.WAITING, False)  # 2 trained: the budget is met
    out = capsys.readouterr().out
    assert "[2/2] trial 3" in out and "budget 2 trained trials" in out
    assert "untrained configurations" not in out.replace("broke", "")


def test_an_epoch_budget_ends_when_nothing_is_feasible(in_search_home, capsys):
    # Untrained trials spend no epoch: without a cap on them this search would never end.
    url = f"sqlite:///{in_search_home}/nothing-fits.db"
    args = [*TINY_RUN, "--budget-epochs", "4", "--max-params", "1000", "--storage", url]

    assert main(args) == 0

    trials = _trials(url)
    assert len(trials) == 20  # the floor of the cap: 5 x (4 epochs / 2 per trial) = 10 < 20
    assert all("infeasible" in t.user_attrs and not t.intermediate_values for t in trials)
    out = capsys.readouterr().out
    assert "epochs spent: 0 of the budget of 4" in out
    assert "stopped after 20 untrained configurations" in out


def test_feasible_configurations_train_and_record_their_footprint(in_search_home):
    url = f"sqlite:///{in_search_home}/loose.db"

    assert main([*TINY_RUN, "--trials", "2", "--max-latency-ms", "60000", "--storage", url]) == 0

    for trial in _trials(url):
        attrs = trial.user_attrs
        assert trial.intermediate_values and attrs["epochs_run"] >= 1
        assert "infeasible" not in attrs
        assert 0 < attrs["latency_ms"] <= 60000 and attrs["n_params"] > 0
        assert trial.constraints == {"max_latency_ms": attrs["latency_ms"] - 60000}


def test_bad_constraints_get_one_clear_line(in_search_home, capsys):
    assert main([*TINY_RUN, "--trials", "2", "--max-latency-ms", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --max-latency-ms must be positive, got 0.0\n"


def _study_with_footprints(url: str) -> optuna.Study:
    """Two COMPLETE trials: the better one slower; an older one recorded no footprint."""
    study = optuna.create_study(storage=url, study_name="front", direction="maximize")
    settings = {"data": "synthetic", "image_size": 16, "space": "demo", "metric": "macro",
                "epochs": 1, "synthetic_n": 300, "seed": 0}  # fmt: skip
    for key, value in settings.items():
        study.set_user_attr(key, value)
    space = {"c1": (4, 8), "c2": (8, 16), "c3": (16, 32), "c4": (32, 64), "batch_size": (32,)}
    distributions = {
        **{name: CategoricalDistribution(choices) for name, choices in space.items()},
        "learning_rate": FloatDistribution(1e-4, 1e-2, log=True),
    }
    small = {"c1": 4, "c2": 8, "c3": 16, "c4": 32, "batch_size": 32, "learning_rate": 3e-3}
    large = {"c1": 8, "c2": 16, "c3": 32, "c4": 64, "batch_size": 32, "learning_rate": 3e-3}
    for params, value, attrs in (
        (large, 0.80, {}),
        (large, 0.70, {"n_params": 40_000, "latency_ms": 5.0, "val_macro_auc": 0.70}),
        (small, 0.60, {"n_params": 10_000, "latency_ms": 1.0, "val_macro_auc": 0.60}),
    ):
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=distributions, value=value, user_attrs=attrs,
                intermediate_values={1: value},
            )
        )  # fmt: skip
    return study


def test_refit_picks_the_best_trial_that_meets_its_constraint(in_search_home, capsys):
    url = f"sqlite:///{in_search_home}/front.db"
    study = _study_with_footprints(url)

    assert best_complete_trial(study).number == 0  # unconstrained: the best value
    assert best_complete_trial(study, Constraints(max_latency_ms=10)).number == 1
    assert best_complete_trial(study, Constraints(max_params=20_000)).number == 2
    with pytest.raises(NoCompleteTrialError, match="--max-latency-ms 0.5"):
        best_complete_trial(study, Constraints(max_latency_ms=0.5))

    out = in_search_home / "fast"
    args = ["--study", "front", "--storage", url, "--max-epochs", "1", "--out", str(out)]
    assert refit.main([*args, "--no-savedmodel", "--max-latency-ms", "2"]) == 0
    card = read_card(out)
    assert card.trial == 2 and card.n_params > 0 and card.latency_ms > 0
    assert f"batch-1 latency {card.latency_ms:.2f} ms" in capsys.readouterr().out

    assert refit.main([*args, "--max-params", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: none of study 'front'")


def test_the_pareto_front_keeps_the_trials_nothing_beats_on_both():
    costs = [5.0, 1.0, 3.0, 2.0, 3.0, 6.0]
    scores = [0.9, 0.6, 0.8, 0.6, 0.7, 0.85]

    # 3 ties 1 on score at a higher cost; 4 and 5 are beaten by 2 and 0
    assert pareto_front(costs, scores) == [1, 2, 0]
    assert pareto_front([], []) == []


def test_the_report_draws_accuracy_against_latency_and_parameters(in_search_home):
    study = _study_with_footprints(f"sqlite:///{in_search_home}/drawn.db")

    report = write_report(study, in_search_home / "drawn-report")

    assert "tradeoff.png" in report.images
    assert (in_search_home / "drawn-report" / "tradeoff.png").stat().st_size > 0
    html = (in_search_home / "drawn-report" / "index.html").read_text()
    assert "Accuracy against cost" in html and "tradeoff.png" in html
