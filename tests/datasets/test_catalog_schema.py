"""The catalog schema, the registry, user YAML files and READERS dispatch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.core import TaskKind
from medmine.datasets.catalog import (
    READERS,
    DatasetEntry,
    add_catalog_file,
    get_entry,
    list_entries,
    load_dataset,
    reset_catalog,
)


@pytest.fixture(autouse=True)
def fresh_catalog() -> Iterator[None]:
    """Each test starts from the bundled catalog only."""
    reset_catalog()
    yield
    reset_catalog()


def test_bundled_catalog_covers_every_category_and_reader() -> None:
    """Bundled catalog covers every category and reader."""
    entries = list_entries()
    cats = {e.category for e in entries}
    assert cats == {
        "dermatology",
        "radiology",
        "dentistry",
        "ophthalmology",
        "endoscopy",
        "reports",
        "pathology",  # VQA benchmarks (PathVQA)
        "mixed",  # VQA benchmarks mixing sources (samples carry their own category)
    }
    assert {e.reader for e in entries} <= set(READERS)
    names = {e.name for e in entries}
    for required in (
        "ham10000",
        "skin_cancer_isic_9",
        "isic2017",
        "isic2018_task1",
        "chestxray2017",
        "nih_chestxray14",
        "montgomery",
        "dentex",
        "refuge",
        "kvasir_seg",
        "cvc_clinicdb",
        "iu_xray_r2gen",
        "openi",
        "mimic_cxr",
    ):
        assert required in names
    for e in entries:
        assert e.layout.strip() and e.notes and e.licence and e.top_level
        if TaskKind.CLASSIFICATION in e.tasks:
            assert e.labels, e.name
    assert get_entry("mimic_cxr").access == "credentialed"
    assert get_entry("ichallenge_gon").name == "refuge"
    assert [e.name for e in list_entries("dentistry")] == ["dental_mandibles", "dentex"]


def test_unknown_dataset_and_bad_entries_are_clear_errors() -> None:
    """Unknown dataset and bad entries are clear errors."""
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'.*ham10000"):
        get_entry("nope")
    base = get_entry("kvasir_seg").model_dump()
    with pytest.raises(ValueError, match="unknown reader"):
        DatasetEntry.model_validate({**base, "reader": "excel_magic"})
    labels = {"a": {"name": "x", "synonyms": ["y"]}, "b": {"name": "y", "synonyms": []}}
    with pytest.raises(ValueError, match="names both"):
        DatasetEntry.model_validate({**base, "labels": labels})
    with pytest.raises(ValueError, match="access"):
        DatasetEntry.model_validate({**base, "access": "secret"})


def test_user_yaml_adds_a_dataset_in_a_known_format(tmp_path: Path) -> None:
    """User yaml adds a dataset in a known format."""
    data = tmp_path / "data"
    for cls in ("benign", "malignant"):
        (data / "imgs" / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(data / "imgs" / cls / f"{cls}1.png")
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text(
        "- name: my_lesions\n"
        "  title: My lesions\n"
        "  category: dermatology\n"
        "  tasks: [classification]\n"
        "  reader: folder_classes\n"
        "  reader_args: {base: imgs}\n"
        "  labels:\n"
        "    benign: {name: benign lesion, synonyms: [benign]}\n"
        "    malignant: {name: malignant lesion, synonyms: [malignant]}\n"
        "  licence: private\n"
        "  access: open\n"
        "  top_level: [imgs]\n"
        "  layout: 'imgs/<class>/*.png'\n"
    )
    assert add_catalog_file(yaml_file) == ["my_lesions"]
    read = load_dataset("my_lesions", data)
    assert sorted(s.target("classification").label for s in read.samples) == [  # type: ignore[union-attr]
        "benign",
        "malignant",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: Bad Name\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: entry 'Bad Name' is invalid"):
        add_catalog_file(bad)


def test_load_dataset_errors_name_the_problem(tmp_path: Path) -> None:
    """Load dataset errors name the problem."""
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset("kvasir_seg", tmp_path / "absent")
