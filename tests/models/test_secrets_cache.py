"""The cached scan of secret values follows every change to the environment."""

from __future__ import annotations

import pytest

from medmine.models.secrets import redact, register_key_env


def test_a_changed_added_or_removed_secret_is_seen_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDMINE_TEST_TOKEN", "first-secret-value")
    assert redact("a first-secret-value b") == "a *** b"
    monkeypatch.setenv("MEDMINE_TEST_TOKEN", "second-secret-value")
    assert redact("first-secret-value second-secret-value") == "first-secret-value ***"
    monkeypatch.delenv("MEDMINE_TEST_TOKEN")
    assert redact("second-secret-value") == "second-secret-value"


def test_a_newly_registered_key_variable_is_seen_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_PLAIN_NAME", "plain-named-value")
    assert redact("plain-named-value") == "plain-named-value"
    register_key_env(["MEDMINE_TEST_PLAIN_NAME"])
    assert redact("plain-named-value") == "***"
