"""Agreement between label tables: a labeler against truth, and labelers against each other.

A label table is any CSV with the 14 CheXpert observation columns (1 / 0 / -1 / blank), such
as ``medmine mine`` writes, CheXpert's ``labeled_reports.csv`` or MIMIC-CXR's
``mimic-cxr-2.0.0-chexpert.csv``. Rows are matched by a key column that means the same in
both tables (the same name among ``id``, ``study_id``, ``uid``, ``Reports``; or a mined ``id``
with MIMIC's ``study_id``), else by row order (then the tables must have as many rows).
A truth table with a ``MeSH`` column and no observation column (IU X-ray
``indiana_reports.csv``) is mapped by :mod:`medmine.chexpert.mesh`, scoring only the
observations MeSH can confirm.

Values are compared as "positive" (1 or -1: CheXpert's U-Ones policy, as the diagnosis
task scores) against "not positive" (0 or blank). Per observation: precision, recall, F1 and
Cohen's kappa, with seeded percentile bootstrap 95% intervals over reports.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmine.chexpert import OBSERVATIONS
from medmine.chexpert.mesh import CONFIRMABLE, mesh_to_observations
from medmine.metrics.agreement import binary_kappa
from medmine.metrics.bootstrap import bootstrap_ci

KEY_COLUMNS = ("id", "study_id", "uid", "Reports")


@dataclass
class LabelTable:
    """Rows of a label table: key column used (or "row"), keys, and a reports x 14 matrix."""

    path: Path
    key: str
    keys: list[str]
    values: np.ndarray  # float, NaN = blank
    columns: list[str]
    texts: list[str]


def read_label_table(path: Path) -> LabelTable:
    """Read a CSV (or .csv.gz) of CheXpert labels; ValueError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: label table not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig", errors="replace"), newline=""))
    header = list(reader.fieldnames or [])
    by_lower = {h.strip().lower(): h for h in header}
    columns = [by_lower[o.lower()] for o in OBSERVATIONS if o.lower() in by_lower]
    if not columns and "mesh" in by_lower:
        return _mesh_table(path, list(reader), by_lower["mesh"], header)
    if not columns:
        raise ValueError(
            f"{path}: no CheXpert observation column (expected e.g. 'Cardiomegaly') and no "
            "MeSH column"
        )
    key = next((k for k in KEY_COLUMNS if k in header), "row")
    keys, rows, texts = [], [], []
    for number, row in enumerate(reader, start=2):
        keys.append(str(row.get(key, "")).strip() if key != "row" else str(number - 2))
        texts.append(str(row.get("report") or row.get("Reports") or ""))
        values = []
        for o in OBSERVATIONS:
            cell = (row.get(by_lower.get(o.lower(), ""), "") or "").strip()
            try:
                values.append(float(cell) if cell else math.nan)
            except ValueError:
                why = f"{cell!r} is not 1, 0, -1 or blank"
                raise ValueError(f"{path}: line {number}, {o}: {why}") from None
        rows.append(values)
    matrix = np.array(rows, dtype=float).reshape(len(rows), len(OBSERVATIONS))
    named = [o for o in OBSERVATIONS if o.lower() in by_lower]
    return LabelTable(path, key, keys, matrix, named, texts)


def _mesh_table(
    path: Path, rows: list[dict[str, str]], column: str, header: list[str]
) -> LabelTable:
    """A truth table from IU X-ray MeSH terms (``indiana_reports.csv``), via the mapping.

    Only the observations MeSH can confirm are scored (``medmine.chexpert.mesh``); a row
    without terms has no truth (all blank).
    """
    key = next((k for k in KEY_COLUMNS if k in header), "row")
    keys, values, texts = [], [], []
    for number, row in enumerate(rows):
        keys.append(str(row.get(key, "")).strip() if key != "row" else str(number))
        texts.append(" ".join(str(row.get(c) or "") for c in ("findings", "impression")).strip())
        try:
            mapped = mesh_to_observations(row.get(column))
            values.append([math.nan if mapped.values[o] is None else mapped.values[o]
                           for o in OBSERVATIONS])  # fmt: skip
        except ValueError:
            values.append([math.nan] * len(OBSERVATIONS))
    matrix = np.array(values, dtype=float).reshape(len(rows), len(OBSERVATIONS))
    return LabelTable(path, key, keys, matrix, list(CONFIRMABLE), texts)


def align(a: LabelTable, b: LabelTable) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The rows both tables hold, in ``a``'s order: (a values, b values, keys)."""
    # Join by value only when both columns mean the same thing: the same name, or a mined
    # ``id`` with MIMIC's ``study_id`` (the miner's id of a MIMIC tree is the study id).
    same = a.key == b.key or {a.key, b.key} == {"id", "study_id"}
    key = a.key if "row" not in (a.key, b.key) and same else None
    if key is None:
        if len(a.keys) != len(b.keys):
            raise ValueError(
                f"{a.path} ({len(a.keys)} rows) and {b.path} ({len(b.keys)} rows) share no key "
                f"column ({', '.join(KEY_COLUMNS)}) and differ in length: cannot match rows"
            )
        return a.values, b.values, a.keys
    index = {k: i for i, k in enumerate(b.keys)}
    pairs = [(i, index[k]) for i, k in enumerate(a.keys) if k in index]
    if not pairs:
        raise ValueError(f"{a.path} and {b.path}: no {key!r} value in common")
    ia, ib = zip(*pairs, strict=True)
    return a.values[list(ia)], b.values[list(ib)], [a.keys[i] for i in ia]


