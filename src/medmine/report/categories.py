"""The study's five imaging categories (plus radiology reports): which dataset is in which,
and the per-category summary table (models as rows, categories as columns)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from medmine.report.data import Board, ReportData

ORDER = ("dermatology", "radiology", "dentistry", "ophthalmology", "endoscopy", "reports")
OTHER = "other"


def category_of(dataset: str) -> str:
    """A dataset's category: the demo's name suffix, else its catalog entry, else ``other``."""
    if dataset.startswith("demo-") and dataset[5:] in ORDER:
        return dataset[5:]
    from medmine.datasets.catalog import get_entry

    try:
        return str(get_entry(dataset).category)
    except (KeyError, ValueError, LookupError):
        return OTHER


def sort_key(category: str) -> tuple[int, str]:
    """Categories in the study's order, unknown ones after, by name."""
    return (ORDER.index(category) if category in ORDER else len(ORDER), category)


@dataclass
class Cell:
    """One model's headline in one category: mean over the category's datasets."""

    value: float
    datasets: list[str] = field(default_factory=list)
    best: bool = False  # significantly better than every other model on each of the datasets


@dataclass
class CategoryTable:
    """One task's models × categories table."""

    task: str
    headline: str
    categories: list[str]
    models: list[str]
    cells: dict[tuple[str, str], Cell]


def category_tables(data: ReportData) -> list[CategoryTable]:
    """Per task: each model's headline per category (mean of the category's datasets).

    A cell is marked best when, on every dataset of that category, the model is the board's
    best and is significantly better than every other model (paired tests, Holm-adjusted).
    """
    out = []
    for task in data.tasks:
        boards = [b for b in data.boards if b.task == task]
        by_cat: dict[str, list[Board]] = {}
        for b in boards:
            by_cat.setdefault(category_of(b.dataset), []).append(b)
        categories = sorted(by_cat, key=sort_key)
        models = list(dict.fromkeys(e.model for b in boards for e in b.entries))
        cells: dict[tuple[str, str], Cell] = {}
        for cat in categories:
            for model in models:
                values, names, wins = [], [], []
                for b in by_cat[cat]:
                    entry = next((e for e in b.entries if e.model == model), None)
                    if entry is None:
                        continue
                    names.append(b.dataset)
                    if not math.isnan(entry.value):
                        values.append(entry.value)
                    wins.append(b.best_significant and b.best is entry)
                if names:
                    mean = sum(values) / len(values) if values else math.nan
                    cells[(model, cat)] = Cell(mean, names, bool(wins) and all(wins))
        headline = boards[0].headline if boards else ""
        out.append(CategoryTable(task, headline, categories, models, cells))
    return out
