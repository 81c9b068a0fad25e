"""Training speed: images/s fed from the decode-once cache vs the notebook's JPEG pipeline.

Times a fixed number of training steps after a warm-up (not whole epochs, so that the
notebook's 10.5M-parameter network finishes in minutes on a small CPU), for:
  (a) the notebook's network at 64x64, at each of --batch-sizes;
  (b) a narrow network at 32x32, at --narrow-batch;
each fed (1) from the cache, a memory-mapped uint8 .npy (or held in memory with
--in-memory), through model.batches.TrainBatches exactly as model.train feeds it, and
(2) from the notebook's pipeline: tf.data over JPEG paths, decoding every epoch.

    python -m bench.train                                  # CPU, TensorFlow backend
    KERAS_BACKEND=jax python -m bench.train --in-memory --batch-sizes 256,1024 \
        --narrow-batch 1024 --steps 100 --images 4096            # a GPU machine with JAX

Mixed precision follows model.train (on when a GPU is visible); the JPEG pipeline needs
TensorFlow and is skipped where it is not installed.
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

from data.decode import decode_image
from model import MIXED_POLICY, ModelParams, build_model, gpu_available
from model.batches import TrainBatches

log = logging.getLogger(__name__)

NOTEBOOK = ModelParams()
NARROW = ModelParams(conv_widths=(16, 32, 64, 128), dense_widths=(256, 128))
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


def build_cache(paths: list[Path], size: int, out: Path, in_memory: bool) -> np.ndarray:
    """Decode every JPEG once (the cache's crop and resize) into a memory-mapped .npy."""
    images = np.lib.format.open_memmap(
        out, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)
    )
    for row, path in enumerate(paths):
        images[row] = decode_image(path, size)
    images.flush()
    del images
    mapped = np.load(out, mmap_mode="r")
    return np.array(mapped) if in_memory else mapped


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512, help="synthetic JPEGs to write")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--batch-sizes", default="32,64", help="for the notebook's network")
    parser.add_argument("--narrow-batch", type=int, default=64)
    parser.add_argument("--in-memory", action="store_true", help="hold the cache in RAM")
    parser.add_argument(
        "--mixed-precision", choices=("auto", "on", "off"), default="auto",
        help="auto: on when the backend sees a GPU",
    )  # fmt: skip
    parser.add_argument("--no-jpeg", action="store_true", help="skip the notebook's pipeline")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    use_mixed = {"auto": gpu_available(), "on": True, "off": False}[args.mixed_precision]
    policy = MIXED_POLICY if use_mixed else None
    with_jpeg = not args.no_jpeg and importlib.util.find_spec("tensorflow") is not None
    cases = [Case("notebook", NOTEBOOK, 64, int(b)) for b in args.batch_sizes.split(",")] + [
        Case("narrow", NARROW, 32, args.narrow_batch)
    ]
    print(
        f"backend {keras.backend.backend()}, devices {keras.distribution.list_devices()}, "
        f"policy {policy or 'float32'}, {args.images} images, {args.warmup} warm-up + "
        f"{args.steps} timed steps, cache {'in memory' if args.in_memory else 'memory-mapped'}"
    )
    if not with_jpeg:
        print("notebook JPEG pipeline skipped (--no-jpeg or no tensorflow)")

    with tempfile.TemporaryDirectory(prefix="train_bench-") as tmp:
        paths = write_jpegs(Path(tmp) / "jpegs", args.images, seed=0)
        labels = np.random.default_rng(0).integers(0, 2, (args.images, N_ATTRS), dtype=np.uint8)
        caches = {
            size: build_cache(paths, size, Path(tmp) / f"images{size}.npy", args.in_memory)
            for size in sorted({c.image_size for c in cases})
        }
        print(f"{'network':9} {'size':>4} {'batch':>5} {'params':>11} {'cache img/s':>12} "
              f"{'jpeg img/s':>11}")  # fmt: skip
        for case in cases:
            log.info("timing %s at %dpx, batch %d", case.name, case.image_size, case.batch_size)
            batches = TrainBatches(caches[case.image_size], labels, case.batch_size, seed=0)
            cached = images_per_second(case, batches, args.steps, args.warmup, policy)
            jpeg = "-"
            if with_jpeg:
                pipeline = notebook_pipeline(paths, labels, case.image_size, case.batch_size, 0)
                jpeg = f"{images_per_second(case, pipeline, args.steps, args.warmup, policy):.1f}"
            n_params = build_model(case.params, case.image_size, N_ATTRS).count_params()
            print(f"{case.name:9} {case.image_size:>4} {case.batch_size:>5} {n_params:>11,} "
                  f"{cached:>12.1f} {jpeg:>11}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
