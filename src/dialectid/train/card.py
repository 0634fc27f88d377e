"""MODEL_CARD.md: what a model is for, what it was trained on, how well it does, where it fails."""

from __future__ import annotations

from typing import Any

# The sections every report repeats (`card_limitations`): a card's notes (configs/cards/*.md) add
# "What this model cannot do"; `render_card` writes "Limitations". Bullets start with "- " and
# continue on indented lines.
CANNOT_DO = "What this model cannot do"
LIMITATIONS = "Limitations"
ZERO_SHOT_NOTE = [
    "Zero-shot: nothing in the model was trained on these clips. They define its labels; its",
    "confidence is calibrated on the calibration set.",
    "",
]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_card(name: str, model: str, labels: list[str], fingerprint: dict[str, Any], metrics: dict[str, Any],
                limitations: list[str], zero_shot: bool = False) -> str:  # fmt: skip
    unseen = metrics.get("speakers_unseen_in_training")
    where = {True: "speakers unseen in training", False: "a set that shares speakers with training (optimistic)",
             None: "a held-out set (speaker overlap unknown)"}[unseen]  # fmt: skip
    lines = [
        f"# Model card: {name}",
        "",
        "## Intended use",
        "",
        "Identifying the language or dialect of a speech sample as ONE source of information for a",
        "trained caseworker or linguist. **The result assists a human assessment; it is not evidence.**",
        "It must not be the sole basis of any decision about a person.",
        "",
        f"Model: `{model}`. Labels: {', '.join(labels)}.",
        "",
        "## Training data",
        "",
        *(ZERO_SHOT_NOTE if zero_shot else []),
        "| label | clips | speakers | hours |",
        "|---|---:|---:|---:|",
    ]
    for label, row in fingerprint.get("per_label", {}).items():
        lines.append(f"| {label} | {row['clips']} | {row['speakers']} | {row['hours']:.2f} |")
    lines += ["", f"Manifests (sha256): {', '.join(f'{k}={v[:12]}' for k, v in fingerprint.get('manifests', {}).items())}",
              "", "## Results", ""]  # fmt: skip
    if metrics.get("n"):
        rules = metrics.get("decision_rules", {})
        minimum = f"; at least {rules['min_speech_s']:g} s of speech for a result" if rules else ""
        lines += [
            f"Measured on {metrics['n']} clips of {where} (`{metrics.get('manifest', '')}`), each analysed as",
            f"`dialectid score` analyses a recording (VAD, windows over the speech, calibration, decision{minimum}):",
            "",
            f"- coverage {_pct(metrics.get('coverage'))}: the share of clips given a label "
            f"({', '.join(f'{k} {v}' for k, v in metrics.get('statuses', {}).items())})",
            f"- accuracy on answered clips {_pct(metrics.get('accuracy'))}, balanced {_pct(metrics.get('balanced_accuracy'))}; "
            f"counting every refusal as wrong {_pct(metrics.get('accuracy_with_refusals'))}",
            f"- on answered clips: Cavg {_num(metrics.get('cavg'))} (minimum {_num(metrics.get('min_cavg'))}), "
            f"Cllr {_num(metrics.get('cllr'))} bits, ECE {_num(metrics.get('ece'))}",
            "",
            "By net speech (coverage, accuracy on answered): "
            + "; ".join(
                f"{k}: {_pct(v.get('coverage'))}, {_pct(v.get('accuracy'))} of {v['n']}"
                for k, v in metrics.get("by_speech", {}).items()
            ),
        ]
        for field, groups in metrics.get("by_group", {}).items():
            lines.append(
                f"By {field}: " + "; ".join(f"{k}: {_pct(v.get('accuracy'))} of {v['n']}" for k, v in groups.items())
            )
    else:
        lines.append("No held-out evaluation was run: there is no evidence of how well this model works.")
    lines += ["", "## Limitations", ""] + [f"- {item}" for item in limitations] + [""]
    return "\n".join(lines)


