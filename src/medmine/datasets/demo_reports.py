"""Template-written chest radiograph reports with known CheXpert observations.

Each observation is written as a positive, negated or uncertain sentence drawn from phrasings
radiologists use ("No pleural effusion.", "Possible consolidation.", "Heart size is normal."),
so a report's labels are known exactly and the labeler's negation/uncertainty handling is
exercised. Values follow CheXpert: 1 positive, 0 negative, -1 uncertain, None not mentioned.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

OBSERVATIONS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Lesion",
    "Lung Opacity",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

# observation -> (positive, negative, uncertain) phrasings; None where radiologists do not write it.
PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Enlarged Cardiomediastinum": (
        ("The cardiomediastinal silhouette is widened.",),
        ("The mediastinal contours are normal.",),
        ("The mediastinum may be slightly widened.",),
    ),
    "Cardiomegaly": (
        ("The heart is enlarged.", "Moderate cardiomegaly."),
        ("Heart size is normal.", "No cardiomegaly."),
        ("Borderline cardiomegaly.",),
    ),
    "Lung Lesion": (
        ("A 2 cm nodule is seen in the right upper lobe.",),
        ("No pulmonary nodules or masses.",),
        ("A possible nodule in the left lower lobe.",),
    ),
    "Lung Opacity": (
        ("Patchy opacity in the right lower lobe.",),
        ("No focal opacity.",),
        ("Questionable opacity at the left base.",),
    ),
    "Edema": (
        ("There is mild pulmonary edema.",),
        ("No pulmonary edema.",),
        ("Findings may represent mild interstitial edema.",),
    ),
    "Consolidation": (
        ("There is focal consolidation in the right lower lobe.",),
        ("No focal consolidation.",),
        ("Possible consolidation at the left base.",),
    ),
    "Pneumonia": (
        ("Findings are consistent with pneumonia.",),
        ("No evidence of pneumonia.",),
        ("Pneumonia cannot be excluded.",),
    ),
    "Atelectasis": (
        ("Bibasilar atelectasis.",),
        ("No atelectasis.",),
        ("Likely atelectasis at the left base.",),
    ),
    "Pneumothorax": (
        ("There is a small right apical pneumothorax.",),
        ("No pneumothorax.", "There is no pneumothorax."),
        ("A tiny pneumothorax is not excluded.",),
    ),
    "Pleural Effusion": (
        ("Small right pleural effusion.",),
        ("No pleural effusion.", "There is no pleural effusion."),
        ("Possible small left pleural effusion.",),
    ),
    "Pleural Other": (
        ("Pleural thickening at the right apex.",),
        ("No pleural thickening.",),
        ("Possible pleural thickening.",),
    ),
    "Fracture": (
        ("An old healed rib fracture on the left.",),
        ("No acute fracture.",),
        ("Possible nondisplaced rib fracture.",),
    ),
    "Support Devices": (
        ("A right-sided PICC line terminates in the SVC.", "Endotracheal tube is in place."),
        (),
        (),
    ),
}

NORMAL_IMPRESSION = "No acute cardiopulmonary process."


def write_report(values: Mapping[str, float | None], rng: np.random.Generator) -> tuple[str, str]:
    """(findings, impression) text that states exactly the given observation values."""
    sentences: list[str] = []
    for obs, (pos, neg, unc) in PHRASES.items():
        v = values.get(obs)
        if v is None:
            continue
        options = pos if v == 1.0 else neg if v == 0.0 else unc
        if not options:
            raise ValueError(f"no phrasing for {obs} = {v}")
        sentences.append(str(rng.choice(options)))
    findings = " ".join(sentences) if sentences else "The lungs are clear."
    positives = [
        o for o, v in values.items() if v == 1.0 and o not in ("No Finding", "Support Devices")
    ]
    uncertain = [o for o, v in values.items() if v == -1.0]
    if not positives and not uncertain:
        impression = NORMAL_IMPRESSION
    else:
        parts = []
        if positives:
            parts.append(", ".join(o.lower() for o in positives).capitalize() + ".")
        if uncertain:
            parts.append("Cannot exclude " + ", ".join(o.lower() for o in uncertain) + ".")
        impression = " ".join(parts)
    return findings, impression


def random_observations(rng: np.random.Generator) -> dict[str, float | None]:
    """A plausible random set of observation values for a template report."""
    values: dict[str, float | None] = {}
    for obs in OBSERVATIONS[1:]:
        r = rng.random()
        if r < 0.45:
            continue  # not mentioned
        if obs == "Support Devices" or r < 0.65:
            values[obs] = 1.0
        elif r < 0.75:
            values[obs] = -1.0
        else:
            values[obs] = 0.0
    if not any(v in (1.0, -1.0) for o, v in values.items() if o != "Support Devices"):
        values["No Finding"] = 1.0
    return values
