"""One short case per classification reading rule added in reader versions 3 and 4.

Each case is an answer as models write it and the reading a careful clinician would make
(``answered:<label>``, ``unparseable`` or ``refused``). The cases cover JSON label maps,
doubt, preference, ranked probability lists, same-label alternatives, British spellings,
clinical synonyms and typos, and the guards that keep those rules from mislabelling.
"""

from __future__ import annotations

import pytest

from medmine.core import LabelTarget, ParseStatus
from medmine.datasets.catalog import get_entry
from medmine.tasks.label_names import names_for
from medmine.tasks.label_reader import parse_label
from medmine.tasks.label_vocab import distance, fold, near_word


def _target(dataset: str) -> LabelTarget:
    if "," in dataset:
        labels = tuple(dataset.split(","))
        return LabelTarget(labels[0], labels, {})
    entry = get_entry(dataset)
    labels = tuple(entry.labels)
    return LabelTarget(labels[0], labels, entry.names())


CASES: dict[str, list[tuple[str, str, str]]] = {
    "json_label_map": [
        ("chestxray2017", '{"pneumonia": false}', "answered:normal"),
        ("chestxray2017", '{"pneumonia": true}', "answered:pneumonia"),
        ("chestxray2017", '{"normal": true, "pneumonia": true}', "unparseable"),
        ("chestxray2017", '{"normal": false, "pneumonia": false}', "unparseable"),
        ("chestxray2017", '{"pneumonia": "no"}', "answered:normal"),
        ("chestxray2017", '{"label": "pneumonia", "present": false}', "answered:normal"),
        (
            "chestxray2017",
            '{"findings": "RLL opacity", "pneumonia_present": true}',
            "answered:pneumonia",
        ),
        (
            "chestxray2017",
            '```json\n{"normal": 0.12, "pneumonia": 0.88}\n```',
            "answered:pneumonia",
        ),
        ("refuge", '{"diagnosis": {"glaucoma": true}}', "answered:glaucoma"),
        ("refuge", '{"label": "glaucoma", "present": "no"}', "answered:non_glaucoma"),
        ("ham10000", '{"melanoma": false}', "unparseable"),
        ("ham10000", '{"melanoma": false, "nevus": true}', "answered:nv"),
        ("ham10000", '{"mel": 0.55, "nv": 0.30, "bkl": 0.15}', "answered:mel"),
        ("ham10000", '{"mel": 0.4, "nv": 0.4, "bkl": 0.2}', "unparseable"),
        ("benign,malignant", '{"malignant": false}', "answered:benign"),
    ],
    "doubt": [
        ("refuge", "Glaucoma cannot be excluded; recommend OCT of the RNFL.", "unparseable"),
        ("refuge", "Cannot rule out early glaucoma given the CDR of 0.6.", "unparseable"),
        ("refuge", "Glaucoma suspect; the CDR is 0.6 with an intact rim.", "unparseable"),
        ("chestxray2017", "Pneumonia cannot be ruled out.", "unparseable"),
        ("chestxray2017", "Pneumonia?", "unparseable"),
        ("ham10000", "It could be a nevus, though melanoma is possible.", "unparseable"),
        ("benign,malignant", "Malignancy cannot be excluded.", "unparseable"),
        ("chestxray2017", "I can't exclude pneumonia.", "unparseable"),
        ("chestxray2017", "Impossible to exclude pneumonia on a single view.", "unparseable"),
        ("chestxray2017", "We could not rule out pneumonia.", "unparseable"),
        ("chestxray2017", "Pneumonia is not excluded.", "unparseable"),
        ("chestxray2017", "Pneumonia is excluded.", "answered:normal"),
        ("ham10000", "Nevus; melanoma cannot be excluded.", "unparseable"),
        # a stated answer still wins, and plain hedges still answer
        (
            "refuge",
            "Most likely glaucoma, although a large physiological cup cannot be excluded.",
            "answered:glaucoma",
        ),
        (
            "chestxray2017",
            "Pneumonia (left lower lobe) — although an aspiration component cannot be excluded.",
            "answered:pneumonia",
        ),
        ("chestxray2017", "Possible early pneumonia in the left lower lobe.", "unparseable"),
        ("ham10000", "Possibly melanoma; I'm not entirely certain.", "unparseable"),
        ("chestxray2017", "?pneumonia at the right base", "unparseable"),
        ("chestxray2017", "Final answer: possibly pneumonia.", "answered:pneumonia"),
        ("chestxray2017", "Probably pneumonia.", "answered:pneumonia"),
    ],
    "preference": [
        (
            "ham10000",
            "Symmetrical globular pattern; I favour a benign nevus over melanoma.",
            "answered:nv",
        ),
        ("ham10000", "Melanoma is more likely than a dysplastic nevus.", "answered:mel"),
        ("ham10000", "I'd go with melanoma over a Spitz nevus.", "answered:mel"),
        (
            "ham10000",
            "Dermatofibroma rather than a nevus (central white scar-like patch).",
            "answered:df",
        ),
        ("aptos2019", "Severe NPDR rather than PDR: no new vessels.", "answered:severe"),
        ("ham10000", "Melanoma is less likely than a nevus.", "answered:nv"),
        ("ham10000", "Melanoma favored over a dysplastic nevus.", "answered:mel"),
        ("ham10000", "More likely melanoma than nevus.", "answered:mel"),
        ("ham10000", "Nevus, not melanoma.", "answered:nv"),
    ],
    "stated_beside_negated": [
        ("ham10000", "No melanoma here — this is a melanocytic naevus.", "answered:nv"),
        ("ham10000", "Not melanoma — a benign nevus.", "answered:nv"),
        (
            "kvasir_v2",
            "Blue-stained resection margins after EMR; no residual polyp.",
            "answered:dyed_resection_margins",
        ),
        (
            "chestxray2017",
            "| Finding | Present |\n|---|---|\n| Pneumonia | No |\n\nFinal: normal",
            "answered:normal",
        ),
    ],
    "questions_and_hypotheticals": [
        ("chestxray2017", "Pneumonia present? Yes.", "answered:pneumonia"),
        ("chestxray2017", "Pneumonia? No. The lungs are clear.", "answered:normal"),
        ("ham10000", "Is this melanoma? No, it's a benign nevus.", "answered:nv"),
        (
            "ham10000",
            "If this were melanoma we would expect a blue-white veil. Neither is present. "
            "This is a benign nevus.",
            "answered:nv",
        ),
    ],
    "narrower_label_hinted": [
        ("kvasir_v2", "The polyp has been lifted with a blue submucosal injection.", "unparseable"),
        ("kvasir_v2", "A 1 cm sessile polyp in the sigmoid colon.", "answered:polyps"),
        (
            "kvasir_v2",
            "Dyed lifted polyp after submucosal injection.",
            "answered:dyed_lifted_polyps",
        ),
    ],
    "ranked_probabilities": [
        ("ham10000", "melanoma 45%, nevus 40%, seborrheic keratosis 15%", "answered:mel"),
        ("ham10000", "Probabilities: nevus 0.30, melanoma 0.60, BKL 0.10", "answered:mel"),
        (
            "ham10000",
            "1. Nevus (70%)\n2. Melanoma (20%)\n3. Seborrheic keratosis (10%)",
            "answered:nv",
        ),
        ("ham10000", "melanoma 45%, nevus 45%, seborrheic keratosis 10%", "unparseable"),
        ("chestxray2017", "Pneumonia: 85%, Normal: 15%", "answered:pneumonia"),
    ],
    "same_label_alternatives": [
        ("aptos2019", "DR grade 2 / moderate NPDR", "answered:moderate"),
        ("aptos2019", "Moderate NPDR or grade 2", "answered:moderate"),
        ("aptos2019", "Mild or moderate NPDR.", "unparseable"),
        ("aptos2019", "Moderate/severe NPDR", "unparseable"),
        ("aptos2019", "grade 2-3", "unparseable"),
        ("ham10000", "melanoma/nevus", "unparseable"),
    ],
    "stated_answer_forms": [
        ("chestxray2017", "Pneumonia vs normal: I'd say normal.", "answered:normal"),
        ("ham10000", "Nevus or melanoma? I'd go with melanoma.", "answered:mel"),
        ("ham10000", "Between nevus and melanoma, I lean towards melanoma.", "answered:mel"),
        ("ham10000", "Nevus vs melanoma — my pick: melanoma.", "answered:mel"),
        ("ham10000", "Nevus vs melanoma. Verdict: melanoma.", "answered:mel"),
        ("ham10000", "Nevus vs melanoma. So the answer would be melanoma.", "answered:mel"),
        ("ham10000", "Nevus vs melanoma. Ultimately, melanoma.", "answered:mel"),
        ("ham10000", "I'd say it is hard to tell nevus from melanoma.", "unparseable"),
    ],
    "grades_and_keys": [
        ("aptos2019", "Grade II", "answered:moderate"),
        ("aptos2019", "Grade IV (PDR)", "answered:proliferative_dr"),
        ("aptos2019", '{"dr_grade": 1}', "answered:mild"),
        ("aptos2019", "Grade: I would say moderate NPDR.", "answered:moderate"),
    ],
    "disclaimer_then_answer": [
        (
            "ham10000",
            "I can't give a medical diagnosis, but this appears to be a melanoma.",
            "answered:mel",
        ),
        (
            "ham10000",
            "I can't diagnose this lesion, but any changing mole should be checked by a doctor.",
            "refused",
        ),
        (
            "ham10000",
            "I can't diagnose melanoma from a photo. Please see a dermatologist.",
            "refused",
        ),
    ],
    "cannot_decide": [
        ("aptos2019", "DR present, but I cannot grade its severity.", "unparseable"),
        ("aptos2019", "Diabetic retinopathy present.", "unparseable"),
        (
            "refuge",
            "I cannot diagnose glaucoma from a photograph. Please see an ophthalmologist.",
            "refused",
        ),
    ],
    "spelling_and_synonyms": [
        ("chestxray2017", "pnuemonia", "answered:pneumonia"),
        ("refuge", "Glaucomma", "answered:glaucoma"),
        ("aptos2019", "sever NPDR", "answered:severe"),
        ("ham10000", "dermatofribroma", "answered:df"),
        ("ham10000", '{"label": "dermatofribroma"}', "answered:df"),
        ("chestxray2017", "Neumonia", "answered:pneumonia"),
        ("ham10000", "basel cell carcinoma", "answered:bcc"),
        ("kvasir_v2", "ulcerative colitus", "answered:ulcerative_colitis"),
        ("aptos2019", "Severe non-proliferative diabetic retinopthy", "answered:severe"),
        ("skin_cancer_isic_9", "squamos cell carcinoma", "answered:squamous_cell_carcinoma"),
        ("skin_cancer_isic_9", "Seborrhoeic keratosis", "answered:seborrheic_keratosis"),
        ("ham10000", "Benign naevus.", "answered:nv"),
        ("ham10000", "Haemangioma", "answered:vasc"),
        ("kvasir_v2", "Reflux oesophagitis, LA grade A", "answered:esophagitis"),
        ("kvasir_v2", "Active UC with loss of vascular pattern.", "answered:ulcerative_colitis"),
        (
            "kvasir_v2",
            "This is the caecum: appendiceal orifice and ileocaecal valve.",
            "answered:normal_cecum",
        ),
        ("kvasir_v2", "Lifted polyp with blue submucosal cushion.", "answered:dyed_lifted_polyps"),
        ("skin_cancer_isic_9", "SCC in situ", "answered:squamous_cell_carcinoma"),
        ("ham10000", "AK", "answered:akiec"),
        ("isic2017", "SebK", "answered:seborrheic_keratosis"),
        ("aptos2019", "Moderate DR", "answered:moderate"),
        ("aptos2019", "PDR with neovascularisation of the disc.", "answered:proliferative_dr"),
        (
            "chestxray2017",
            "Bilateral patchy infiltrates — bronchopneumonia pattern.",
            "answered:pneumonia",
        ),
        ("chestxray2017", "No acute cardiopulmonary process.", "answered:normal"),
        (
            "chestxray2017",
            "The lung fields appear clear without any infiltrates.",
            "answered:normal",
        ),
        # real words are never typos, and a correction must complete a name
        ("chestxray2017", "The image is formal and well exposed.", "unparseable"),
        ("chestxray2017", "Pneumonitis pattern.", "unparseable"),
        ("ham10000", "Keratitis.", "unparseable"),
        ("ham10000", "Atypical melanocytes.", "unparseable"),
        ("kvasir_v2", "Ulceration seen in the colon.", "unparseable"),
    ],
    "v4_alternatives_long_form": [
        ("chestxray2017", "Might be normal or it might be atypical pneumonia.", "unparseable"),
        ("ham10000", "Either a dermatofibroma or a nevus; hard to say.", "unparseable"),
        ("ham10000", "Dermatofibroma vs melanocytic nevus.", "unparseable"),
        ("ham10000", "Melanoma versus an atypical nevus.", "unparseable"),
        ("isic2017", "Somewhere between a nevus and a melanoma.", "unparseable"),
        ("isic2017", "Could represent melanoma or seborrheic keratosis.", "unparseable"),
        ("isic2017", "nevus/melanoma", "unparseable"),
        ("refuge", "Borderline disc; the appearance is equivocal.", "unparseable"),
        ("chestxray2017", "Normal lungs; no pneumonia or effusion.", "answered:normal"),
        ("chestxray2017", "May be normal. May also be a subtle pneumonia.", "unparseable"),
        ("chestxray2017", "Probably pneumonia, might also be normal.", "answered:pneumonia"),
        ("chestxray2017", "It could be pneumonia.", "answered:pneumonia"),
    ],
    "v4_hedged_answer_with_other_open": [
        (
            "aptos2019",
            "Probably severe NPDR, though proliferative disease cannot be excluded.",
            "answered:severe",
        ),
        ("ham10000", "Likely a dermatofibroma; melanoma cannot be fully excluded.", "answered:df"),
        ("ham10000", "It could be a nevus, but melanoma is also possible.", "unparseable"),
        (
            "aptos2019",
            "Mild NPDR seems most likely; moderate disease cannot be ruled out.",
            "answered:mild",
        ),
        (
            "ham10000",
            "Melanoma is less likely than a nevus; BCC cannot be excluded.",
            "answered:nv",
        ),
    ],
    "v4_nested_json": [
        ("ham10000", '{"output": {"label": "melanoma", "confidence": 0.8}}', "answered:mel"),
        ("ham10000", '{"result": {"class": "Dermatofibroma"}}', "answered:df"),
        ("isic2017", '{"case": {"assessment": {"diagnosis": "nevus"}}}', "answered:nevus"),
        (
            "isic2017",
            '{"a": {"diagnosis": "nevus"}, "b": {"diagnosis": "melanoma"}}',
            "unparseable",
        ),
        ("isic2017", '{"label": "nevus", "diagnosis": "melanoma"}', "unparseable"),
        ("isic2017", '{"label": "nevus", "diagnosis": "benign nevus"}', "answered:nevus"),
    ],
    "v4_free_label_lists": [
        ("Normal,SARS-CoV-2", "sars cov 2", "answered:SARS-CoV-2"),
        ("Normal,COVID-19", "Covid 19 pneumonia pattern.", "answered:COVID-19"),
        ("Normal,AMD,DME", "Diabetic macular oedema with exudates.", "answered:DME"),
        ("Normal,Pneumothorax,Effusion", "Large right PTX.", "answered:Pneumothorax"),
        ("Normal,MI,CHF", "Congestive heart failure.", "answered:CHF"),
    ],
    "v4_acronym_labels_spelt_out": [
        ("Normal,PVD,MH", "Complete posterior vitreous detachment.", "answered:PVD"),
        ("Normal,PVD,MH", "Full-thickness macular hole.", "answered:MH"),
        ("Normal,PVD,MH", "No posterior vitreous detachment seen.", "unparseable"),
        ("Normal,PVD,MH", "Macula otherwise healthy.", "answered:Normal"),
    ],
    "v4_accents": [
        ("chestxray2017", "Neumonía lobar.", "answered:pneumonia"),
        ("isic2017", "Mélanome? No — naevus.", "answered:nevus"),
    ],
    "v4_refusal_versus_cannot_decide": [
        ("aptos2019", "Mild or moderate NPDR; I can't stage it more precisely.", "unparseable"),
        ("ham10000", "I can't tell you if this is a melanoma; see a dermatologist.", "refused"),
        ("ham10000", "I cannot determine whether this is melanoma; see a doctor.", "unparseable"),
    ],
}


