"""`serve.predict` on NumPy against Keras: the whole command, then the model alone.

1. The whole command (`python -m serve.predict --no-detect`) on a few 32x32 faces, NumPy
   (the default) and `--keras` in turn, each a new process: what a user waits for.
2. The model alone, warm, per batch of 1, 16 and 64 images: the demo's network (32x32) and
   the notebook's (64x64; conv 32, 64, 128, 256; dense 1024, 512), untrained weights.

    python -m bench.predict_engines [--rounds 3] [--faces 3]

Both models are exported to a temporary folder; nothing under studies/ is touched.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.trial import cpu_model
from common.native_logs import start_backend_quietly

NETWORKS = {  # name: (conv widths, dense widths, image size)
    "demo": ((8, 32, 64, 32), (128, 64), 32),
    "notebook": ((32, 64, 128, 256), (1024, 512), 64),
}
BATCHES = (1, 16, 64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="command pairs to time (3)")
    parser.add_argument("--faces", type=int, default=3, help="images per command (3)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.faces < 1:
        parser.error("--rounds and --faces must be at least 1")
    start_backend_quietly()
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        exports = {name: _export(Path(folder), name) for name in NETWORKS}
        faces = _faces(Path(folder), args.faces)
        _time_commands(exports["demo"], faces, args.rounds)
        _time_batches(exports)
    return 0


def _export(folder: Path, name: str) -> Path:
    import keras

    from model import ModelParams, build_model
    from model.export import export_model
    from tests.cards import tiny_card

    conv, dense, size = NETWORKS[name]
    params = ModelParams(conv_widths=conv, dense_widths=dense)
    keras.utils.set_random_seed(0)
    out = folder / name
    export_model(build_model(params, size), tiny_card(size, params), out, savedmodel=False)
    return out


def _faces(folder: Path, n: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"face{i}.png"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _time_commands(export: Path, faces: list[str], rounds: int) -> None:
    command = [sys.executable, "-m", "serve.predict", "--model", str(export), "--no-detect"]
    walls: dict[str, list[float]] = {"numpy": [], "keras": []}
    for _ in range(rounds):  # alternating, so that a drifting machine touches both alike
        for engine, extra in (("numpy", []), ("keras", ["--keras"])):
            started = time.perf_counter()
            subprocess.run([*command, *extra, *faces], check=True, capture_output=True)
            walls[engine].append(time.perf_counter() - started)
    ratios = [n / k for n, k in zip(walls["numpy"], walls["keras"], strict=True)]
    print(f"\nthe whole command on {len(faces)} faces, {rounds} pairs, wall s:")
    for engine, values in walls.items():
        print(f"  {engine:<6} " + ", ".join(f"{v:.2f}" for v in values))
    print(f"  numpy / keras: {min(ratios):.3f}-{max(ratios):.3f}x")


def _time_batches(exports: dict[str, Path]) -> None:
    from model.export import load_export
    from model.prediction import predict_proba

    print("\nthe model alone, warm, ms per batch (median of 2 s of calls):")
    print(f"  {'network':<9} {'batch':>5} {'numpy':>8} {'keras':>8} {'numpy / keras':>14}")
    for name, export in exports.items():
        engines = {e: load_export(export, numpy=e == "numpy")[0] for e in ("numpy", "keras")}
        size = NETWORKS[name][2]
        for batch in BATCHES:
            images = np.random.default_rng(1).integers(0, 256, (batch, size, size, 3), np.uint8)
            ms = {e: _median_ms(lambda m=m, x=images: predict_proba(m, x, pad=False))
                  for e, m in engines.items()}  # fmt: skip
            print(f"  {name:<9} {batch:>5} {ms['numpy']:>8.2f} {ms['keras']:>8.2f} "
                  f"{ms['numpy'] / ms['keras']:>13.2f}x")  # fmt: skip


def _median_ms(call) -> float:
    call()  # the first call traces (Keras)
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < 2.0 or len(times) < 5:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