def positive(values: np.ndarray) -> np.ndarray:
    """1 or -1 -> True (U-Ones); 0 and blank -> False."""
    return (values == 1.0) | (values == -1.0)


def kappa(x: np.ndarray, y: np.ndarray) -> float:
    """Cohen's kappa of two boolean vectors (NaN when chance agreement is total)."""
    return binary_kappa(x, y)


def _prf(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of boolean vectors (NaN when undefined)."""
    tp = float(np.sum(truth & pred))
    p = tp / float(np.sum(pred)) if np.any(pred) else math.nan
    r = tp / float(np.sum(truth)) if np.any(truth) else math.nan
    f = 2 * tp / float(np.sum(truth) + np.sum(pred)) if np.any(truth | pred) else math.nan
    return p, r, f


@dataclass
class ObservationAgreement:
    """One observation's agreement figures (with 95% bootstrap intervals for F1 and kappa)."""

    observation: str
    n: int
    n_truth_positive: int
    n_pred_positive: int
    precision: float
    recall: float
    f1: float
    f1_ci: tuple[float, float]
    kappa: float
    kappa_ci: tuple[float, float]


def agreement(
    truth: np.ndarray, pred: np.ndarray, observations: Sequence[str] = OBSERVATIONS, seed: int = 0
) -> list[ObservationAgreement]:
    """Per-observation P/R/F1 and kappa of ``pred`` against ``truth`` (reports x 14 arrays)."""
    out = []
    n = truth.shape[0]
    for j, name in enumerate(OBSERVATIONS):
        if name not in observations:
            continue
        t, p = positive(truth[:, j]), positive(pred[:, j])
        prec, rec, f1 = _prf(t, p)
        f1_ci = bootstrap_ci(lambda i, t=t, p=p: _prf(t[i], p[i])[2], n, n_resamples=500, seed=seed)
        k_ci = bootstrap_ci(lambda i, t=t, p=p: kappa(t[i], p[i]), n, n_resamples=500, seed=seed)
        out.append(
            ObservationAgreement(
                name, n, int(t.sum()), int(p.sum()), prec, rec, f1, f1_ci, kappa(t, p), k_ci
            )
        )
    return out


def _f(x: float) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.2f}"


def _ci(ci: tuple[float, float]) -> str:
    return f"{_f(ci[0])}-{_f(ci[1])}"


def format_agreement(rows: Sequence[ObservationAgreement], title: str) -> list[str]:
    """Aligned text lines of an agreement table (fits 80 columns; counts are in the CSV)."""
    lines = [
        title,
        f"{'observation':<26}{'true+':>6}{'P':>6}{'R':>6}{'F1':>6} {'95% CI':<10}{'kappa':>6}"
        f" {'95% CI':<10}",
    ]
    for r in rows:
        lines.append(
            f"{r.observation:<26}{r.n_truth_positive:>6}{_f(r.precision):>6}{_f(r.recall):>6}"
            f"{_f(r.f1):>6} {_ci(r.f1_ci):<10}{_f(r.kappa):>6} {_ci(r.kappa_ci):<10}"
        )
    return lines


def write_agreement_csv(rows: Sequence[ObservationAgreement], path: Path, **extra: str) -> Path:
    """Write the agreement rows (plus constant columns such as the pair's names) to CSV."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*extra, "observation", "n", "truth_positive", "pred_positive",
                         "precision", "recall", "f1", "f1_ci_low", "f1_ci_high", "kappa",
                         "kappa_ci_low", "kappa_ci_high"])  # fmt: skip
        for r in rows:
            writer.writerow([*extra.values(), r.observation, r.n, r.n_truth_positive,
                             r.n_pred_positive, r.precision, r.recall, r.f1, *r.f1_ci, r.kappa,
                             *r.kappa_ci])  # fmt: skip
    return Path(path)


def truth_report(labels: Path, truth: Path, out: Path) -> tuple[list[str], Path]:
    """Compare a mined label table with a truth table; returns printable lines and the CSV."""
    mined, given = read_label_table(labels), read_label_table(truth)
    t, p, keys = align(given, mined)
    rows = agreement(t, p, observations=given.columns)
    title = (
        f"labels {labels.name} against truth {truth.name}: {len(keys)} report(s) matched by "
        f"{given.key if given.key == mined.key else 'row order'}; positive = 1 or -1 (U-Ones)"
    )
    path = write_agreement_csv(rows, Path(out))
    return format_agreement(rows, title), path
