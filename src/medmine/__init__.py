"""medmine: evaluate multimodal large language models on medical images and reports."""

__version__ = "0.1.0"
