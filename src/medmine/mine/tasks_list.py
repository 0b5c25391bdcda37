"""The questions ``medmine mine`` can ask (kept import-free: the CLI help reads it)."""

# Command-line task names -> registered task names.
MINING_TASKS: dict[str, str] = {
    "classification": "classification",
    "segmentation": "segmentation",
    "localization": "localization",
    "detection": "detection",
    "diagnosis": "diagnosis",
    "report": "report_generation",
}
