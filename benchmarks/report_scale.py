"""How long build_report takes on a large run, and how big the HTML gets.

Writes a synthetic run database with 50,000 results (5 models x 2 tasks x 5 datasets x 1,000
samples) directly through RunStore, then times ``build_report``. The reference measured in the
same run is one plain pass over every stored answer (``RunStore.results()``): the report should
cost a small multiple of reading its data once. Goals: under 30 s and HTML under 20 MB.

    python benchmarks/report_scale.py [--samples 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from medmine.core import ParseStatus, Prediction, Response, Usage
from medmine.report.build import build_report
from medmine.run.store import RunStore

MODELS = ("model-a", "model-b", "model-c", "model-d", "model-e")
CATEGORIES = ("dermatology", "radiology", "dentistry", "ophthalmology", "endoscopy")
LABELS = ("benign", "malignant", "other")


def _write_run(run_dir: Path, n_samples: int, seed: int = 0) -> int:
    """Fill a run database; returns the number of results written."""
    rng = np.random.default_rng(seed)
    store = RunStore(run_dir)
    datasets = [f"demo-{c}" for c in CATEGORIES]
    store.set_manifest(
        {
            "suite": {
                "name": "bench",
                "seed": 0,
                "datasets": [
                    {"name": d, "split": "test", "support_split": "train"} for d in datasets
                ],
            },
            "concurrency": {m: 8 for m in MODELS},
            "models": {m: {"provider": "synthetic"} for m in MODELS},
            "datasets": {
                d: {"fingerprint": "bench", "notice": "SYNTHETIC benchmark"} for d in datasets
            },
        }
    )
    written = 0
    scores: list[tuple] = []
    store.con.execute("BEGIN")
    for mi, model in enumerate(MODELS):
        skill = 0.55 + 0.08 * mi
        for ds in datasets:
            ids = [f"{ds[5:]}/bench/{i:05d}" for i in range(n_samples)]
            truth = rng.integers(0, 3, n_samples)
            correct = rng.random(n_samples) < skill
            dice = np.clip(rng.normal(skill, 0.15, n_samples), 0, 1)
            for task in ("classification", "segmentation"):
                per_sample = {}
                for i, sid in enumerate(ids):
                    if task == "classification":
                        label = LABELS[truth[i] if correct[i] else (truth[i] + 1) % 3]
                        text = json.dumps({"label": label, "reasoning": "x" * 200})
                        value: object = {"label": label}
                        per_sample[sid] = {"correct": float(correct[i])}
                    else:
                        text = json.dumps({"polygon": [[10, 10], [50, 10], [30, 40]]})
                        value = {"polygons": [[[10, 10], [50, 10], [30, 40]]]}
                        per_sample[sid] = {"dice": float(dice[i]), "iou": float(dice[i] / 2)}
                    status = ParseStatus.OK if i % 97 else ParseStatus.UNPARSEABLE
                    store.put_result(
                        model,
                        task,
                        ds,
                        sid,
                        0,
                        f"{mi}-{sid}-{task}",
                        Response(text, model, Usage(500, 60), latency_s=1.0 + mi, cost_usd=1e-3),
                        False,
                        Prediction(value, status),
                    )
                    written += 1
                vals = [next(iter(v.values())) for v in per_sample.values()]
                head = "accuracy" if task == "classification" else "dice"
                metrics = {
                    head: float(np.mean(vals)),
                    f"{head}_ci_low": float(np.quantile(vals, 0.1)),
                    f"{head}_ci_high": float(np.quantile(vals, 0.9)),
                    "n": float(n_samples),
                    "parse_failure_rate": 0.01,
                    "refusal_rate": 0.0,
                    "error_rate": 0.0,
                    "latency_mean_s": 1.0 + mi,
                    "cost_per_sample_usd": 1e-3 * (mi + 1),
                    "cost_usd": n_samples * 1e-3 * (mi + 1),
                }
                tables = {}
                if task == "classification":
                    cm = rng.integers(0, 300, (3, 4)).tolist()
                    tables = {"confusion": {"labels": list(LABELS), "matrix": cm}}
                scores.append((model, task, ds, head, metrics, per_sample, tables))
    store.con.execute("COMMIT")
    for row in scores:
        store.put_scores(*row)
    store.close()
    return written


def main() -> None:
    """Build the synthetic run, time the reference pass and the report, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000, help="samples per dataset")
    parser.add_argument("--keep", type=Path, default=None, help="write here instead of a tmp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        run_dir = root / "run"
        t0 = time.perf_counter()
        n = _write_run(run_dir, args.samples)
        print(f"wrote {n} results in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        store = RunStore(run_dir)
        read = sum(1 for _ in store.results())
        store.scores()
        store.close()
        reference = time.perf_counter() - t0
        print(f"reference: read {read} results and all scores once: {reference:.2f} s")

        t0 = time.perf_counter()
        out = build_report([run_dir], root / "report")
        took = time.perf_counter() - t0
        html_mb = out["html"].stat().st_size / 1e6
        print(
            f"build_report: {took:.2f} s  (ratio to reference {took / reference:.2f}x;"
            f" goal < 30 s: {'ok' if took < 30 else 'MISSED'})"
        )
        print(
            f"report.html: {html_mb:.2f} MB  (goal < 20 MB: {'ok' if html_mb < 20 else 'MISSED'})"
        )
        for kind in ("md", "csv", "tex"):
            print(f"report.{kind}: {out[kind].stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
