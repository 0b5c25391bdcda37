"""Review mined or evaluated labels: a local web page where a clinician checks and corrects them.

``medmine review RUN_DIR`` serves one item at a time (image or report text, the model's answer,
other answers that disagree) on 127.0.0.1 behind a per-launch token; every decision is written to
the run's database at once (:mod:`medmine.review.store`), the review follows a stratified plan
(:mod:`medmine.review.plan`) and the page shows each label's precision with a Wilson interval
(:mod:`medmine.review.precision`). ``--export`` writes the reviewed labels
(:mod:`medmine.review.export`).
"""
