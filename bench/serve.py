"""How fast does `python -m serve` answer? `python -m bench.serve [--model DIR] [--rounds 4]`.

For two models, the demo's export (`--model`, else the newest studies/*/best, else an
untrained model of the demo's best configuration at 32x32) and a notebook-sized one (64x64,
the notebook's best widths, untrained), it starts a real server on a free loopback port and
sends one 178x218 face (the first of ../shared/celeba-sample with face detection on, then as
an aligned crop with ?detect=0; else a drawn face as an aligned crop) from 1, 8 and 32
concurrent clients, each sending `--rounds`
requests after a warm-up. Reported: requests/s, p50/p95 latency, the mean batch size and
the model's share of a request (the model call over the request's time at the server).
The baseline, measured in the same run: the same preprocessing and one model call per
image in this process. Targets: 32 clients >= 3x the throughput of one client, p95 < 250 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import requests

from data.face_drawing import draw_face, sample_face
from model import ModelParams, build_model, predict_proba
from model.errors import ExportError
from model.export import export_model, load_export, newest_export
from serve.preprocess import prepare_face
from tests.cards import tiny_card
from tests.sample import SAMPLE
from tests.serve.server import running_server

DEMO_BEST = ModelParams(conv_widths=(8, 32, 64, 64))  # the notebook's best scaled down 8x
NOTEBOOK_BEST = ModelParams(conv_widths=(64, 256, 512, 512))
CLIENTS = (1, 8, 32)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def in_process(export_dir: Path, face: Path, detect: bool, n: int) -> dict:
    """Preprocess and call the model once per image, here: the baseline."""
    model, card = load_export(export_dir)
    latencies, model_s = [], []
    for i in range(n + 2):  # two warm-up calls
        started = time.perf_counter()
        pixels = prepare_face(face, card.image_size, detect=detect).pixels
        called = time.perf_counter()
        predict_proba(model, pixels[None])
        done = time.perf_counter()
        if i >= 2:
            latencies.append(done - started)
            model_s.append(done - called)
    return {
        "rps": n / sum(latencies),
        "p50": percentile(latencies, 50) * 1e3,
        "p95": percentile(latencies, 95) * 1e3,
        "batch": 1.0,
        "model_share": sum(model_s) / sum(latencies),
    }


def over_http(url: str, face: bytes, detect: bool, clients: int, rounds: int) -> dict:
    query = "" if detect else "?detect=0"
    sessions = [requests.Session() for _ in range(clients)]

    def client(session: requests.Session, n: int) -> list[tuple[float, dict]]:
        out = []
        for _ in range(n):
            started = time.perf_counter()
            response = session.post(
                f"{url}/api/predict{query}", files={"file": ("face.jpg", face)}, timeout=120
            )
            response.raise_for_status()
            out.append((time.perf_counter() - started, response.json()["results"][0]))
        return out

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda s: client(s, 1), sessions))  # warm-up: connections, batch shapes
        started = time.perf_counter()
        runs = list(pool.map(lambda s: client(s, rounds), sessions))
        wall = time.perf_counter() - started
    for session in sessions:
        session.close()
    results = [item for run in runs for item in run]
    latencies = [latency for latency, _ in results]
    answers = [answer for _, answer in results]
    server_ms = sum(a["timings_ms"]["total"] for a in answers)
    model_ms = sum(a["timings_ms"]["model"] for a in answers)
    return {
        "rps": len(results) / wall,
        "p50": percentile(latencies, 50) * 1e3,
        "p95": percentile(latencies, 95) * 1e3,
        "batch": statistics.mean(a["batch_size"] for a in answers),
        "model_share": model_ms / server_ms,
    }


def report(url: str, export_dir: Path, face: Path, detect: bool, rounds: int) -> None:
    print(f"{'':<28}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'batch':>7}{'model':>8}")
    rows = {"in-process, one per image": in_process(export_dir, face, detect, 16)}
    for clients in CLIENTS:
        rows[f"HTTP, {clients} client(s)"] = over_http(
            url, face.read_bytes(), detect, clients, rounds
        )
    for name, row in rows.items():
        print(
            f"{name:<28}{row['rps']:>8.1f}{row['p50']:>9.0f}{row['p95']:>9.0f}"
            f"{row['batch']:>7.1f}{row['model_share']:>8.0%}"
        )
    one, many = rows["HTTP, 1 client(s)"], rows["HTTP, 32 client(s)"]
    base = rows["in-process, one per image"]
    print(
        f"32 clients: {many['rps'] / one['rps']:.1f}x one client's throughput "
        f"(target >= 3x), {many['rps'] / base['rps']:.1f}x in-process one per image; "
        f"p95 {many['p95']:.0f} ms (target < 250 ms)"
    )


def demo_export(args: argparse.Namespace, tmp: Path) -> tuple[Path, str]:
    if args.model is not None:
        return args.model, f"export {args.model}"
    try:
        found = newest_export()
        return found, f"export {found}"
    except ExportError:
        out = tmp / "demo"
        export_model(build_model(DEMO_BEST, 32), tiny_card(32, DEMO_BEST), out, savedmodel=False)
        return out, "demo's best configuration at 32x32 (untrained: no export found)"


def the_face(tmp: Path) -> tuple[Path, bool, str]:
    if SAMPLE is not None:
        face = sorted((SAMPLE / "img_align_celeba").glob("*.jpg"))[0]
        return face, True, f"{face.name} from the CelebA sample"
    path = tmp / "drawn.jpg"
    rng = np.random.default_rng(0)
    draw_face(rng, sample_face(rng)).resize((178, 218)).save(path, quality=90)
    return path, False, "a drawn 178x218 face sent as an aligned crop (no sample here)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the demo's export (default: newest)")
    parser.add_argument("--rounds", type=int, default=4, help="requests per client")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        notebook = tmp / "notebook"
        card = tiny_card(64, NOTEBOOK_BEST)
        export_model(build_model(NOTEBOOK_BEST, 64), card, notebook, savedmodel=False)
        demo, demo_what = demo_export(args, tmp)
        face, detect, face_what = the_face(tmp)
        print(f"face: {face_what}; {os.cpu_count()} CPUs; {args.rounds} requests per client")
        modes = [("face detection on", True)] if detect else []
        modes.append(("aligned crop, ?detect=0", False))
        for label, export_dir in (
            (f"demo: {demo_what}", demo),
            ("notebook-sized: 64x64, widths 64/256/512/512, untrained", notebook),
        ):
            with running_server(export_dir) as url:
                for mode, detecting in modes:
                    print(f"\n{label}; {mode}")
                    report(url, export_dir, face, detecting, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
