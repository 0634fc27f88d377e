"""How far a bundle's test metrics move when only the CPU kernels change.

Usage: python benchmarks/kernel_spread.py [BUNDLE] [MANIFEST] [--write reports/kernel-spread.md]

Evaluates the bundle on the manifest once per CTranslate2 instruction set (CT2_FORCE_CPU_ISA:
GENERIC, AVX, AVX2, AVX512, as the CPU allows) and with the numeric libraries on 1 and 2 threads,
each in its own process, with the same locked packages. The int8 encoder's output differs with the
kernel, and a clip near a decision boundary can flip: the spread measured here is what separates
two x86-64 machines, and it sets the tolerance of tests/test_default_models.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("coverage", "accuracy", "balanced_accuracy", "cavg", "min_cavg", "cllr", "ece")
MARKER = "<!-- kernel_spread -->"
CODE = f"""
import json, sys
from dialectid.evaluation.evaluate import evaluate
from dialectid.models.bundle import load_model
result = evaluate(load_model(sys.argv[1]), sys.argv[2])
print(json.dumps({{k: result[k] for k in {KEYS!r}}}))
"""


def supported_isas() -> list[str]:
    flags = Path("/proc/cpuinfo").read_text().split()
    return ["GENERIC", "AVX", *(["AVX2"] if "avx2" in flags else []), *(["AVX512"] if "avx512bw" in flags else [])]


def run(bundle: str, manifest: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CODE, bundle, manifest], env={**os.environ, **env},
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "models" / "lid-accurate"))
    parser.add_argument("manifest", nargs="?", default=str(ROOT / "datasets" / "lid" / "test.jsonl"))
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    settings = {f"CT2 {isa}, 1 thread": {"CT2_FORCE_CPU_ISA": isa, "OMP_NUM_THREADS": "1",
                                          "OPENBLAS_NUM_THREADS": "1"} for isa in supported_isas()}  # fmt: skip
    settings["default ISA, 2 threads"] = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    rows = {}
    for name, env in settings.items():
        rows[name] = run(args.bundle, args.manifest, env)
        print(name, rows[name], flush=True)
    spread = {k: max(r[k] for r in rows.values()) - min(r[k] for r in rows.values()) for k in KEYS}
    lines = ["### Metric spread from CPU kernels alone", "",
             f"`python benchmarks/kernel_spread.py` on {date.today()}: {Path(args.bundle).name} on "
             f"{Path(args.manifest).name}, same locked packages, one process per setting.", "",
             "| setting | " + " | ".join(KEYS) + " |", "|---|" + "---:|" * len(KEYS)]  # fmt: skip
    lines += [f"| {name} | " + " | ".join(f"{r[k]:.4f}" for k in KEYS) + " |" for name, r in rows.items()]
    lines += ["| **spread (max - min)** | " + " | ".join(f"**{spread[k]:.4f}**" for k in KEYS) + " |"]
    print("\n".join(lines))
    if args.write:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_ingest import update_report

        update_report(args.write, "\n".join(lines), MARKER)


if __name__ == "__main__":
    main()
