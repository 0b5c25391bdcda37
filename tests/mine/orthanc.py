"""A real Orthanc server with its DICOMweb plugin, on 127.0.0.1, for the archive tests.

It runs from the distribution's packages (``apt-get install orthanc orthanc-dicomweb``) with
a generated configuration: HTTP on a free loopback port, no DICOM port, remote access off,
authentication on. Instances are uploaded through Orthanc's REST API.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
INSTALL = "apt-get install orthanc orthanc-dicomweb"
USER, PASSWORD = "medmine-test", "pacs-pass-5f1c9a"


def plugin() -> Path | None:
    """The DICOMweb plugin's shared library, when installed."""
    for folder in PLUGIN_DIRS:
        found = sorted(folder.glob("libOrthancDicomWeb.so*")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


def missing() -> str | None:
    """Why Orthanc cannot run here (None when it can)."""
    if shutil.which("Orthanc") is None:
        return f"Orthanc is not installed ({INSTALL})"
    if plugin() is None:
        return f"the Orthanc DICOMweb plugin is not installed ({INSTALL})"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Orthanc:
    """One Orthanc process with a fresh database; use as a context manager."""

    def __init__(self, workdir: Path) -> None:
        """Write the configuration under ``workdir`` (not started yet)."""
        self.workdir = workdir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.dicomweb = f"{self.base}/dicom-web"
        self.auth = (USER, PASSWORD)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Orthanc:
        """Start Orthanc and wait until it answers."""
        db = self.workdir / "db"
        db.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "medmine-test",
            "StorageDirectory": str(db),
            "IndexDirectory": str(db),
            "HttpPort": self.port,
            "DicomPort": 0,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(plugin())],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        path = self.workdir / "orthanc.json"
        path.write_text(json.dumps(config))
        log = (self.workdir / "orthanc.log").open("wb")
        self.proc = subprocess.Popen(["Orthanc", str(path)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/system", auth=self.auth, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"Orthanc did not start; see {self.workdir / 'orthanc.log'}")

    def __exit__(self, *exc: Any) -> None:
        """Stop the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def upload(self, datasets: list[Any]) -> None:
        """Store pydicom datasets through the REST API (one POST /instances each)."""
        with httpx.Client(auth=self.auth, timeout=30) as client:
            for ds in datasets:
                buf = io.BytesIO()
                ds.save_as(buf, enforce_file_format=True)
                r = client.post(f"{self.base}/instances", content=buf.getvalue())
                r.raise_for_status()

    def statistics(self) -> dict[str, Any]:
        """Orthanc's counts of stored patients, studies, series and instances."""
        return httpx.get(f"{self.base}/statistics", auth=self.auth, timeout=5).json()
