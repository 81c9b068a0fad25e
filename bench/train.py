"""Training speed: where a trial's first epoch goes, and images/s per feed.

(1) Start-up profile: a trial as the search runs it (`model.train` for --epochs epochs,
then the test split predicted), for the demo's network (32x32, its train/val/test split
sizes) and the notebook's network at 64x64 (--images training images), each in three
modes measured in this one run:
  before       the earlier feeding (`train(trace_once=False)`): a smaller last training
               batch, an unpadded last val batch (the optimizer is built before fit in
               every mode: the earlier build inside the first step made TensorFlow
               trace it twice, so "before" understates the earlier trace count and cost);
  after        the default: every batch one shape, one trace per step function;
  after, jit   the default with jit_compile flipped from the backend's own choice.
It prints per part (model build, fit set-up, first-step trace, retrace, first validation
pass, the rest), first-epoch / steady-epoch time and the traces per step function.
(2) Throughput: images/s over a fixed number of steps after a warm-up, for the notebook's
network at 64x64 at each of --batch-sizes and a narrow network at 32x32, fed (a) from the
decode-once cache through the same TrainBatches that `train` uses and (b) from the
notebook's pipeline (tf.data over JPEGs). --in-memory feeds synthetic arrays instead (no
JPEGs, no cache, no TensorFlow).

    python -m bench.train                                  # CPU, TensorFlow backend
    KERAS_BACKEND=jax python -m bench.train --in-memory --batch-sizes 256,1024 \
        --steps 100 --images 4096                           # a GPU machine with JAX

Mixed precision follows model.train (on when a GPU is visible).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from bench.startup import Mode, Network, Profile, profile, synthetic_data
from common.cli import set_up_logging
from data.decode import decode_image
from data.synth import partition_sizes
from model import MIXED_POLICY, ModelParams, build_model, gpu_available
from model.batches import TrainBatches

log = logging.getLogger(__name__)

NOTEBOOK = ModelParams()
NARROW = ModelParams(conv_widths=(16, 32, 64, 128), dense_widths=(256, 128))
# the demo space's second warm start (the notebook's best, scaled down 8x) on the demo's data
DEMO = ModelParams(conv_widths=(8, 32, 64, 64), dense_widths=(128, 64), learning_rate=1e-4)
DEMO_TRAIN, DEMO_VAL, _ = partition_sizes(5000)
N_ATTRS = 40
# the size of CelebA's aligned images
JPEG_WIDTH, JPEG_HEIGHT = 178, 218


@dataclass(frozen=True)
class Case:
    name: str
    params: ModelParams
    image_size: int
    batch_size: int


def write_jpegs(folder: Path, n: int, seed: int) -> list[Path]:
    """`n` smooth random 178x218 JPEGs (upsampled noise compresses roughly like photos)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        coarse = rng.integers(0, 256, (JPEG_HEIGHT // 8, JPEG_WIDTH // 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((JPEG_WIDTH, JPEG_HEIGHT), Image.Resampling.BICUBIC)
        path = folder / f"{i + 1:06d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def build_cache(paths: list[Path], size: int, out: Path) -> np.ndarray:
    """Decode every JPEG once (the cache's crop and resize) into a memory-mapped .npy."""
    images = np.lib.format.open_memmap(
        out, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)
    )
    for row, path in enumerate(paths):
        images[row] = decode_image(path, size)
    images.flush()
    del images
    return np.load(out, mmap_mode="r")


def notebook_pipeline(
    paths: list[Path], labels: np.ndarray, size: int, batch_size: int, seed: int
):
    """The notebook's input: tf.data reading and decoding every JPEG anew each epoch."""
    import tensorflow as tf

    def load(path, label):
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        image = tf.image.resize(image, (size, size))
        return tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), label

    return (
        tf.data.Dataset.from_tensor_slices(([str(p) for p in paths], labels.astype(np.float32)))
        .repeat()
        .shuffle(len(paths), seed=seed)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


class _StepClock(keras.callbacks.Callback):
    """Wall time from the end of the warm-up steps to the end of the last step."""

    def __init__(self, warmup: int) -> None:
        super().__init__()
        self.warmup = warmup
        self.started = 0.0
        self.seconds = 0.0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # logs arrive as Python floats, so the step has finished on the device
        now = time.perf_counter()
        if batch + 1 == self.warmup:
            self.started = now
        self.seconds = now - self.started


def images_per_second(case: Case, feed, steps: int, warmup: int, policy: str | None) -> float:
    keras.backend.clear_session(free_memory=True)
    keras.utils.set_random_seed(0)
    model = build_model(case.params, case.image_size, N_ATTRS, dtype_policy=policy)
    clock = _StepClock(warmup)
    model.fit(
        feed, epochs=1, steps_per_epoch=warmup + steps, callbacks=[clock], shuffle=False, verbose=0
    )
    return steps * case.batch_size / clock.seconds


def print_profiles(networks: list[Network], epochs: int, policy: str | None) -> None:
    auto_jit = bool(build_model(NARROW, 32, N_ATTRS).jit_compile)
    modes = [
        Mode("before", trace_once=False, jit_compile=None),
        Mode("after", trace_once=True, jit_compile=None),
        Mode(
            f"after, jit {'off' if auto_jit else 'on'}", trace_once=True, jit_compile=not auto_jit
        ),
    ]
    print(
        f"\nstart-up profile: {epochs} epochs per trial, then the test split predicted; "
        f"jit_compile auto = {'on' if auto_jit else 'off'} on this backend; seconds"
    )
    print(f"{'network':9} {'mode':14} {'jit':>3} {'build':>6} {'setup':>6} {'trace':>6} "
          f"{'retrace':>7} {'1st val':>7} {'rest':>6} {'1st ep':>7} {'steady':>7} "
          f"{'ratio':>6} {'img/s':>7} {'traces t/p':>10}")  # fmt: skip
    for network in networks:
        data = synthetic_data(network)
        for mode in modes:
            log.info("profiling %s, %s", network.name, mode.name)
            p: Profile = profile(network, mode, data, epochs, policy)
            print(f"{network.name:9} {mode.name:14} {'on' if p.jit_compile else 'off':>3} "
                  f"{p.build:6.2f} {p.setup:6.2f} {p.trace:6.2f} {p.retrace:7.2f} "
                  f"{p.first_val:7.2f} {p.rest:6.2f} {p.first_epoch:7.2f} {p.steady_epoch:7.2f} "
                  f"{p.ratio:5.2f}x {p.images_per_second:7.0f} "
                  f"{f'{p.train_traces}/{p.predict_traces}':>10}", flush=True)  # fmt: skip


def print_throughput(args: argparse.Namespace, policy: str | None) -> None:
    with_jpeg = not args.in_memory and not args.no_jpeg and importlib.util.find_spec("tensorflow")
    cases = [Case("notebook", NOTEBOOK, 64, int(b)) for b in args.batch_sizes.split(",")] + [
        Case("narrow", NARROW, 32, args.narrow_batch)
    ]
    feed = "synthetic arrays in memory" if args.in_memory else "the memory-mapped cache"
    skipped = "" if with_jpeg else "; JPEG pipeline skipped (--in-memory, --no-jpeg or no TF)"
    print(
        f"\nthroughput: {args.warmup} warm-up + {args.steps} timed steps, fed from {feed}{skipped}"
    )
    print(f"{'network':9} {'size':>4} {'batch':>5} {'params':>11} {'fed img/s':>12} "
          f"{'jpeg img/s':>11}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="train_bench-") as tmp:
        labels = np.random.default_rng(0).integers(0, 2, (args.images, N_ATTRS), dtype=np.uint8)
        sizes = sorted({c.image_size for c in cases})
        if args.in_memory:
            rng = np.random.default_rng(0)
            feeds = {
                s: rng.integers(0, 256, (args.images, s, s, 3), dtype=np.uint8) for s in sizes
            }
        else:
            paths = write_jpegs(Path(tmp) / "jpegs", args.images, seed=0)
            feeds = {s: build_cache(paths, s, Path(tmp) / f"images{s}.npy") for s in sizes}
        for case in cases:
            log.info("timing %s at %dpx, batch %d", case.name, case.image_size, case.batch_size)
            batches = TrainBatches(feeds[case.image_size], labels, case.batch_size, seed=0)
            cached = images_per_second(case, batches, args.steps, args.warmup, policy)
            jpeg = "-"
            if with_jpeg:
                pipeline = notebook_pipeline(paths, labels, case.image_size, case.batch_size, 0)
                jpeg = f"{images_per_second(case, pipeline, args.steps, args.warmup, policy):.1f}"
            n_params = build_model(case.params, case.image_size, N_ATTRS).count_params()
            print(f"{case.name:9} {case.image_size:>4} {case.batch_size:>5} {n_params:>11,} "
                  f"{cached:>12.1f} {jpeg:>11}", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=300,
        help="training images for the notebook network's profile and for the throughput",
    )  # fmt: skip
    parser.add_argument(
        "--demo-images", type=int, default=DEMO_TRAIN,
        help="training images for the demo network's profile (default: the demo's split)",
    )  # fmt: skip
    parser.add_argument("--networks", default="demo,notebook", help="networks to profile")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per profiled trial")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--batch-sizes", default="32,64", help="for the notebook's network")
    parser.add_argument("--narrow-batch", type=int, default=64)
    parser.add_argument(
        "--in-memory", action="store_true",
        help="feed synthetic arrays held in memory: no JPEGs, no cache, no TensorFlow",
    )  # fmt: skip
    parser.add_argument(
        "--mixed-precision", choices=("auto", "on", "off"), default="auto",
        help="auto: on when the backend sees a GPU",
    )  # fmt: skip
    parser.add_argument("--no-jpeg", action="store_true", help="skip the notebook's pipeline")
    parser.add_argument("--no-profile", action="store_true", help="skip the start-up profile")
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput")
    args = parser.parse_args(argv)
    set_up_logging(fmt="%(message)s")
    logging.getLogger("model.training").setLevel(logging.WARNING)  # the table says it all

    use_mixed = {"auto": gpu_available(), "on": True, "off": False}[args.mixed_precision]
    policy = MIXED_POLICY if use_mixed else None
    print(
        f"backend {keras.backend.backend()}, devices {keras.distribution.list_devices()}, "
        f"policy {policy or 'float32'}"
    )
    if not args.no_profile:
        demo_val = round(args.demo_images * DEMO_VAL / DEMO_TRAIN)
        networks = {
            "demo": Network("demo", DEMO, 32, 64, args.demo_images, demo_val),
            "notebook": Network("notebook", NOTEBOOK, 64, 32, args.images, args.images // 4),
        }
        print_profiles([networks[n] for n in args.networks.split(",")], args.epochs, policy)
    if not args.no_throughput:
        print_throughput(args, policy)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
