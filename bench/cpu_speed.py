"""How fast one core of this CPU trains, in the units issue 21 measured a slow CPU in.

Steady epochs of the network that issue timed on a first-generation AMD EPYC (family 23,
AVX2, no AVX-512): conv 8, 16, 64, 32; dense 1024, 512; batch 64; 4,000 random 32x32
images; the plain way (`model.fit` on uint8 arrays), one thread, pinned to one core, on the
backend Keras is set to. There it measured TensorFlow 323-428 and JAX 906-1,101 images/s:
set beside this command's figures, they say how many times slower that CPU trains, and so
how to slow a faster machine down to stand in for it (docs/benchmarks-speed.md, section 3).

    python -m bench.cpu_speed                      # TensorFlow, the CPU default
    KERAS_BACKEND=jax python -m bench.cpu_speed
"""

from __future__ import annotations

import argparse
import os
import time

from bench.trial import cpu_model
from common.native_logs import start_backend_quietly

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
IMAGES, SIZE, BATCH = 4000, 32, 64
# issue 21's steady images/s on the first-generation EPYC, one thread
SLOW_CPU = {"tensorflow": (323, 428), "jax": (906, 1101)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="the first is not counted (4)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first is not counted), got {args.epochs}")
    # one thread on one core, set before the backend exists
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    start_backend_quietly()
    images_per_second = _steady_speeds(args.epochs)
    import keras

    backend = keras.backend.backend()
    print(f"CPU: {cpu_model()}; backend {backend}, one thread")
    print("steady epochs, images/s: " + ", ".join(f"{s:,.0f}" for s in images_per_second))
    if backend in SLOW_CPU:
        low, high = SLOW_CPU[backend]
        fastest, slowest = max(images_per_second), min(images_per_second)
        print(
            f"issue 21's first-generation EPYC: {low}-{high} images/s, so this core trains "
            f"{slowest / high:.1f}-{fastest / low:.1f}x as fast"
        )
    return 0


def _steady_speeds(epochs: int) -> list[float]:
    """Images/s of every epoch after the first (which traces or compiles the steps)."""
    import keras
    import numpy as np

    from model.network import build_model
    from model.params import ModelParams

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (IMAGES, SIZE, SIZE, 3), dtype=np.uint8)
    labels = (rng.random((IMAGES, 40)) < 0.3).astype(np.float32)
    params = ModelParams(conv_widths=(8, 16, 64, 32), dense_widths=(1024, 512))
    model = build_model(params, SIZE)
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    model.fit(images, labels, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
    return [IMAGES / s for s in seconds[1:]]


if __name__ == "__main__":
    raise SystemExit(main())
