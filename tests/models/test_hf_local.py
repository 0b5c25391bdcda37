"""Tests of the local Hugging Face backend.

The generation tests build TINY random-weight models entirely offline (a LLaVA with a 2-layer
CLIP vision tower and a 2-layer Llama, hidden size 32, and a text-only Llama), save them with
save_pretrained and run real generations through HFLocalModel, comparing text and token counts
with transformers called directly on the same inputs. They skip when torch/transformers are
absent; the fail-fast tests need neither.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from medmine.core import (
    GenerationSettings,
    ImagePart,
    ImageRef,
    Intent,
    Message,
    Request,
    TextPart,
)
from medmine.models.hf_local import (
    HFLocalModel,
    LocalWeightsNotFoundError,
    MissingExtraError,
)
from medmine.models.presets import Preset

HAVE_BACKEND = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))
needs_backend = pytest.mark.skipif(
    not HAVE_BACKEND,
    reason="torch/transformers not installed (pip install 'medmine[local]'; CPU: torch==2.13.0)",
)
REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared/realdata"
    )
)
TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}:"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>{% else %}{{ p['text'] }}"
    "{% endif %}{% endfor %}{% endif %}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}"
)


# --------------------------------------------------------------------------- tiny models


def _byte_tokenizer(specials: list[str]) -> Any:
    """A byte-level tokenizer with no merges: every byte is one token, plus special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(specials + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=specials[3:],
    )
    fast.chat_template = TEMPLATE
    return fast


def _llama_config(vocab_size: int) -> Any:
    """A 2-layer Llama with hidden size 32."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LLaVA (CLIP 28x28 image -> 4 image tokens) saved to a folder."""
    if not HAVE_BACKEND:
        pytest.skip("torch/transformers not installed")
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    out = tmp_path_factory.mktemp("tiny_llava")
    tokenizer = _byte_tokenizer(["<s>", "</s>", "<pad>", "<image>"])
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}
        ),
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        image_token="<image>",
        chat_template=TEMPLATE,
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_llama_config(len(tokenizer)),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random text-only Llama with a byte tokenizer saved to a folder."""
    if not HAVE_BACKEND:
        pytest.skip("torch/transformers not installed")
    import torch
    from transformers import LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny_llama")
    tokenizer = _byte_tokenizer(["<s>", "</s>", "<pad>"])
    torch.manual_seed(1)
    LlamaForCausalLM(_llama_config(len(tokenizer))).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with HF_HUB_OFFLINE=1 restored afterwards (the backend sets it if unset)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _preset(model_id: str | Path, **kw: Any) -> Preset:
    """An hf_local preset for a folder."""
    return Preset(name="tiny", provider="hf_local", model_id=str(model_id), **kw)


def _request(*parts: TextPart | ImagePart, system: str | None = None, **settings: Any) -> Request:
    """A request with an optional system message and one user message."""
    messages = []
    if system is not None:
        messages.append(Message("system", (TextPart(system),)))
    messages.append(Message("user", parts))
    return Request(
        messages=tuple(messages),
        intent=Intent(task="classification", sample_id="s1"),
        settings=GenerationSettings(**{"max_tokens": 6, **settings}),
    )


def _png(path: Path, size: tuple[int, int] = (40, 30)) -> ImageRef:
    """Write a small gradient PNG and return its reference."""
    img = Image.new("RGB", size)
    img.putdata(
        [(x * 6 % 256, y * 8 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    img.save(path)
    return ImageRef(path)


def _reference(folder: Path, messages: list[dict[str, Any]], max_new: int) -> tuple[str, int, int]:
    """(text, prompt tokens, new tokens) from transformers called directly, greedy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    try:
        model = AutoModelForImageTextToText.from_pretrained(folder, local_files_only=True)
    except ValueError:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    batch = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    with torch.inference_mode():
        out = model.eval().generate(
            **batch, max_new_tokens=max_new, do_sample=False, pad_token_id=1
        )
    n_prompt = batch["input_ids"].shape[1]
    new = out[0, n_prompt:]
    return processor.decode(new, skip_special_tokens=True), n_prompt, int(new.shape[0])


# --------------------------------------------------------------------------- generation


