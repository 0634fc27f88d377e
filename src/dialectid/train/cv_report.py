"""The model card's cross-validation section (models/fusion_cv.py): the curve the fusion setting was
chosen from, and the fusion beside Whisper's own detection per source and per label, with intervals."""

from __future__ import annotations

from typing import Any

from dialectid.evaluation.metrics import wilson_interval


def _share(right: int, n: int) -> str:
    low, high = wilson_interval(right, n)
    return f"{right}/{n} = {100 * right / max(n, 1):.1f} % [{100 * low:.1f}, {100 * high:.1f}]"


def cross_validation_section(cv: dict[str, Any]) -> str:
    """Markdown: setting chosen, curve, per source and label (model vs Whisper restricted), open set."""
    lines = ["## Cross-validation (speaker-disjoint)", "",
             f"Every setting below was measured on every training recording once, by a back-end fitted on the "
             f"other {cv['folds'] - 1} of {cv['folds']} folds (no video or voice in two folds); a recording's label "
             "is the mean of its windows' log-posteriors. Chosen: the most accurate setting that is at least as "
             "accurate as Whisper-base's own detection restricted to the same labels on every fold and every "
             f"source: c {cv['c']:g}, Whisper weight {cv['lid_weight']:g}. Whisper restricted per fold: "
             + ", ".join(f"{a:.3f}" for a in cv["whisper_per_fold"]) + ".", "",
             "| c | Whisper weight | accuracy | per fold | never worse than Whisper |", "|---:|---:|---:|---|---|"]  # fmt: skip
    for row in cv["curve"]:
        lines.append(f"| {row['c']:g} | {row['lid_weight']:g} | {row['accuracy']:.3f} | "
                     f"{', '.join(f'{a:.3f}' for a in row['per_fold'])} | {'yes' if row['never_worse'] else 'no'} |")  # fmt: skip
    for title, rows in (("source", cv["per_source"]), ("label", cv["per_label"])):
        lines += [
            "",
            f"| {title} | recordings | this model (95 % interval) | Whisper restricted |",
            "|---|---:|---|---|",
        ]
        for key, row in rows.items():
            lines.append(f"| {key} | {row['clips']} | {_share(row['model'], row['clips'])} | "
                         f"{_share(row['whisper'], row['clips'])} |")  # fmt: skip
    if open_set := cv.get("open_set"):
        lines += ["", f"Open-set threshold {open_set['threshold']:.3f} (learned from simulated unknown languages: "
                  f"{open_set['learned_threshold']:.3f}; needed for at most 3 % of any source's in-set recordings: "
                  f"{open_set['in_set_threshold']:.3f}). In-set recordings flagged out of fold: "
                  + "; ".join(f"{k} {100 * v['flagged']:.1f} % of {v['clips']}"
                              for k, v in open_set["flagged_per_source"].items()) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def speech_line_section(line: dict[str, Any]) -> str:
    """The model card's paragraph on how much speech the open-set decision needs (trainer.open_set_speech_line)."""
    rows = [f"| {r['at_least_s']:g} s | {r['recordings']} | {100 * r['flagged']:.1f} % |" for r in line["curve"]]
    return "\n".join([
        "## How much speech the open-set decision needs", "",
        f"A recording is called out_of_set only from {line['chosen_s']:g} s of net speech on; below that, a novelty "
        "above the threshold gives low_confidence: too little speech to tell an unknown language from a known one. "
        f"The line is the shortest at which held-out in-set recordings (calibration clips and their short crops, "
        f"never heard in training) with at least that much speech are flagged at most "
        f"{100 * line['max_flag_rate']:g} % of the time:", "",
        "| at least | held-out in-set recordings | flagged out_of_set |", "|---:|---:|---:|", *rows,
    ]) + "\n"  # fmt: skip


def confidence_line_section(line: dict[str, Any]) -> str:
    """The model card's paragraph on the ok/low_confidence line (decision_lines.confidence_line)."""
    rows = [f"| {r['from']:g} | {r['recordings']} | {_maybe(r['right'], 0)} | {100 * r['ok_share']:.1f} % | "
            f"{_maybe(r['ok_right'], 1)} |" for r in line["curve"]]  # fmt: skip
    return "\n".join([
        "## From which probability a result is given", "",
        f"The status is ok from a top probability of {100 * line['chosen']:g} % on; below it, low_confidence. The line "
        "is the lowest at which held-out recordings (calibration clips and their short crops) in every band above it "
        "were right at least half the time: more likely right than wrong. Their probabilities came from a "
        f"calibrator fitted in {line['folds']} folds that never saw the recording's video or voice:", "",
        "| from | recordings in the band | right in the band | ok from here | right among those |",
        "|---:|---:|---:|---:|---:|", *rows,
    ]) + "\n"  # fmt: skip


def _maybe(share: float | None, digits: int) -> str:
    return "-" if share is None else f"{100 * share:.{digits}f} %"
