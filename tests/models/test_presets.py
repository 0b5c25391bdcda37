"""Preset validation, the shipped presets, user overrides, lookup and credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from medmine.models.presets import Preset, credentials_present, load_presets, resolve_preset

STUDY_MODELS = [
    "Gemini-1.0-Pro-Vision",
    "Gemini-1.5-Pro",
    "Gemini-1.5-Flash",
    "GPT-4o",
    "GPT-4-Turbo",
    "GPT-3.5-Turbo",
    "Claude-3-Opus",
    "Yi-Large",
    "Yi-Large-Turbo",
    "Llama-3",
]


def test_builtins_cover_the_study_and_current_models() -> None:
    presets = load_presets()
    for label in STUDY_MODELS:
        assert resolve_preset(label, presets)
    for name in [
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-5",
        "gpt-5-mini",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "claude-opus-4",
        "claude-sonnet-4",
        "medgemma-4b",
        "qwen2.5-vl-7b",
        "llava-med",
    ]:
        assert name in presets
    assert presets["gpt-3.5-turbo"].modality == "text"
    assert presets["yi-large-turbo"].modality == "text"
    assert presets["gemini-2.5-pro"].coord_convention == "norm1000_yxyx"
    assert presets["qwen2.5-vl-7b"].coord_convention == "pixel_xyxy"
    assert presets["claude-sonnet-4"].model_id == "claude-sonnet-4-20250514"


def test_every_price_has_a_date_and_a_source_note() -> None:
    for preset in load_presets().values():
        priced = preset.price_input_per_mtok is not None
        assert priced == (preset.price_output_per_mtok is not None), preset.name
        if priced:
            assert preset.price_date is not None and preset.notes, preset.name


def test_base_url_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    preset = load_presets()["llama-3"]
    monkeypatch.delenv("MEDMINE_LLAMA3_BASE_URL", raising=False)
    assert preset.resolved_base_url() == "http://127.0.0.1:11434/v1"
    monkeypatch.setenv("MEDMINE_LLAMA3_BASE_URL", "http://127.0.0.1:9999/v1")
    assert preset.resolved_base_url() == "http://127.0.0.1:9999/v1"


def test_user_file_overrides_and_adds(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text(
        "presets:\n"
        "  - name: gpt-4o\n    concurrency: 2\n"
        "  - name: my-vllm\n    provider: openai_compatible\n    model_id: org/model\n"
        "    base_url: http://127.0.0.1:8000/v1\n    aliases: [mine]\n"
    )
    presets = load_presets([user])
    assert presets["gpt-4o"].concurrency == 2
    assert presets["gpt-4o"].price_input_per_mtok == 2.5  # untouched fields kept
    assert resolve_preset("MINE", presets).model_id == "org/model"


def test_validation_errors_name_file_preset_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("my-model:\n  provider: openai\n  model_id: x\n  concurrency: zero\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: preset 'my-model': concurrency"):
        load_presets([bad])
    typo = tmp_path / "typo.yaml"
    typo.write_text("m:\n  provider: openai\n  model_id: x\n  api_kye_env: K\n")
    with pytest.raises(ValueError, match="api_kye_env"):
        load_presets([typo])
    key = tmp_path / "key.yaml"
    key.write_text("m:\n  provider: openai\n  model_id: x\n  api_key_env: sk-abc123-real-key\n")
    with pytest.raises(ValueError, match="NAME of an environment variable"):
        load_presets([key])
    date = tmp_path / "date.yaml"
    date.write_text("m:\n  provider: openai\n  model_id: x\n  price_date: 29/11/2026\n")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        load_presets([date])
    clash = tmp_path / "clash.yaml"
    clash.write_text("m:\n  provider: openai\n  model_id: x\n  aliases: [GPT-4o]\n")
    with pytest.raises(ValueError, match="names both"):
        load_presets([clash])
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_presets([tmp_path / "nope.yaml"])


def test_resolve_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match="did you mean 'gpt-4o'"):
        resolve_preset("gpt4o", load_presets())


def test_credentials_present(monkeypatch: pytest.MonkeyPatch) -> None:
    preset = Preset(name="p", provider="openai", model_id="x", api_key_env="MEDMINE_T_KEY")
    monkeypatch.delenv("MEDMINE_T_KEY", raising=False)
    assert not credentials_present(preset)
    monkeypatch.setenv("MEDMINE_T_KEY", "secret-value")
    assert credentials_present(preset)
    assert "secret-value" not in repr(preset) + str(preset.model_dump())
    assert credentials_present(Preset(name="q", provider="openai_compatible", model_id="y"))


def test_reasoning_presets_reserve_room_for_the_answer() -> None:
    presets = load_presets()
    for name in ("gpt-5", "gpt-5-mini", "gemini-2.5-pro", "gemini-2.5-flash"):
        preset = presets[name]
        assert preset.reasoning != "none"
        assert preset.output_budget(256) >= 256 + preset.reasoning_tokens
    assert presets["gpt-4o"].output_budget(256) == 256
    assert presets["gpt-5"].accepted_sampling() == []
    assert presets["claude-sonnet-4"].accepted_sampling() == []


def test_reasoning_kind_needs_its_setting(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "o3-proxy:\n  provider: openai_compatible\n  model_id: o3\n  reasoning: effort\n"
    )
    with pytest.raises(ValueError, match="reasoning_effort"):
        load_presets([path])


def test_mine_uses_user_presets_from_env_and_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medmine.mine.command import resolve_mining_model

    env_file = tmp_path / "env.yaml"
    env_file.write_text("my-server:\n  provider: openai_compatible\n  model_id: m\n")
    opt_file = tmp_path / "opt.yaml"
    opt_file.write_text("my-other:\n  provider: openai_compatible\n  model_id: n\n")
    monkeypatch.setenv("MEDMINE_PRESETS", str(env_file))
    assert resolve_mining_model("my-server").name == "my-server"
    assert resolve_mining_model("my-other", [opt_file]).name == "my-other"
