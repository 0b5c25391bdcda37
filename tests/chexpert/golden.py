"""Golden labels: the labeler's outputs before its speed work, to prove nothing changed.

``python tests/chexpert/golden.py`` (with the worktree's ``src`` on PYTHONPATH) rewrites
``golden_labels.tsv`` from the labeler as it is. It was run once, on the implementation
before the speed work (commit noted in the file's header), and must not be rerun to make
a failing comparison pass: the file is the reference.

The corpus is generated from seeds (:mod:`report_corpus`): archive-like IU/MIMIC reports,
the same with no sentence repeated, and varied reports reaching every rule; plus, when
present, the real reports of ``$MEDMINE_REALDATA`` (keyed by a hash of their text, never
copied). Each line holds a report key and its labels in default and ``compat`` mode, one
character per observation: ``1`` positive, ``0`` negative, ``u`` uncertain, ``.`` none.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from report_corpus import make_archive_reports, make_varied_reports, unique_sentences  # noqa: E402

GOLDEN = HERE / "golden_labels.tsv"
REALDATA = Path(os.environ.get("MEDMINE_REALDATA", HERE.parents[1] / ".." / "shared" / "realdata"))
_CODE = {1.0: "1", 0.0: "0", -1.0: "u", None: "."}


def generated_corpus() -> list[str]:
    """The seeded reports: 2,000 archive-like, 1,000 with no repeated sentence, 3,000 varied."""
    archive = make_archive_reports(2000, seed=7)
    return archive + unique_sentences(archive[:1000]) + make_varied_reports(3000, seed=11)


def real_reports() -> list[str]:
    """The real reports available locally (CheXpert's samples, IU X-ray R2Gen), else none."""
    texts: list[str] = []
    samples = REALDATA / "chexpert_labeler_samples" / "sample_reports.csv"
    if samples.is_file():
        with samples.open(newline="") as handle:
            texts += [row[0] for row in csv.reader(handle)]
    annotation = REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json"
    if annotation.is_file():
        data = json.loads(annotation.read_text(encoding="utf-8"))
        texts += [item["report"] for split in ("train", "val", "test") for item in data[split]]
    return texts


def text_key(text: str) -> str:
    """A short content key for a real report (its text is not stored)."""
    return "r:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def corpus_digest(texts: list[str]) -> str:
    """Hash of the generated corpus, so a change of the generator is caught, not hidden."""
    return hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()


def encode(labels: dict[str, float | None]) -> str:
    """One character per observation, in OBSERVATIONS order."""
    from medmine.chexpert import OBSERVATIONS

    return "".join(_CODE[labels[name]] for name in OBSERVATIONS)


def main() -> None:
    """Rewrite the golden file from the current labeler (see the module doc before running)."""
    from medmine.chexpert import label_report

    generated = generated_corpus()
    commit = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    lines = [f"# labeler commit {commit} corpus {corpus_digest(generated)}"]
    keyed = [(f"g:{i}", t) for i, t in enumerate(generated)]
    keyed += [(text_key(t), t) for t in real_reports()]
    for key, text in keyed:
        lines.append(f"{key}\t{encode(label_report(text))}\t{encode(label_report(text, True))}")
    GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(keyed)} reports to {GOLDEN}")


if __name__ == "__main__":
    main()
