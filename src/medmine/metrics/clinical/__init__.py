"""Pure scoring functions of the model-based clinical report metrics (numpy, no I/O).

The models that produce their inputs (CheXbert labels, BERT embeddings, RadGraph graphs) live
in :mod:`medmine.clinical`; these functions only compare what the models produced.
"""
