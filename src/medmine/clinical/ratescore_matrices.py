"""RaTEScore's published affinity matrices: the weight of each (reference type, matched type)
pair and the negation weight, as fitted to radiologists' ratings in the RaTEScore paper.

Values are those of the reference package (``RaTEScore`` 0.6.0, ``scorer.py``:
``DEFAULT_MATRIX_LONG`` for whole reports, ``DEFAULT_MATRIX_SHORT`` for sentences); they are
data, not code, and are checked against the package in the tests when it is installed.
"""

from __future__ import annotations

MATRICES: dict[str, dict[str, float]] = {
    "long": {
        "abnormality_abnormality": 0.4276119164393705,
        "abnormality_anatomy": 0.6240929990607657,
        "abnormality_disease": 0.0034478181112993847,
        "abnormality_non-abnormality": 0.5431049700217344,
        "abnormality_non-disease": 0.27005425386213877,
        "anatomy_abnormality": 0.7487824274337533,
        "anatomy_anatomy": 0.2856134859160784,
        "anatomy_disease": 0.4592143222158069,
        "anatomy_non-abnormality": 0.02097055139911715,
        "anatomy_non-disease": 0.00013736314126696204,
        "disease_abnormality": 0.8396510075734789,
        "disease_anatomy": 0.9950209388542061,
        "disease_disease": 0.8460555030578727,
        "disease_non-abnormality": 0.9820689020512646,
        "disease_non-disease": 0.3789136708096537,
        "non-abnormality_abnormality": 0.16546764653692908,
        "non-abnormality_anatomy": 0.018670610691852826,
        "non-abnormality_disease": 0.719397354576018,
        "non-abnormality_non-abnormality": 0.0009357166071730684,
        "non-abnormality_non-disease": 0.0927333564267591,
        "non-disease_abnormality": 0.7759420231214385,
        "non-disease_anatomy": 0.1839139293714062,
        "non-disease_disease": 0.10073046076318157,
        "non-disease_non-abnormality": 0.03860183811876373,
        "non-disease_non-disease": 0.34065681486566446,
        "neg_weight": 0.8716553966489615,
    },
    "short": {
        "abnormality_abnormality": 0.4070293318365468,
        "abnormality_anatomy": 0.6952639610605605,
        "abnormality_disease": 0.28342529466226446,
        "abnormality_non-abnormality": 0.9479148658006686,
        "abnormality_non-disease": 0.23875064111146294,
        "anatomy_abnormality": 0.5829759950441763,
        "anatomy_anatomy": 0.7709590751917746,
        "anatomy_disease": 0.0006059634829551632,
        "anatomy_non-abnormality": 0.794672584951181,
        "anatomy_non-disease": 0.27982942400798977,
        "disease_abnormality": 0.8840397619834857,
        "disease_anatomy": 0.9637659445696822,
        "disease_disease": 0.19018958438059513,
        "disease_non-abnormality": 0.6962283914800402,
        "disease_non-disease": 0.943727057946997,
        "non-abnormality_abnormality": 0.1712744286898638,
        "non-abnormality_anatomy": 0.4485149671497294,
        "non-abnormality_disease": 0.00045065329822896076,
        "non-abnormality_non-abnormality": 0.0007887930317199857,
        "non-abnormality_non-disease": 0.8555432840895761,
        "non-disease_abnormality": 0.9555801066212176,
        "non-disease_anatomy": 0.13122106162635216,
        "non-disease_disease": 0.6072996585919443,
        "non-disease_non-abnormality": 0.05650711141169969,
        "non-disease_non-disease": 0.3214769399791204,
        "neg_weight": 0.3611577852354489,
    },
}
