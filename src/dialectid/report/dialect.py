"""What a report says about the dialect block of an Analysis (scoring/dialects.py), worked out once
for the PDF, the HTML and the web view: names, not codes ("Arabic — Levantine 62.0 %"), and
"Arabic, dialect uncertain" wherever the dialect head's own rules name no dialect.

>>> from dialectid.scoring.analysis import DialectResult, LabelProbability, ModelRef
>>> block = DialectResult(parent="ar", parent_probability=0.9, status="ok", top_dialect="ar-LAV",
...     children=[LabelProbability("ar-LAV", 0.558), LabelProbability("ar-EGY", 0.342)], top_share=0.62,
...     threshold=0.5, model=ModelRef(id="dialect-arabic", bundle_sha256="ab" * 32))
>>> dialect_headline(block)
'Arabic — Levantine 55.8 %'
>>> dialect_headline(block.model_copy(update={"status": "dialect_uncertain", "top_dialect": None}))
'Arabic, dialect uncertain'
"""

from __future__ import annotations

from dataclasses import dataclass

from dialectid.names import label_name
from dialectid.scoring.analysis import DialectResult


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def dialect_name(parent: str, label: str) -> str:
    """The dialect's own name without its language's ("Levantine" for ar-LAV under ar)."""
    language, name = label_name(parent), label_name(label)
    if name.startswith(f"{language} (") and name.endswith(")"):
        return name[len(language) + 2 : -1]
    return name


def dialect_headline(block: DialectResult) -> str:
    language = label_name(block.parent)
    if block.status != "ok" or block.top_dialect is None:
        return f"{language}, dialect uncertain"
    top = next(c for c in block.children if c.label == block.top_dialect)
    return f"{language} — {dialect_name(block.parent, top.label)} {_pct(top.probability)}"


@dataclass(frozen=True)
class DialectContent:
    headline: str
    lines: list[str]
    rows: list[tuple[str, float]]  # "Arabic — Levantine", its probability (the children sum to the parent's)


def dialect_content(block: DialectResult | None) -> DialectContent | None:
    if block is None:
        return None
    language = label_name(block.parent)
    if block.status == "ok" and block.top_dialect is not None:  # an ok block names its dialect
        verdict = (f"The dialect model names {dialect_name(block.parent, block.top_dialect)}: "
                   f"{_pct(block.top_share)} of the {language} probability, above its own threshold of "
                   f"{_pct(block.threshold)}.")  # fmt: skip
    else:
        verdict = (f"No dialect is named: {block.reason or 'no dialect is clearly more likely'}. The dialect "
                   "probabilities below are shown for completeness only.")  # fmt: skip
    lines = [
        verdict,
        f"The dialects split the {language} probability ({_pct(block.parent_probability)}): their probabilities "
        f"sum to it. Dialect model: {block.model.id} (bundle {block.model.bundle_sha256[:12]}).",
    ]
    if block.groups:
        shown = ", ".join(f"{dialect_name(block.parent, g.label)} {_pct(g.probability)}" for g in block.groups)
        lines.append(f"By dialect group (the sums of their dialects): {shown}.")
    rows = [(f"{language} — {dialect_name(block.parent, c.label)}", c.probability) for c in block.children]
    return DialectContent(dialect_headline(block), lines, rows)


def dialect_model_rows(facts) -> list[tuple[str, str]]:
    """The dialect model's rows in the report's model table (`facts`: its `ModelFacts`, or None):
    its identity and its test figures in the words the language model's are given."""
    from dialectid.report.explain import model_lines

    if facts is None:
        return []
    figures = " ".join(model_lines(facts)) or "not measured"
    return [("Dialect model", f"{facts.name} ({facts.model})"), ("Dialect bundle SHA-256", facts.bundle_sha256),
            ("Dialect model's test figures", figures)]  # fmt: skip


def limitations_with_dialect(model) -> list[str]:
    """The model card's limitations; with a dialect model, each marked as the language or the dialect
    model's (the language model's card may well say that it tells no dialect apart)."""
    if model.dialect is None:
        return model.limitations
    return [f"Language model: {item}" for item in model.limitations] + [
        f"Dialect model: {item}" for item in model.dialect.limitations
    ]
