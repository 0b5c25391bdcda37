"""Generated DICOM studies that look like a hospital's chest radiographs (CR/DX).

Each instance carries the identifiers a real archive holds (patient name, MRN, birth date,
accession number, study date, institution, referring physician) so tests can prove that none
of them leaves medmine; pixels are synthetic (a smooth gradient with a bright blob).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

pydicom = __import__("pydicom")
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import (  # noqa: E402
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
ROOT = "1.2.826.0.1.3680043.8.498."


@dataclass(frozen=True)
class Patient:
    """The identifying values of one generated patient (what must never leave medmine)."""

    name: str
    mrn: str
    birth_date: str
    accession: str
    study_date: str

    def values(self) -> list[str]:
        """Every identifying string, and the parts of the name, for leak checks."""
        return [self.name, *self.name.split("^"), self.mrn, self.birth_date, self.accession]


def patient(i: int) -> Patient:
    """A deterministic, unmistakable patient identity for study ``i``."""
    first = ["Zebediah", "Philomena", "Octavius", "Wilhelmina", "Barnabus", "Clementine"][i % 6]
    return Patient(
        name=f"Quixotic{i:03d}^{first}",
        mrn=f"MRN{7300000 + i * 37:08d}",
        birth_date=f"19{40 + i % 50:02d}0{1 + i % 9}1{i % 10}",
        accession=f"ACC{880000 + i:07d}",
        study_date=f"202401{1 + i % 28:02d}",
    )


def pixels(rows: int, cols: int, seed: int, frames: int = 1) -> np.ndarray:
    """12-bit grey pixels: a gradient with a bright round blob whose place depends on seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    out = []
    for f in range(frames):
        cy, cx = rng.integers(rows // 4, 3 * rows // 4), rng.integers(cols // 4, 3 * cols // 4)
        img = 800 + 6 * yy + 3 * xx + 40 * f
        img = img + 2000 * (((yy - cy) ** 2 + (xx - cx) ** 2) < (rows // 8) ** 2)
        img = np.clip(img, 0, 4095).astype(np.uint16)
        img[0, : cols // 2] = seed % 4096  # a unique stripe: no two instances look alike
        out.append(img)
    return np.stack(out) if frames > 1 else out[0]


def instance(
    study: int,
    series: int,
    number: int,
    *,
    modality: str = "CR",
    rows: int = 48,
    cols: int = 40,
    frames: int = 1,
    burned_in: bool = False,
    syntax: str = ExplicitVRLittleEndian,
    photometric: str = "MONOCHROME2",
) -> Dataset:
    """One chest radiograph instance with a full identifying header."""
    p = patient(study)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = CR_STORAGE if modality == "CR" else DX_STORAGE
    ds.SOPInstanceUID = f"{ROOT}{study}.{series}.{number}.9"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = generate_uid(prefix=ROOT)
    ds.StudyInstanceUID = f"{ROOT}{study}"
    ds.SeriesInstanceUID = f"{ROOT}{study}.{series}"
    ds.PatientName = p.name
    ds.PatientID = p.mrn
    ds.PatientBirthDate = p.birth_date
    ds.PatientSex = "F" if study % 2 else "M"
    ds.AccessionNumber = p.accession
    ds.StudyDate = p.study_date
    ds.SeriesDate = p.study_date
    ds.StudyTime = "101530"
    ds.StudyID = f"S{study}"
    ds.StudyDescription = "CHEST PA AND LATERAL" if study % 3 else "CHEST AP PORTABLE"
    ds.SeriesDescription = ["PA", "LATERAL", "AP"][series % 3]
    ds.InstitutionName = "Saint Hypothetical Hospital"
    ds.ReferringPhysicianName = "Grimsby^Aloysius"
    ds.Modality = modality
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = ["PA", "LL", "AP"][series % 3]
    ds.SeriesNumber = series + 1
    ds.InstanceNumber = number + 1
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels(
        rows, cols, seed=study * 100 + series * 10 + number, frames=frames
    ).tobytes()
    if syntax == RLELossless:
        ds.compress(RLELossless, generate_instance_uid=False)
    elif syntax == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return ds


def archive(n_studies: int, series_per_study: int = 2, per_series: int = 2) -> list[Dataset]:
    """A small archive: CR and DX studies, one burned-in instance, a multi-frame, RLE files."""
    out: list[Dataset] = []
    for s in range(n_studies):
        modality = "CR" if s % 2 == 0 else "DX"
        for se in range(series_per_study):
            for n in range(per_series):
                out.append(
                    instance(
                        s,
                        se,
                        n,
                        modality=modality,
                        burned_in=(s == 1 and se == 0 and n == 0),
                        frames=3 if (s == 2 and se == 1 and n == 0) else 1,
                        syntax=RLELossless if (s % 4 == 3) else ExplicitVRLittleEndian,
                        photometric="MONOCHROME1" if (s == 4 and n == 1) else "MONOCHROME2",
                    )
                )
    return out
