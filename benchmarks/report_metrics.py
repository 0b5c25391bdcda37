"""Benchmark: medmine report metrics vs pycocoevalcap on 10,000 IU X-ray report pairs.

Run: ``python benchmarks/report_metrics.py [--no-meteor]`` (needs pycocoevalcap; Java for
its tokenizer and for METEOR).  Prints its inputs, wall and CPU times, the speed ratios, the
largest absolute differences and the peak RSS.  medmine is timed cold on every corpus: the
tokeniser's chunk and sentence memos are cleared before each timed call (within one call
each distinct text is tokenised once, which is how it treats any corpus).  The benchmark
pairs reuse the 150 IU X-ray reports, so a second corpus in which every reference and
hypothesis text is distinct ("all-distinct") and a third made of new reports drawn
sentence by sentence ("resampled") show the speed without any help from repeated texts.
CPU time counts the Java subprocess for pycocoevalcap, which makes the ratio less
sensitive to machine load.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from medmine.metrics.nlg import score_reports
from medmine.metrics.ptb_tokenize import clear_memos

N_PAIRS = 10_000
REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"
    )
)


def build_pairs(n: int = N_PAIRS) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Deterministic reference/hypothesis report pairs built by perturbing IU X-ray reports."""
    ann = json.loads((REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json").read_text())
    reports = [e["report"] for split in ann.values() for e in split]
    rng = random.Random(1234)
    refs: dict[str, list[str]] = {}
    hyps: dict[str, str] = {}
    for i in range(n):
        ref = reports[i % len(reports)]
        words = ref.split(" ")
        kind = i % 4
        if kind == 0:
            rng.shuffle(words)
        elif kind == 1:
            words = words[: max(1, len(words) * (1 + i % 3) // 4)]
        elif kind == 2:
            words = reports[(i * 31 + 7) % len(reports)].split(" ")
        else:
            j = rng.randrange(len(words))
            words[j] = words[j] + rng.choice([",", ".", "-like", "'s", " (XXXX)", " 3.5 cm"])
        hyps[str(i)] = " ".join(words)
        refs[str(i)] = [ref] if i % 5 else [ref, reports[(i + 1) % len(reports)]]
    return refs, hyps


def distinct_pairs(
    refs: dict[str, list[str]], hyps: dict[str, str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The same pairs with every text made unique (a case number appended to each)."""
    new_refs = {k: [f"{r} Case {k} ref {j}." for j, r in enumerate(v)] for k, v in refs.items()}
    return new_refs, {k: f"{h} Case {k} hyp." for k, h in hyps.items()}


def resampled_pairs(
    refs: dict[str, list[str]], hyps: dict[str, str], seed: int = 5
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Every text a new report: five sentences drawn from the IU X-ray sentence pool plus a
    measurement, so each text is distinct and is not a near-copy of another."""
    rng = random.Random(seed)
    pool = sorted({s.strip() for t in hyps.values() for s in t.split(".") if s.strip()})

    def report() -> str:
        return ". ".join(rng.sample(pool, 5)) + f". Measures {rng.randint(2, 60)} mm."

    return {k: [report()] for k in refs}, {k: report() for k in hyps}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (pycocoevalcap's Java runs)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def compare(label: str, refs: dict[str, list[str]], hyps: dict[str, str]) -> None:
    """Time medmine and pycocoevalcap on one corpus; print ratios and max differences."""
    texts = list(hyps.values()) + [r for rs in refs.values() for r in rs]
    n_tok = sum(len(t.split()) for t in texts)
    print(
        f"[{label}] {len(hyps)} samples, {len(texts)} texts ({len(set(texts))} distinct), "
        f"{n_tok} whitespace words; metrics: BLEU-1..4, ROUGE-L, CIDEr-D"
    )
    clear_memos()  # time medmine cold on every corpus
    w0, c0 = time.perf_counter(), cpu_seconds()
    ours = score_reports(refs, hyps)
    t_ours, c_ours = time.perf_counter() - w0, cpu_seconds() - c0
    w0, c0 = time.perf_counter(), cpu_seconds()
    ref = pycoco_scores(refs, hyps)
    t_ref, c_ref = time.perf_counter() - w0, cpu_seconds() - c0
    print(
        f"[{label}] tokenise+BLEU+ROUGE-L+CIDEr-D: wall medmine {t_ours:.3f} s, "
        f"pycocoevalcap {t_ref:.2f} s, speed-up x{t_ref / t_ours:.1f}; CPU medmine "
        f"{c_ours:.3f} s, pycocoevalcap (incl. Java) {c_ref:.2f} s, x{c_ref / c_ours:.1f}"
    )
    for name in ["bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider_d"]:
        d_corpus = abs(float(ours[name]) - float(ref[name]))  # type: ignore[arg-type]
        d_per = float(np.max(np.abs(ours["per_sample"][name] - ref["per_sample"][name])))  # type: ignore[index]
        print(
            f"  {name:8s} medmine={ours[name]:.6f} "
            f"max|diff| corpus={d_corpus:.1e} per-sample={d_per:.1e}"
        )


def pycoco_scores(refs: dict[str, list[str]], hyps: dict[str, str]) -> dict[str, object]:
    """Score with pycocoevalcap exactly as report-generation papers do."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": r} for r in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": hyps[k]}] for k in refs})
    b, b_per = Bleu(4).compute_score(gts, res, verbose=0)
    r, r_per = Rouge().compute_score(gts, res)
    c, c_per = Cider().compute_score(gts, res)
    per = {f"bleu_{k + 1}": np.array(b_per[k]) for k in range(4)}
    per.update({"rouge_l": np.asarray(r_per), "cider_d": np.asarray(c_per)})
    out: dict[str, object] = {f"bleu_{k + 1}": b[k] for k in range(4)}
    out.update({"rouge_l": r, "cider_d": c, "per_sample": per, "gts": gts, "res": res})
    return out


def labeler_throughput(reports: list[str]) -> None:
    """HOOK: time medmine.chexpert.label_report over the reports, if that module exists."""
    try:
        from medmine.chexpert import label_report  # type: ignore[attr-defined]
    except ImportError:
        print("labeler: not available")
        return
    t0 = time.perf_counter()
    for text in reports:
        label_report(text)
    dt = time.perf_counter() - t0
    print(f"labeler: {len(reports)} reports in {dt:.2f} s = {len(reports) / dt:,.0f} reports/s")


def main() -> None:
    """Run the comparison and print ratios and differences."""
    refs, hyps = build_pairs()
    print(
        f"inputs: {len(hyps)} report pairs built from the IU X-ray reports in "
        f"{REALDATA / 'iu_xray_r2gen'} (seeded); python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, pycocoevalcap's Java: {shutil.which('java')}"
    )
    if shutil.which("java") is None:
        t0 = time.perf_counter()
        score_reports(refs, hyps)
        print(f"medmine: {time.perf_counter() - t0:.2f} s; java missing, reference skipped")
        labeler_throughput([h for h in hyps.values()])
        return
    compare("IU X-ray pairs, cold first call", refs, hyps)
    compare("all-distinct texts", *distinct_pairs(refs, hyps))
    compare("resampled distinct reports", *resampled_pairs(refs, hyps))
    if "--no-meteor" in sys.argv:
        print_peak_rss()
        return

    from pycocoevalcap.meteor.meteor import Meteor

    from medmine.metrics import ptb_tokenize as ptb_module
    from medmine.metrics.meteor import MeteorScorer
    from medmine.metrics.ptb_tokenize import ptb_tokenize

    ptb_module._cached.cache_clear()  # start cold: ptb_tokenize memoises, score_reports not
    clear_memos()
    t0 = time.perf_counter()
    tr = {k: [ptb_tokenize(r) for r in v] for k, v in refs.items()}
    th = {k: ptb_tokenize(h) for k, h in hyps.items()}
    ours_all = score_reports(refs, hyps)
    with MeteorScorer() as ms:
        m_ours, m_ours_per = ms.score(tr, th)
    t_ours_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_all = pycoco_scores(refs, hyps)
    m_ref, m_ref_per = Meteor().compute_score(ref_all["gts"], ref_all["res"])  # type: ignore[arg-type]
    t_ref_all = time.perf_counter() - t0
    d_m = float(np.max(np.abs(np.array(m_ours_per) - np.array(m_ref_per))))
    print(
        f"end-to-end incl. METEOR: medmine {t_ours_all:.2f} s, pycocoevalcap {t_ref_all:.2f} s, "
        f"speed-up x{t_ref_all / t_ours_all:.1f}; METEOR {m_ours:.6f} vs {m_ref:.6f}, "
        f"max per-sample |diff| {d_m:.1e}"
    )
    _ = ours_all
    labeler_throughput(list(hyps.values()))
    print_peak_rss()


def print_peak_rss() -> None:
    """Peak resident memory of this process and of its largest finished child (Java)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MB, largest child (Java) {kids:.0f} MB")


if __name__ == "__main__":
    main()