@needs_backend
async def test_vision_generate_matches_transformers(
    tiny_vlm: Path, tmp_path: Path, offline: None
) -> None:
    """A real image+text generation: same text and exact token counts as transformers itself."""
    ref = _png(tmp_path / "x.png")
    model = HFLocalModel(_preset(tiny_vlm))
    response = await model.generate(_request(ImagePart(ref), TextPart("Which class?")))
    assert response.ok, response.error
    with Image.open(ref.path) as im:
        pil = im.convert("RGB")
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": pil}, {"type": "text", "text": "Which class?"}],
        }
    ]
    text, n_prompt, n_new = _reference(tiny_vlm, messages, 6)
    # "<s>user:" + 4 image tokens + 12 text bytes + "</s>" + "<s>assistant:" = 6+4+12+1+11
    assert n_prompt == 34
    assert response.text == text
    assert response.usage.input_tokens == n_prompt
    assert response.usage.output_tokens == n_new
    assert response.usage.estimated is False
    assert response.cost_usd == 0.0
    assert response.latency_s is not None and response.latency_s > 0
    assert response.ttft_s is not None and 0 < response.ttft_s <= response.latency_s
    assert response.finish_reason == ("length" if n_new == 6 else "stop")
    assert response.extra["device"] == "cpu" and response.extra["dtype"] == "float32"
    assert model.describe()["device"] == "cpu"


@needs_backend
async def test_text_only_model_matches_transformers(tiny_lm: Path, offline: None) -> None:
    """A text-only model loads through the causal-LM fallback; system + user are templated."""
    model = HFLocalModel(_preset(tiny_lm, modality="text"))
    response = await model.generate(
        _request(TextPart("Report: no effusion."), system="Be brief.", max_tokens=9)
    )
    assert response.ok, response.error
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Report: no effusion."},
    ]
    text, n_prompt, n_new = _reference(tiny_lm, messages, 9)
    assert (response.text, response.usage.input_tokens, response.usage.output_tokens) == (
        text,
        n_prompt,
        n_new,
    )
    # 5 special tokens (<s> x3, </s> x2), every other byte one token
    assert n_prompt == 5 + len("system:Be brief.") + len("user:Report: no effusion.") + len(
        "assistant:"
    )


@needs_backend
async def test_max_output_tokens_caps_the_budget(tiny_lm: Path, offline: None) -> None:
    """The preset's max_output_tokens caps the request's max_tokens."""
    model = HFLocalModel(_preset(tiny_lm, max_output_tokens=2))
    response = await model.generate(_request(TextPart("hello"), max_tokens=50))
    assert response.ok, response.error
    assert response.usage.output_tokens is not None and response.usage.output_tokens <= 2


@needs_backend
async def test_sampling_is_seeded_per_repeat(tiny_lm: Path, offline: None) -> None:
    """temperature > 0 samples; the same seed and repeat reproduce, another repeat differs."""
    model = HFLocalModel(_preset(tiny_lm))

    def sampled(repeat: int) -> Request:
        base = _request(TextPart("hello"), temperature=1.0, seed=7, max_tokens=12)
        return Request(base.messages, base.intent, base.settings, repeat=repeat)

    first = await model.generate(sampled(0))
    again = await model.generate(sampled(0))
    other = await model.generate(sampled(1))
    greedy = await model.generate(_request(TextPart("hello"), max_tokens=12))
    assert first.ok and again.ok and other.ok and greedy.ok
    assert first.text == again.text
    assert (first.text, first.usage.output_tokens) != (other.text, other.usage.output_tokens)
    assert first.text != greedy.text


@needs_backend
async def test_ttft_is_taken_at_the_first_generated_token(tiny_lm: Path, offline: None) -> None:
    """TTFT covers the first forward pass (slowed by 0.2 s here), not just the prompt put."""
    import time

    model = HFLocalModel(_preset(tiny_lm))
    model.load()
    assert model._loaded is not None
    net = model._loaded.model
    forward = net.forward
    calls: list[int] = []

    def slow_first_forward(*args: Any, **kwargs: Any) -> Any:
        """The first forward pass (the prompt) takes at least 0.2 s more."""
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.2)
        return forward(*args, **kwargs)

    net.forward = slow_first_forward
    response = await model.generate(_request(TextPart("hi"), max_tokens=3))
    assert response.ok, response.error
    assert response.ttft_s is not None and response.latency_s is not None
    assert 0.2 <= response.ttft_s <= response.latency_s


