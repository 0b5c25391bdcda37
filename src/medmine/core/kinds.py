"""What kind of task, how an answer parsed, and how each sample's job ended."""

from __future__ import annotations

from enum import StrEnum


class TaskKind(StrEnum):
    """The six task kinds of the study."""

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    LOCALIZATION = "localization"
    DETECTION = "detection"
    DIAGNOSIS = "diagnosis"
    REPORT_GENERATION = "report_generation"
    VQA = "vqa"


class ParseStatus(StrEnum):
    """How a model's answer was read. Anything but ok/repaired is scored as a failure."""

    OK = "ok"
    REPAIRED = "repaired"
    REFUSED = "refused"
    UNPARSEABLE = "unparseable"
    TRUNCATED = "truncated"  # cut by the token limit: neither the model's answer nor parseable
    ERROR = "error"  # the provider failed after retries: there is no answer to parse


class Outcome(StrEnum):
    """How one sample of one job ended. Every sample ends in exactly one of these.

    Scores are computed over the samples the model was asked (the first six outcomes); the
    others are counted next to the score and never folded into it.
    """

    OK = "ok"
    REPAIRED = "repaired"
    REFUSED = "refused"
    UNPARSEABLE = "unparseable"
    TRUNCATED = "truncated"
    PROVIDER_ERROR = "provider_error"
    NOT_SENT_BUDGET = "not_sent_budget"
    NOT_SENT_KEY = "not_sent_key"  # a credential, endpoint or data-use permission is missing
    NOT_SENT_STOP = "not_sent_stop"  # the user stopped the run
    PENDING = "pending"  # a batch job has not returned it yet
    UNREADABLE = "unreadable"  # the sample's input could not be read
    MEDMINE_ERROR = "medmine_error"  # a bug in medmine, never the model's fault

    @property
    def asked(self) -> bool:
        """True when the model was asked and answered (or failed to): the scored outcomes."""
        return self in _ASKED


_ASKED = frozenset(
    {
        Outcome.OK,
        Outcome.REPAIRED,
        Outcome.REFUSED,
        Outcome.UNPARSEABLE,
        Outcome.TRUNCATED,
        Outcome.PROVIDER_ERROR,
    }
)
