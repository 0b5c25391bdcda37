"""The 14 CheXpert observations and the label values the CheXpert labeler emits."""

from __future__ import annotations

from typing import Final

NO_FINDING: Final = "No Finding"
ENLARGED_CARDIOMEDIASTINUM: Final = "Enlarged Cardiomediastinum"
CARDIOMEGALY: Final = "Cardiomegaly"
LUNG_LESION: Final = "Lung Lesion"
LUNG_OPACITY: Final = "Lung Opacity"
EDEMA: Final = "Edema"
CONSOLIDATION: Final = "Consolidation"
PNEUMONIA: Final = "Pneumonia"
ATELECTASIS: Final = "Atelectasis"
PNEUMOTHORAX: Final = "Pneumothorax"
PLEURAL_EFFUSION: Final = "Pleural Effusion"
PLEURAL_OTHER: Final = "Pleural Other"
FRACTURE: Final = "Fracture"
SUPPORT_DEVICES: Final = "Support Devices"

#: The 14 observations in the column order of the CheXpert labeler's output CSV.
OBSERVATIONS: Final[tuple[str, ...]] = (
    NO_FINDING,
    ENLARGED_CARDIOMEDIASTINUM,
    CARDIOMEGALY,
    LUNG_LESION,
    LUNG_OPACITY,
    EDEMA,
    CONSOLIDATION,
    PNEUMONIA,
    ATELECTASIS,
    PNEUMOTHORAX,
    PLEURAL_EFFUSION,
    PLEURAL_OTHER,
    FRACTURE,
    SUPPORT_DEVICES,
)

#: Label values: mentioned and affirmed, mentioned and negated, mentioned with uncertainty.
POSITIVE: Final = 1.0
NEGATIVE: Final = 0.0
UNCERTAIN: Final = -1.0
