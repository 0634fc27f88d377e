"""The shipped language-ID model side by side with Whisper-base's own detection, on the same clips.

Usage: python experiments/lid_report.py MODEL [--reference BUNDLE] [--data datasets/lid] [--write reports/lid]

Every clip is analysed as `dialectid score` analyses it. Sets: the video-disjoint test split;
the same clips as 8 kHz telephone recordings (G.711 mu-law WAV and GSM 06.10, band-limited to
300-3400 Hz, written as real files); the asterisk test voices; and the four held-out languages
(datasets/lid/unknown.jsonl), where the open-set figure is the share flagged `out_of_set`.
The reference is a whisper-lid bundle over the same labels, calibrated on the same clips.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from dialectid.audio import AudioError, load_recording  # noqa: E402
from dialectid.audio.config import IngestConfig  # noqa: E402
from dialectid.data import read_manifest, write_manifest  # noqa: E402
from dialectid.evaluation.evaluate import finish, score_manifest  # noqa: E402
from dialectid.models.bundle import load_model  # noqa: E402
from dialectid.scoring import Scorer  # noqa: E402
from dialectid.scoring.analysis import ANSWERED  # noqa: E402

DIAS_LANGUAGES = ("fa", "ar", "ur", "tr", "az", "hy")


def telephone_copies(test: Path, folder: Path) -> dict[str, Path]:
    """The test clips as 8 kHz telephone files: G.711 mu-law WAV and raw GSM 06.10."""
    manifest = read_manifest(test)
    sos = butter(6, (300.0, 3400.0), btype="bandpass", fs=8000, output="sos")
    out: dict[str, list] = {"g711": [], "gsm": []}
    for utt in manifest:
        signal = load_recording(manifest.path_of(utt), IngestConfig(sample_rate=8000)).samples()
        narrow = np.clip(sosfilt(sos, signal), -1, 1).astype(np.float32)
        stem = utt.id.replace("/", "_")
        for name, suffix, kwargs in (("g711", ".wav", {"subtype": "ULAW"}),
                                     ("gsm", ".gsm", {"format": "RAW", "subtype": "GSM610"})):  # fmt: skip
            path = folder / name / f"{stem}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, narrow, 8000, **kwargs)
            out[name].append(replace(utt, path=str(path), channel="telephone"))
    manifests = {}
    for name, rows in out.items():
        manifests[name] = folder / f"test-{name}.jsonl"
        write_manifest(manifests[name], rows)
    return manifests


def evaluate_set(bundle, manifest_path: Path) -> dict[str, Any]:
    manifest = read_manifest(manifest_path, labels=bundle.labels, check_files=True)
    outcomes = score_manifest(Scorer(bundle), manifest)
    metrics = finish(outcomes, bundle, manifest, str(manifest_path), None)
    two_s = outcomes.speech_s >= 2.0
    metrics["coverage_2s"] = float(np.isin(outcomes.statuses[two_s], ANSWERED).mean()) if two_s.any() else None
    metrics["n_2s"] = int(two_s.sum())
    answered = np.isin(outcomes.statuses, ANSWERED)
    metrics["coverage_by_label"] = {label: float(answered[outcomes.targets == i].mean())
                                    for i, label in enumerate(bundle.labels) if (outcomes.targets == i).any()}  # fmt: skip
    return metrics


def open_set(bundle, manifest_path: Path) -> dict[str, Any]:
    manifest = read_manifest(manifest_path)
    scorer = Scorer(bundle)
    statuses: Counter = Counter()
    per_language: dict[str, Counter] = {}
    for utt in manifest:
        try:
            status = scorer.analyse(manifest.path_of(utt)).status
        except AudioError:
            status = "error"
        statuses[status] += 1
        per_language.setdefault(utt.label, Counter())[status] += 1
    n = sum(statuses.values())
    scored = n - statuses["insufficient_speech"] - statuses["rejected_audio"] - statuses["error"]
    return {"n": n, "statuses": dict(statuses), "flagged": statuses["out_of_set"] / n,
            "flagged_of_scored": statuses["out_of_set"] / scored if scored else None,
            "per_language": {k: dict(v) for k, v in sorted(per_language.items())}}  # fmt: skip


def pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def render(results: dict[str, Any], names: dict[str, str]) -> str:
    model, reference = names["model"], names.get("reference")
    lines = [f"# Language identification: `{model}`" + (f" beside `{reference}`" if reference else ""), "",
             "Every clip analysed as `dialectid score` analyses it (VAD, windows, calibration, decision rules of "
             "each bundle). All figures are on videos and voices never heard in training or calibration.", "",
             "| set | model | clips | coverage | coverage, >= 2 s speech | accuracy (answered) | "
             "with refusals | Cavg | min Cavg | Cllr |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for set_name, per_model in results["sets"].items():
        for label, m in per_model.items():
            lines.append(f"| {set_name} | {label} | {m['n']} | {pct(m['coverage'])} | {pct(m['coverage_2s'])} | "
                         f"{pct(m.get('accuracy'))} | {pct(m['accuracy_with_refusals'])} | {m.get('cavg', 0):.3f} | "
                         f"{m.get('min_cavg', 0):.3f} | {m.get('cllr', 0):.3f} |")  # fmt: skip
    lines += ["", "## Per language (test split: recall on answered clips, coverage)", "",
              "| language | clips | " + " | ".join(f"{k} recall | {k} coverage" for k in results["sets"]["test"]) + " |",
              "|---|---:|" + "---:|---:|" * len(results["sets"]["test"])]  # fmt: skip
    first = next(iter(results["sets"]["test"].values()))
    for language in first["labels"]:
        row = [language + (" **(DIAS)**" if language in DIAS_LANGUAGES else ""),
               str(results["support"].get(language, 0))]  # fmt: skip
        for m in results["sets"]["test"].values():
            row += [pct(m["per_class"][language]["recall"]), pct(m["coverage_by_label"].get(language))]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## By net speech (test split): where the line is", "",
              "Answers start at 1 s of speech (`min_speech_s`); the calibration weighs log speech duration, so "
              "a short clip's answer should carry less confidence. Accuracy and the mean top probability of the "
              "answered clips, per bin:", "",
              "| speech | model | clips | coverage | accuracy (answered) | mean top probability |",
              "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for label, m in results["sets"]["test"].items():
        for bin_name, row in m["by_speech"].items():
            lines.append(f"| {bin_name} | {label} | {row['n']} | {pct(row['coverage'])} | {pct(row.get('accuracy'))} | "
                         f"{pct(row.get('confidence'))} |")  # fmt: skip
    lines += ["", "## Languages outside the labels (open set)", "",
              "| model | clips | flagged out_of_set | of those scored | statuses |", "|---|---:|---:|---:|---|"]  # fmt: skip
    for label, o in results["open_set"].items():
        lines.append(f"| {label} | {o['n']} | {pct(o['flagged'])} | {pct(o['flagged_of_scored'])} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(o['statuses'].items()))} |")  # fmt: skip
    lines += ["", f"## Confusion of `{model}` on the test split (rows: truth, answered clips)", ""]
    labels = first["labels"]
    lines += ["| | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for label, row in zip(labels, results["sets"]["test"]["model"]["confusion"], strict=True):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / "datasets" / "lid")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "lid-report")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    bundles = {"model": load_model(args.model)}
    if args.reference:
        bundles["reference"] = load_model(args.reference)
    sets = {"test": args.data / "test.jsonl"}
    sets |= {f"test {k} 8 kHz": v for k, v in telephone_copies(args.data / "test.jsonl", args.work).items()}
    sets["asterisk voices"] = args.data / "asterisk-test.jsonl"
    results: dict[str, Any] = {"sets": {}, "open_set": {}}
    for set_name, path in sets.items():
        results["sets"][set_name] = {}
        for label, bundle in bundles.items():
            metrics = evaluate_set(bundle, path)
            results["sets"][set_name][label] = metrics
            print(set_name, label, {k: metrics.get(k) for k in ("n", "coverage", "accuracy", "cavg", "min_cavg")},
                  flush=True)  # fmt: skip
    test = read_manifest(sets["test"])
    results["support"] = dict(Counter(u.label for u in test))
    for label, bundle in bundles.items():
        results["open_set"][label] = open_set(bundle, args.data / "unknown.jsonl")
        print("unknown", label, results["open_set"][label], flush=True)
    names = {label: b.model_id for label, b in bundles.items()}
    text = render(results, names)
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.with_suffix(".md").write_text(text)
        args.write.with_suffix(".json").write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
