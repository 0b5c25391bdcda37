"""METEOR 1.5 through pycocoevalcap's jar, with one warm Java process per run.

METEOR needs its Java implementation (stemming, WordNet synonyms, paraphrase table), so
this is the only report metric that needs Java; nothing else in medmine imports this
module.  :class:`MeteorScorer` speaks the same ``-stdio`` protocol as
``pycocoevalcap.meteor.Meteor`` (``SCORE ||| ref ... ||| hyp`` then one
``EVAL ||| stats ...`` line), so corpus and per-sample scores are identical to it.  Unlike
pycocoevalcap it pipelines the SCORE lines (a writer thread feeds the process while the
statistics are read back) instead of one round trip per sample.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["MeteorScorer", "MeteorUnavailable", "default_meteor_jar", "is_available"]


class MeteorUnavailable(RuntimeError):
    """Raised when METEOR cannot run (no ``java`` on PATH or no meteor-1.5.jar)."""


def default_meteor_jar() -> Path | None:
    """Path of the meteor-1.5.jar shipped inside pycocoevalcap, or None if not installed."""
    try:
        spec = importlib.util.find_spec("pycocoevalcap.meteor.meteor")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    jar = Path(spec.origin).parent / "meteor-1.5.jar"
    return jar if jar.is_file() else None


def is_available(jar: str | Path | None = None, java: str = "java") -> tuple[bool, str]:
    """Whether METEOR can run (java on PATH and the jar present), with the reason if not."""
    return MeteorScorer(jar=jar, java=java).is_available()


class MeteorScorer:
    """One warm ``java -jar meteor-1.5.jar - - -stdio -l en -norm`` process.

    Use as a context manager::

        with MeteorScorer() as m:
            corpus, per_sample = m.score(refs, hyps)
    """

    def __init__(self, jar: str | Path | None = None, java: str = "java", mem: str = "2G"):
        """Remember where java and the jar are; the process starts on first use."""
        self.jar = Path(jar) if jar is not None else default_meteor_jar()
        self.java = java
        self.mem = mem
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def is_available(self) -> tuple[bool, str]:
        """Whether METEOR can run here, and the reason when it cannot."""
        if shutil.which(self.java) is None:
            return False, f"'{self.java}' not found on PATH (METEOR needs a Java runtime)"
        if self.jar is None:
            return False, "meteor-1.5.jar not found: install pycocoevalcap or pass jar="
        if not self.jar.is_file():
            return False, f"meteor jar not found at {self.jar}"
        return True, "ok"

    def _start(self) -> subprocess.Popen[bytes]:
        """Start the Java process if needed and return it."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        ok, reason = self.is_available()
        if not ok:
            raise MeteorUnavailable(reason)
        assert self.jar is not None
        cmd = [self.java, "-jar", f"-Xmx{self.mem}", self.jar.name]
        cmd += ["-", "-", "-stdio", "-l", "en", "-norm"]
        self._proc = subprocess.Popen(
            cmd,
            cwd=str(self.jar.parent),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return self._proc

    def _readline(self, proc: subprocess.Popen[bytes]) -> str:
        """Read one response line; fail clearly if the process died."""
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise MeteorUnavailable(f"METEOR process exited (code {proc.poll()})")
        return line.decode("utf-8").strip()

    def score(
        self, refs: Mapping[str, Sequence[Sequence[str]]], hyps: Mapping[str, Sequence[str]]
    ) -> tuple[float, list[float]]:
        """Corpus METEOR and per-sample scores, as pycocoevalcap ``Meteor().compute_score``.

        ``refs`` maps ids to lists of reference token lists; ``hyps`` maps the same ids to
        one hypothesis token list.  Tokens are joined with spaces, as pycocoevalcap's
        tokenised strings are.
        """
        if refs.keys() != hyps.keys():
            raise ValueError("refs and hyps must have the same ids")
        if len(refs) == 0:
            raise ValueError("refs is empty: nothing to score")
        lines = []
        for key in refs:
            rs = refs[key]
            if isinstance(rs, str) or len(rs) == 0:
                raise ValueError(f"refs[{key!r}] must be a non-empty list of token lists")
            hyp = hyps[key]
            if isinstance(hyp, str):
                raise ValueError(f"hyps[{key!r}] must be a token list, not a str")
            hyp_str = " ".join(hyp).replace("|||", "").replace("  ", " ")
            ref_strs = [" ".join(r) for r in rs]
            lines.append(" ||| ".join(("SCORE", " ||| ".join(ref_strs), hyp_str)) + "\n")
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None
            stdin = proc.stdin
            error: list[BaseException] = []

            def feed() -> None:
                """Write all SCORE lines while the main thread reads the statistics."""
                try:
                    stdin.write("".join(lines).encode("utf-8"))
                    stdin.flush()
                except BaseException as exc:  # reported after the reads
                    error.append(exc)

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            stats = [self._readline(proc) for _ in lines]
            writer.join()
            if error:
                raise MeteorUnavailable(f"writing to METEOR failed: {error[0]}")
            stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode("utf-8"))
            stdin.flush()
            per = [float(self._readline(proc)) for _ in lines]
            corpus = float(self._readline(proc))
        return corpus, per

    def close(self) -> None:
        """Stop the Java process."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.kill()
            proc.wait()

    def __enter__(self) -> MeteorScorer:
        """Start the process when METEOR can run (otherwise ``score`` raises)."""
        if self.is_available()[0]:
            self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the process."""
        self.close()
