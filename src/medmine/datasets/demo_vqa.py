"""Visual questions about the synthetic demo images: one per case, rotating through a yes/no,
a multiple-choice and an open question about the case's label (SYNTHETIC: checks the pipeline).
"""

from __future__ import annotations

from collections.abc import Mapping

from medmine.datasets.readers.vqa_common import CHOICE, CLOSED, OPEN, VqaTarget

MODALITY = {
    "dermatology": "dermoscopy",
    "radiology": "chest X-ray",
    "dentistry": "dental radiograph",
    "ophthalmology": "fundus photograph",
    "endoscopy": "endoscopy",
}


def demo_vqa_target(
    category: str, label: str, k: int, names: Mapping[str, tuple[str, ...]]
) -> VqaTarget:
    """The demo question of case ``k`` of a class: yes/no (k % 3 == 0), multiple choice (1)
    or open (2), all about which finding the image shows."""
    labels = list(names)
    shown = {lab: names[lab][0] for lab in labels}
    modality = MODALITY.get(category, category)
    kind = k % 3
    if kind == 0:
        asked = label if k % 2 == 0 else labels[(labels.index(label) + 1) % len(labels)]
        return VqaTarget(
            question=f"Is this {modality} image consistent with {shown[asked]}?",
            answer="yes" if asked == label else "no",
            answer_type=CLOSED,
            question_type="finding-yes-no",
            modality=modality,
        )
    if kind == 1:
        options = tuple((chr(65 + i), shown[lab]) for i, lab in enumerate(labels))
        return VqaTarget(
            question=f"Which finding does this {modality} image show?",
            answer=shown[label],
            answer_type=CHOICE,
            options=options,
            letter=chr(65 + labels.index(label)),
            question_type="finding-choice",
            modality=modality,
        )
    return VqaTarget(
        question=f"What is the main finding in this {modality} image?",
        answer=shown[label],
        answer_type=OPEN,
        question_type="finding-open",
        modality=modality,
    )
