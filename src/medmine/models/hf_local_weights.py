"""Find a local Hugging Face model's weights without downloading: a directory or the local hub
cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from medmine.models.hf_local_extra import INSTALL_HINT, MissingExtraError


class LocalWeightsNotFoundError(FileNotFoundError):
    """The preset's model is not on this machine (no directory, or not in the local HF cache)."""


def _download_hint(model_id: str, directory: str) -> str:
    """How to put a model's files into a directory on a machine that has internet."""
    repo = model_id if not _looks_like_path(model_id) else "<hub-id>"
    return (
        f"on a machine with internet run `hf download {repo} --local-dir {directory}` "
        f"(older huggingface_hub: `huggingface-cli download {repo} --local-dir {directory}`), "
        "copy that folder here and set the preset's model_id to its path"
    )


def _looks_like_path(model_id: str) -> bool:
    """True when model_id is meant as a filesystem path rather than a hub id like org/name."""
    if model_id.startswith(("/", "./", "../", "~", ".\\")) or "\\" in model_id:
        return True
    return model_id.count("/") > 1 or Path(model_id).expanduser().exists()


def resolve_local_model(model_id: str, revision: str | None = None) -> tuple[Path, str | None]:
    """Find a model's local folder; returns (folder, cache commit or None). Never downloads.

    A path must be a directory holding ``config.json``. A hub id is looked up in the local
    Hugging Face cache only. Anything else raises LocalWeightsNotFoundError naming the model
    and how to put the weights on this machine.
    """
    if not model_id or not model_id.strip():
        raise ValueError("hf_local model_id is empty: give a local model directory or a hub id")
    if _looks_like_path(model_id):
        directory = Path(model_id).expanduser()
        if not directory.is_dir():
            raise LocalWeightsNotFoundError(
                f"hf_local model directory {str(directory)!r} does not exist on this machine; "
                + _download_hint(model_id, str(directory))
            )
        if not (directory / "config.json").is_file():
            raise LocalWeightsNotFoundError(
                f"hf_local model directory {str(directory)!r} has no config.json, so it is not a "
                "saved Hugging Face model; " + _download_hint(model_id, str(directory))
            )
        return directory, None
    return _resolve_from_cache(model_id, revision)


def _resolve_from_cache(repo_id: str, revision: str | None) -> tuple[Path, str | None]:
    """Look a hub id up in the local Hugging Face cache (offline) and return its snapshot."""
    if importlib.util.find_spec("huggingface_hub") is None:
        raise MissingExtraError(
            f"resolving the hub id {repo_id!r} needs huggingface_hub: {INSTALL_HINT}"
        )
    from huggingface_hub import snapshot_download

    try:
        folder = Path(
            str(snapshot_download(repo_id=repo_id, revision=revision, local_files_only=True))
        )
    except Exception as exc:  # LocalEntryNotFoundError, invalid ids, broken caches
        raise LocalWeightsNotFoundError(
            f"hf_local model {repo_id!r} is not a local directory and is not in the local "
            f"Hugging Face cache ({type(exc).__name__}); medmine never downloads weights: "
            + _download_hint(repo_id, "DIR")
        ) from exc
    commit = folder.name if folder.parent.name == "snapshots" else None
    return folder, commit


def config_fingerprint(directory: Path) -> str:
    """A short hash of a model folder: the content of its JSON files and its weights' sizes.

    Used as the revision part of the cache id for a plain directory, which has no commit.
    """
    h = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        if path.suffix == ".json":
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        elif path.suffix in (".safetensors", ".bin", ".pt", ".gguf"):
            h.update(f"{path.name}\0{path.stat().st_size}\0".encode())
    return h.hexdigest()[:16]