@needs_backend
async def test_bfloat16_option(tiny_lm: Path, offline: None) -> None:
    """extra_body torch_dtype selects the weights' dtype."""
    model = HFLocalModel(_preset(tiny_lm, extra_body={"torch_dtype": "bfloat16"}))
    response = await model.generate(_request(TextPart("hi")))
    assert response.ok, response.error
    assert response.extra["dtype"] == "bfloat16"


@needs_backend
async def test_real_endoscopy_image(tiny_vlm: Path, offline: None) -> None:
    """A real Kvasir-SEG JPEG goes through encode_image and the CLIP processor."""
    folder = REALDATA / "kvasir_seg" / "Kvasir-SEG" / "images"
    images = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if not images:
        pytest.skip(f"real data not found under {folder}")
    model = HFLocalModel(_preset(tiny_vlm, max_image_edge=64))
    response = await model.generate(_request(ImagePart(ImageRef(images[0])), TextPart("Polyp?")))
    assert response.ok, response.error
    assert response.usage.input_tokens == 6 + 4 + len("Polyp?") + 1 + 11


@needs_backend
async def test_generation_runs_off_the_event_loop(tiny_lm: Path, offline: None) -> None:
    """generate() runs in a worker thread: a coroutine on the loop can run meanwhile."""
    model = HFLocalModel(_preset(tiny_lm))
    model.load()
    released = threading.Event()
    original = model._run

    def blocking_run(loaded: Any, request: Request) -> Any:
        """Wait for the event loop to signal before generating (fails if the loop is blocked)."""
        if not released.wait(timeout=10):
            raise AssertionError("event loop was blocked during generate()")
        return original(loaded, request)

    model._run = blocking_run  # type: ignore[method-assign]

    async def release() -> None:
        """Runs on the loop while the worker thread waits."""
        await asyncio.sleep(0.01)
        released.set()

    response, _ = await asyncio.gather(model.generate(_request(TextPart("hi"))), release())
    assert response.ok, response.error


# --------------------------------------------------------------------------- errors as responses


@needs_backend
async def test_text_only_model_rejects_images(tiny_lm: Path, tmp_path: Path, offline: None) -> None:
    """An image sent to a text-only model is an error Response, not an exception."""
    model = HFLocalModel(_preset(tiny_lm))
    response = await model.generate(_request(ImagePart(_png(tmp_path / "a.png")), TextPart("?")))
    assert response.error_kind == "unsupported"
    assert "text-only" in (response.error or "")


@needs_backend
async def test_bad_image_is_an_error_response(
    tiny_vlm: Path, tmp_path: Path, offline: None
) -> None:
    """An unreadable image comes back as error_kind bad_image naming the file."""
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    model = HFLocalModel(_preset(tiny_vlm))
    response = await model.generate(_request(ImagePart(ImageRef(bad)), TextPart("?")))
    assert response.error_kind == "bad_image"
    assert "broken.png" in (response.error or "")


@needs_backend
async def test_out_of_memory_is_an_error_response(tiny_lm: Path, offline: None) -> None:
    """A CUDA-style out-of-memory error during generate is reported as error_kind oom."""
    model = HFLocalModel(_preset(tiny_lm))
    model.load()
    assert model._loaded is not None

    def oom(*args: Any, **kwargs: Any) -> None:
        """Stand-in for generate() on an exhausted GPU."""
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    model._loaded.model.generate = oom
    response = await model.generate(_request(TextPart("hi")))
    assert response.error_kind == "oom" and not response.ok


@needs_backend
async def test_bad_max_tokens_is_an_error_response(tiny_lm: Path, offline: None) -> None:
    """max_tokens < 1 is reported, not silently replaced."""
    model = HFLocalModel(_preset(tiny_lm))
    response = await model.generate(_request(TextPart("hi"), max_tokens=0))
    assert response.error_kind == "bad_request" and "max_tokens" in (response.error or "")


@needs_backend
async def test_folder_without_weights_fails_at_load(tmp_path: Path, offline: None) -> None:
    """A folder with a config but no usable model is a load error Response."""
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    model = HFLocalModel(_preset(tmp_path))
    response = await model.generate(_request(TextPart("hi")))
    assert response.error_kind == "load"
    assert str(tmp_path) in (response.error or "")


# --------------------------------------------------------------------------- fail fast (no torch)


