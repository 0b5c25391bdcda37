"""Classical image-processing baselines for the spatial tasks (numpy + scipy, images via Pillow).

Each answers in the same JSON text an MLLM is asked for, in the request's coordinate convention
(``request.intent.convention``), from ``request.intent`` alone (never the prompt text):

* ``otsu-lcc`` (segmentation): Otsu threshold, largest central component, its outline polygon.
* ``landmark-intensity`` (localization): the brightest or darkest blob, by a rule table keyed
  by structure name (:data:`LANDMARK_RULES`); unknown structures get an error answer.
* ``blob-detector`` (detection): scale-normalised Laplacian-of-Gaussian blobs, labelled with
  the first class of ``intent.labels``; polarity by :data:`BLOB_POLARITY`.

All work on the image downscaled to at most :data:`WORK_EDGE` pixels per side; geometry is
scaled back to the original pixel grid before it is written in the convention. Each baseline
lives in its own module; this one registers them.
"""

from __future__ import annotations

from medmine.baselines.blob_detector import BLOB_POLARITY, BlobDetector, detect_blobs
from medmine.baselines.landmark_intensity import LandmarkIntensity, find_landmark
from medmine.baselines.landmark_rules import LANDMARK_RULES, landmark_rule
from medmine.baselines.otsu_lcc import OtsuLCC, otsu_lcc_mask
from medmine.baselines.registry import register_baseline
from medmine.baselines.work_image import WORK_EDGE, load_work_image, otsu_threshold

__all__ = [
    "BLOB_POLARITY",
    "LANDMARK_RULES",
    "WORK_EDGE",
    "BlobDetector",
    "LandmarkIntensity",
    "OtsuLCC",
    "detect_blobs",
    "find_landmark",
    "landmark_rule",
    "load_work_image",
    "otsu_lcc_mask",
    "otsu_threshold",
]

register_baseline("otsu-lcc", lambda: OtsuLCC(), default=True)
register_baseline("landmark-intensity", lambda: LandmarkIntensity(), default=True)
register_baseline("blob-detector", lambda: BlobDetector(), default=True)