MIN_COVERAGE = 0.2  # below this share of held-out clips answered, a bundle is flagged as useless


def usefulness_warnings(metrics: dict[str, Any], n_labels: int) -> list[str]:
    """Why a freshly trained bundle is not fit to use, from its held-out metrics: it answers
    (almost) no clip, or its accuracy on the answered ones is not above chance (1 / labels) with
    its 95 % Wilson interval. Empty when neither holds or nothing was evaluated.

    >>> usefulness_warnings({"n": 12, "n_answered": 0, "coverage": 0.0, "accuracy": None}, 3)[0][:43]
    'coverage 0.000: 12 of the 12 held-out clips'
    >>> usefulness_warnings({"n": 60, "n_answered": 60, "coverage": 1.0, "accuracy": 0.9}, 3)
    []
    """
    from dialectid.evaluation.metrics import wilson_interval

    n, answered = metrics.get("n") or 0, metrics.get("n_answered") or 0
    if not n:
        return []
    found = []
    if (metrics.get("coverage") or 0.0) < MIN_COVERAGE:
        found.append(f"coverage {metrics.get('coverage') or 0.0:.3f}: {n - answered} of the {n} held-out clips got no "
                     f"label (below {MIN_COVERAGE:.0%}); the model answers almost nothing")  # fmt: skip
    chance = 1 / max(n_labels, 1)
    if answered and metrics.get("accuracy") is not None:
        low, high = wilson_interval(round(metrics["accuracy"] * answered), answered)
        if low <= chance:
            found.append(f"accuracy on the {answered} answered clips {_pct(metrics['accuracy'])} (95 % interval "
                         f"{_pct(low)} to {_pct(high)}) is not above chance ({_pct(chance)} for {n_labels} labels)")  # fmt: skip
    return found


def warning_section(warnings: list[str]) -> str:
    """The stamp at the top of MODEL_CARD.md of a bundle that `usefulness_warnings` flags."""
    lines = ["## WARNING: not fit to use", "", "Measured on the held-out set at training time:", ""]
    lines += [f"- {w}" for w in warnings] + ["", "Do not use this model for anything but testing the toolkit.", ""]
    return "\n".join(lines)


def standard_limitations(fingerprint: dict[str, Any], zero_shot: bool = False) -> list[str]:
    notes = [
        "Speech in a language or dialect outside the labels above gets a wrong label with some probability;"
        " low top probabilities and the out-of-set status exist for this reason.",
        "Accuracy falls on short speech (see the breakdown by net speech) and on channels unlike the training data.",
    ]
    thin = [label for label, row in fingerprint.get("per_label", {}).items() if row["speakers"] < 5]
    if thin and not zero_shot:
        notes.append(f"Few training speakers for {', '.join(thin)}: the model may have learned voices rather"
                     " than dialects there.")  # fmt: skip
    return notes


def card_limitations(card: str) -> list[str]:
    """What a model cannot do, as its card says: the bullets of its "What this model cannot do"
    sections first, then those of "Limitations", each joined into one line. The card is part of the
    checksummed bundle, so what a report repeats is what was trained and verified.

    >>> card_limitations("## Limitations\\n\\n- Short speech.\\n## What this model cannot do\\n- No dialects:\\n  none.")
    ['No dialects: none.', 'Short speech.']
    """
    sections: dict[str, list[str]] = {CANNOT_DO.lower(): [], LIMITATIONS.lower(): []}
    current: list[str] | None = None
    bullet_open = False
    for line in card.splitlines():
        if line.startswith("#"):
            current, bullet_open = sections.get(line.lstrip("#").strip().lower()), False
        elif current is not None and line.startswith("- "):
            current.append(line[2:].strip())
            bullet_open = True
        elif current is not None and bullet_open and line.startswith("  ") and line.strip():
            current[-1] += " " + line.strip()
        else:
            bullet_open = False
    items = sections[CANNOT_DO.lower()] + sections[LIMITATIONS.lower()]
    return [item.replace("`", "").replace("**", "") for item in items]  # plain text