@pytest.mark.parametrize(
    ("dataset", "answer", "expected"),
    [case for group in CASES.values() for case in group],
)
def test_reading_rule(dataset: str, answer: str, expected: str) -> None:
    label, status, why, _ = parse_label(answer, _target(dataset))
    got = "answered" if status in (ParseStatus.OK, ParseStatus.REPAIRED) else status.value
    want_status, _, want_label = expected.partition(":")
    assert (got, label if got == "answered" else "") == (want_status, want_label), why


def test_a_repaired_spelling_is_repaired_and_named() -> None:
    label, status, why, _ = parse_label("pnuemonia", _target("chestxray2017"))
    assert (label, status) == ("pneumonia", ParseStatus.REPAIRED)
    assert why is not None and "'pnuemonia' as 'pneumonia'" in why


def test_fold_maps_british_spellings_and_keeps_positions() -> None:
    folded, index = fold("Oesophagitis and naevus, tumour")
    assert folded == "esophagitis and nevus, tumor"
    assert [index[i] for i in (0, len(folded))] == [1, len("Oesophagitis and naevus, tumour")]


def test_typo_rules_are_conservative() -> None:
    names = names_for(_target("ham10000"))
    assert near_word("dermatofribroma", names.vocabulary, anchored=False) == "dermatofibroma"
    assert near_word("keratitis", names.vocabulary, anchored=False) is None  # -itis ≠ -osis
    assert near_word("mole", names.vocabulary, anchored=False) is None  # too short
    chest = names_for(_target("chestxray2017"))
    assert near_word("formal", chest.vocabulary, anchored=False) is None  # first letter, real word
    assert distance("pnuemonia", "pneumonia", 2) == 1  # a transposition is one edit
    assert distance("abcdef", "uvwxyz", 1) == 2  # capped at limit + 1


def test_an_acronym_read_from_initials_is_repaired_and_named() -> None:
    target = _target("Normal,PVD,MH")
    label, status, why, _ = parse_label("Posterior vitreous detachment.", target)
    assert (label, status) == ("PVD", ParseStatus.REPAIRED)
    assert why is not None and "initials" in why
    # the words must be contiguous: "posterior vitreous, then detachment" is not PVD
    assert parse_label("Posterior vitreous floaters; no detachment.", target)[0] is None
    # an acronym with a known expansion is read only by it: pleural effusion is not a PE
    assert parse_label("Small pleural effusion.", _target("Normal,PE"))[0] is None