@pytest.fixture()
def fake_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend torch and transformers are installed (constructor checks only find_spec)."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        """Report torch/transformers as present."""
        if name in ("torch", "transformers"):
            return object()
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def _saved_config(folder: Path, content: str = '{"model_type": "llama"}') -> Path:
    """A folder that looks like a saved model (config.json and a weights file)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(content)
    (folder / "model.safetensors").write_bytes(b"\0" * 10)
    return folder


def test_missing_directory_fails_fast(tmp_path: Path, fake_extra: None) -> None:
    """A model directory that is not there: one message naming it and how to get weights."""
    missing = tmp_path / "models" / "llava-med"
    with pytest.raises(LocalWeightsNotFoundError) as info:
        HFLocalModel(_preset(missing))
    message = str(info.value)
    assert str(missing) in message
    assert f"--local-dir {missing}" in message and "hf download" in message


def test_directory_without_config_fails_fast(tmp_path: Path, fake_extra: None) -> None:
    """A folder that is not a saved model is named as such."""
    with pytest.raises(LocalWeightsNotFoundError, match=r"no config\.json"):
        HFLocalModel(_preset(tmp_path))


@pytest.mark.skipif(
    importlib.util.find_spec("huggingface_hub") is None, reason="huggingface_hub not installed"
)
def test_hub_id_not_in_local_cache_fails_fast(fake_extra: None, offline: None) -> None:
    """A hub id is looked up in the local cache only; absent, the message says how to fetch."""
    with pytest.raises(LocalWeightsNotFoundError) as info:
        HFLocalModel(_preset("medmine-tests/absent-model"))
    message = str(info.value)
    assert "'medmine-tests/absent-model'" in message
    assert "hf download medmine-tests/absent-model --local-dir DIR" in message


def test_absent_extra_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torch/transformers the constructor names the extra to install."""
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(MissingExtraError) as info:
        HFLocalModel(_preset(_saved_config(tmp_path / "m")))
    assert "pip install 'medmine[local]'" in str(info.value)
    assert "torch==2.13.0" in str(info.value)


async def test_absent_extra_at_load_is_an_error_response(
    tmp_path: Path, fake_extra: None, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the import itself fails at load time, generate() returns missing_extra, not raises."""
    model = HFLocalModel(_preset(_saved_config(tmp_path / "m")))
    monkeypatch.setitem(sys.modules, "torch", None)
    response = await model.generate(_request(TextPart("hi")))
    assert response.error_kind == "missing_extra"
    assert "medmine[local]" in (response.error or "")


def test_preset_validation(tmp_path: Path, fake_extra: None) -> None:
    """Wrong provider and bad extra_body options are ValueErrors naming the problem."""
    folder = _saved_config(tmp_path / "m")
    with pytest.raises(ValueError, match="provider 'openai'"):
        HFLocalModel(Preset(name="x", provider="openai", model_id=str(folder)))
    with pytest.raises(ValueError, match="unknown hf_local extra_body key"):
        HFLocalModel(_preset(folder, extra_body={"temprature": 0.5}))
    with pytest.raises(ValueError, match="torch_dtype 'float8'"):
        HFLocalModel(_preset(folder, extra_body={"torch_dtype": "float8"}))
    with pytest.raises(ValueError, match="may not set"):
        HFLocalModel(_preset(folder, extra_body={"generate_kwargs": {"max_new_tokens": 5}}))


def test_cache_id_and_describe(tmp_path: Path, fake_extra: None) -> None:
    """cache_id is hf_local:model_id@revision, else @a fingerprint that follows the folder."""
    folder = _saved_config(tmp_path / "m")
    model = HFLocalModel(_preset(folder))
    first = model.cache_id
    assert first.startswith(f"hf_local:{folder}@") and len(first.rsplit("@", 1)[1]) == 16
    assert HFLocalModel(_preset(folder)).cache_id == first
    (folder / "config.json").write_text('{"model_type": "llama", "hidden_size": 64}')
    assert HFLocalModel(_preset(folder)).cache_id != first
    pinned = HFLocalModel(_preset(folder, extra_body={"revision": "abc123"}))
    assert pinned.cache_id == f"hf_local:{folder}@abc123"
    assert model.max_concurrency == 1
    described = model.describe()
    assert described["provider"] == "hf_local" and described["path"] == str(folder)
    assert described["cache_id"] == first
