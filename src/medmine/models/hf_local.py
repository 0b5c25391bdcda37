"""Local Hugging Face vision-language models behind the Model protocol (extra ``medmine[local]``).

A preset with ``provider: hf_local`` names a model by a LOCAL directory (what ``save_pretrained``
or ``hf download ID --local-dir DIR`` writes) or by a hub id that is already in the local Hugging
Face cache. Nothing is ever downloaded: every load passes ``local_files_only=True`` and
``HF_HUB_OFFLINE=1`` is set (unless the user set it) before transformers is imported. torch and
transformers are imported only when the model is first loaded, so the core install stays light.

Options read from the preset's ``extra_body`` (anything else is rejected):

- ``torch_dtype`` (alias ``dtype``): ``float32`` | ``float16`` | ``bfloat16`` | ``auto``;
  default float32 on CPU and ``auto`` (the checkpoint's dtype) on CUDA.
- ``device``: ``cpu``, ``cuda``, ``cuda:1``...; default cuda when available, else cpu.
- ``revision``: the hub revision to look up in the cache (a hub id only).
- ``trust_remote_code``: run modelling code shipped in the model folder (default False).
- ``generate_kwargs``: extra keyword arguments for ``model.generate`` (e.g. repetition_penalty).

``Response.error_kind`` values: ``missing_extra``, ``not_found``, ``load``, ``bad_image``,
``unsupported``, ``bad_request``, ``oom``, ``generation``.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medmine.core import ImagePart, Request, Response, TextPart, Usage
from medmine.models.hf_local_extra import (
    MissingExtraError,
    import_backend,
    package_version,
    require_local_extra,
)
from medmine.models.hf_local_options import LocalOptions
from medmine.models.hf_local_weights import (
    LocalWeightsNotFoundError,
    config_fingerprint,
    resolve_local_model,
)

if TYPE_CHECKING:
    from medmine.models.presets import Preset

__all__ = ["HFLocalModel", "LocalOptions", "LocalWeightsNotFoundError", "MissingExtraError"]

PROVIDER = "hf_local"
_MODEL_CLASSES = ("AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM")


class _GenerationFailure(Exception):
    """An expected failure of one request, carrying the error kind it is reported under."""

    def __init__(self, kind: str, message: str) -> None:
        """Store the error kind next to the message."""
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------- the extra


# --------------------------------------------------------------------------- finding weights


# --------------------------------------------------------------------------- the model


@dataclass(slots=True)
class _Loaded:
    """A loaded model with its processor (or tokenizer) and where it runs."""

    model: Any
    processor: Any
    torch: Any
    device: str
    dtype: str
    multimodal: bool
    load_s: float
    clock_cls: type


class HFLocalModel:
    """A local transformers vision-language (or text-only) model implementing the Model protocol.

    The constructor validates the preset, checks that the extra is installed and that the
    weights are on this machine (failing fast otherwise); the model itself is loaded on the
    first :meth:`generate` (or an explicit :meth:`load`). Requests run one at a time in a
    worker thread, so the event loop stays free.
    """

    def __init__(self, preset: Preset) -> None:
        """Validate the preset and locate the weights; raises on a bad or absent model."""
        if preset.provider != PROVIDER:
            raise ValueError(
                f"preset {preset.name!r} has provider {preset.provider!r}; "
                f"HFLocalModel serves only {PROVIDER!r}"
            )
        self.preset = preset
        self.name: str = preset.name
        self.max_concurrency: int = 1
        self.options = LocalOptions.from_extra_body(preset.extra_body, preset.name)
        require_local_extra()
        self.path, commit = resolve_local_model(preset.model_id, self.options.revision)
        self.revision: str = commit or self.options.revision or config_fingerprint(self.path)
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @property
    def cache_id(self) -> str:
        """The model's identity in cache keys: model id and revision (or folder fingerprint)."""
        return f"{PROVIDER}:{self.preset.model_id}@{self.revision}"

    def describe(self) -> dict[str, Any]:
        """Settings recorded in the run manifest."""
        loaded = self._loaded
        return {
            "provider": PROVIDER,
            "name": self.name,
            "model_id": self.preset.model_id,
            "path": str(self.path),
            "revision": self.revision,
            "cache_id": self.cache_id,
            "device": loaded.device if loaded else self.options.device or "auto",
            "dtype": loaded.dtype if loaded else self.options.dtype or "default",
            "load_s": loaded.load_s if loaded else None,
            "trust_remote_code": self.options.trust_remote_code,
            "generate_kwargs": dict(self.options.generate_kwargs),
            "max_output_tokens": self.preset.max_output_tokens,
            "max_image_edge": self.preset.max_image_edge,
            "timeout_s": self.preset.timeout_s,
            "torch": package_version("torch"),
            "transformers": package_version("transformers"),
        }

    # ----------------------------------------------------------------- loading

    def load(self) -> None:
        """Load the model now (otherwise the first generate does); safe to call twice."""
        with self._lock:
            self._ensure_loaded()

    def _ensure_loaded(self) -> _Loaded:
        """Load processor and model once; the caller holds the lock."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def _load(self) -> _Loaded:
        """Import the backend and load processor and model from the local folder only."""
        torch, transformers = import_backend()
        t0 = time.perf_counter()
        opts = self.options
        device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype_name = opts.dtype or ("float32" if device == "cpu" else "auto")
        dtype: Any = "auto" if dtype_name == "auto" else getattr(torch, dtype_name)
        common = {"local_files_only": True, "trust_remote_code": opts.trust_remote_code}
        try:
            processor = transformers.AutoProcessor.from_pretrained(self.path, **common)
        except Exception as exc:
            raise _GenerationFailure(
                "load", f"cannot load the processor/tokenizer from {self.path}: {exc}"
            ) from exc
        model = self._load_model(transformers, dtype, common)
        model.to(device)
        model.eval()
        return _Loaded(
            model=model,
            processor=processor,
            torch=torch,
            device=device,
            dtype=str(model.dtype).removeprefix("torch."),
            multimodal=getattr(processor, "image_processor", None) is not None,
            load_s=time.perf_counter() - t0,
            clock_cls=_first_token_clock_class(transformers),
        )

    def _load_model(self, transformers: Any, dtype: Any, common: dict[str, Any]) -> Any:
        """Try the image-text-to-text auto class, then the older/text-only ones."""
        major = int(transformers.__version__.split(".")[0])
        dtype_kw = {"dtype": dtype} if major >= 5 else {"torch_dtype": dtype}
        errors: list[str] = []
        for cls_name in _MODEL_CLASSES:
            cls = getattr(transformers, cls_name, None)
            if cls is None:
                continue
            try:
                return cls.from_pretrained(self.path, **dtype_kw, **common)
            except ValueError as exc:  # the auto class does not know this architecture
                errors.append(f"{cls_name}: {str(exc).splitlines()[0]}")
            except Exception as exc:
                raise _GenerationFailure(
                    "load", f"cannot load the model from {self.path} with {cls_name}: {exc}"
                ) from exc
        raise _GenerationFailure(
            "load", f"no transformers auto class can load {self.path}: " + "; ".join(errors)
        )

    # ----------------------------------------------------------------- generation

    async def generate(self, request: Request) -> Response:
        """Answer one request in a worker thread; failures come back as an error Response."""
        return await asyncio.to_thread(self._generate_sync, request)

    def _generate_sync(self, request: Request) -> Response:
        """Load if needed, then run one generation; every failure becomes an error Response."""
        try:
            with self._lock:
                loaded = self._ensure_loaded()
                return self._run(loaded, request)
        except _GenerationFailure as exc:
            return self._error(exc.kind, str(exc))
        except MissingExtraError as exc:
            return self._error("missing_extra", str(exc))
        except MemoryError as exc:
            return self._error("oom", f"out of memory: {exc}")
        except Exception as exc:
            kind = "oom" if "out of memory" in str(exc).lower() else "generation"
            return self._error(kind, f"{type(exc).__name__}: {exc}")

    def _error(self, kind: str, message: str) -> Response:
        """An error Response for this model."""
        return Response(text="", model=self.preset.model_id, error=message, error_kind=kind)

    def _max_new_tokens(self, request: Request) -> int:
        """The token budget: the request's max_tokens, capped by the preset's maximum."""
        budget = request.settings.max_tokens
        if budget < 1:
            raise _GenerationFailure("bad_request", f"max_tokens must be >= 1, got {budget}")
        cap = self.preset.max_output_tokens
        return min(budget, cap) if cap else budget

    def _run(self, loaded: _Loaded, request: Request) -> Response:
        """Template, tokenize, generate and decode one request, timing it."""
        torch = loaded.torch
        settings = request.settings
        max_new = self._max_new_tokens(request)
        t0 = time.perf_counter()
        inputs = self._encode(loaded, request)
        prompt_len = int(inputs["input_ids"].shape[-1])
        clock = loaded.clock_cls()
        kwargs: dict[str, Any] = {
            **self.options.generate_kwargs,
            "max_new_tokens": max_new,
            "num_beams": 1,
            "streamer": clock,
        }
        if self.preset.timeout_s:
            kwargs["max_time"] = float(self.preset.timeout_s)
        gen_config = loaded.model.generation_config
        if gen_config.pad_token_id is None and gen_config.eos_token_id is not None:
            eos = gen_config.eos_token_id
            kwargs["pad_token_id"] = eos[0] if isinstance(eos, list) else eos
        if settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=settings.temperature)
            if settings.top_p is not None:
                kwargs["top_p"] = settings.top_p
            if settings.seed is not None:
                torch.manual_seed(settings.seed + request.repeat)
        else:
            kwargs["do_sample"] = False
        with torch.inference_mode():
            output = loaded.model.generate(**inputs, **kwargs)
        latency = time.perf_counter() - t0
        sequence = output[0] if not hasattr(output, "sequences") else output.sequences[0]
        if getattr(loaded.model.config, "is_encoder_decoder", False):
            new_tokens = sequence[1:]  # drop the decoder start token
        else:
            new_tokens = sequence[prompt_len:]
        n_out = int(new_tokens.shape[-1])
        text = loaded.processor.decode(new_tokens, skip_special_tokens=True)
        extra: dict[str, Any] = {"device": loaded.device, "dtype": loaded.dtype}
        if request.json_schema is not None and settings.structured:
            extra["structured"] = "not enforced: local generation is unconstrained"
        return Response(
            text=text,
            model=self.preset.model_id,
            usage=Usage(input_tokens=prompt_len, output_tokens=n_out, estimated=False),
            latency_s=latency,
            ttft_s=None if clock.first is None else clock.first - t0,
            cost_usd=0.0,
            finish_reason=_finish_reason(
                new_tokens.tolist(),
                gen_config,
                max_new,
                timed_out="max_time" in kwargs and latency >= kwargs["max_time"],
            ),
            extra=extra,
        )

    def _encode(self, loaded: _Loaded, request: Request) -> dict[str, Any]:
        """The model inputs for a request: chat template applied, images as PIL, on device."""
        n_images = len(request.images())
        if n_images and not loaded.multimodal:
            raise _GenerationFailure(
                "unsupported",
                f"model {self.preset.model_id!r} is text-only (its processor has no image "
                f"processor) but the request has {n_images} image(s)",
            )
        messages = [
            {
                "role": m.role,
                "content": (
                    [self._content_part(p) for p in m.parts] if loaded.multimodal else m.text
                ),
            }
            for m in request.messages
        ]
        try:
            batch = loaded.processor.apply_chat_template(
                messages,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
            )
        except ValueError as exc:
            raise _GenerationFailure(
                "bad_request", f"cannot apply the chat template of {self.path}: {exc}"
            ) from exc
        torch = loaded.torch
        model_dtype = loaded.model.dtype
        moved: dict[str, Any] = {}
        for key, value in batch.items():
            if torch.is_tensor(value):
                value = value.to(loaded.device)
                if value.is_floating_point():
                    value = value.to(model_dtype)
            moved[key] = value
        return moved

    def _content_part(self, part: TextPart | ImagePart) -> dict[str, Any]:
        """One message part in the processor's chat format (images decoded to PIL)."""
        if isinstance(part, TextPart):
            return {"type": "text", "text": part.text}
        return {"type": "image", "image": self._pil_image(part)}

    def _pil_image(self, part: ImagePart) -> Any:
        """Load an image part as an RGB PIL image, resized to the preset's max edge."""
        from PIL import Image

        from medmine.models.images import encode_image

        ref = part.image
        try:
            encoded = encode_image(ref, max_edge=self.preset.max_image_edge, fmt="PNG")
            with Image.open(io.BytesIO(encoded.data)) as im:
                return im.convert("RGB")
        except (OSError, ValueError) as exc:
            raise _GenerationFailure("bad_image", f"{ref.path}: cannot load image ({exc})") from exc


def _finish_reason(tokens: list[int], gen_config: Any, max_new: int, timed_out: bool) -> str:
    """'stop' at an end token, 'length' at the token budget, 'time' when max_time cut it short."""
    eos = gen_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if tokens and tokens[-1] in eos_ids:
        return "stop"
    if len(tokens) >= max_new:
        return "length"
    return "time" if timed_out else "stop"


def _first_token_clock_class(transformers: Any) -> type:
    """A generate() streamer class that timestamps the first generated token.

    generate() first puts the prompt ids, then each new token; the second put is the first token.
    """
    base = transformers.generation.streamers.BaseStreamer

    class FirstTokenClock(base):  # type: ignore[misc, valid-type]
        """Records perf_counter() at the first generated token."""

        def __init__(self) -> None:
            """Start with no puts seen."""
            self.puts = 0
            self.first: float | None = None

        def put(self, value: Any) -> None:
            """Count a put; the second one is the first generated token."""
            self.puts += 1
            if self.puts == 2:
                self.first = time.perf_counter()

        def end(self) -> None:
            """Nothing to flush."""

    return FirstTokenClock
