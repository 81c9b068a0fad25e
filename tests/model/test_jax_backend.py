"""The same code on the other backend: the suite runs on the one chosen for this machine
(common/environment.py), this file trains under the other, so that `make test` exercises
both; the bench runs under JAX without TensorFlow, as on the GPU machines."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.environment import BACKEND_ENV

ROOT = Path(__file__).resolve().parents[2]
# the backend this test process (and so the rest of the suite) does not train on
OTHER = "tensorflow" if os.environ[BACKEND_ENV] == "jax" else "jax"

SCRIPT = """
import dataclasses, json, sys
import keras, numpy as np
from model import NonFiniteLossError, predict_proba, train
from tests.model.conftest import TINY, draw_pictures, make_data

data = make_data(draw_pictures(400, 16, seed=1), draw_pictures(200, 16, seed=2))
params = dataclasses.replace(TINY, flip=True)
result = train(params, data, epochs=8, batch_size=32, patience=3)
path = sys.argv[1]
result.model.save(path)
same = np.array_equal(
    predict_proba(keras.saving.load_model(path), data.val.images),
    predict_proba(result.model, data.val.images),
)
try:
    train(dataclasses.replace(TINY, learning_rate=float("inf")), data, epochs=3, batch_size=32)
    nan = "completed"
except NonFiniteLossError as err:
    nan = str(err)
print(json.dumps({
    "backend": keras.backend.backend(),
    "aucs": result.history[-1].val.per_attribute_auc,
    "best": max(e.val.macro_auc for e in result.history),
    "reloaded_identical": same,
    "nan": nan,
}))
"""


@pytest.mark.skipif(importlib.util.find_spec(OTHER) is None, reason=f"{OTHER} is not installed")
def test_training_runs_unchanged_on_the_other_backend(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": OTHER}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "model.keras")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == OTHER
    assert report["aucs"]["Square"] > 0.85, report
    assert report["best"] > 0.6, report
    assert report["reloaded_identical"]
    assert "nan at epoch 1" in report["nan"]


BENCH = """
import importlib.abc, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):  # as on the GPU machines
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NoTensorFlow())
from bench.train import main
main(sys.argv[1:])
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_the_training_bench_runs_under_jax_without_tensorflow():
    tiny = ["--in-memory", "--networks", "demo", "--demo-images", "96", "--epochs", "2"]
    tiny += ["--images", "24", "--batch-sizes", "8", "--narrow-batch", "8", "--steps", "2"]
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", BENCH, *tiny, "--warmup", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "tensorflow imported: False" in lines
    profiled = {line[10:24].strip(): line.split() for line in lines if line.startswith("demo ")}
    assert set(profiled) == {"before", "after", "after, jit off"}
    assert profiled["after"][-1] == "1/1" and profiled["after"][2] == "on"
    assert profiled["before"][-1] != "1/1"  # the smaller last batch traced again
    throughput = [line.split() for line in lines if line.startswith(("notebook ", "narrow "))]
    assert [row[:3] for row in throughput] == [["notebook", "64", "8"], ["narrow", "32", "8"]]
    assert all(float(row[4]) > 0 and row[5] == "-" for row in throughput)
