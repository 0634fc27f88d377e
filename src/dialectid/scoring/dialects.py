"""The hierarchical analysis: a dialect head splits one language's probability over its dialects.

A dialect bundle is an ordinary bundle whose taxonomy has one top node, which must be a label of
the language bundle (`{ar: [ar-EGY, ar-GLF, ar-LAV, ar-MSA, ar-NOR]}` under a language model that
knows `ar`): the parent is found, not configured. `compose` checks that the two fit together;
the `Scorer` then has the dialect head score the very speech windows the language model scored.
Where both read Whisper encoder states, the encoder runs once per window (`WhisperEncoder`
remembers the states of the windows it has just encoded), which is why they must share the
encoder and the window rules.

The dialect block is given only where the language analysis answers with the parent as its top
label (status ok or low_confidence); for any other answer the analysis carries no dialect block.
The dialect head's calibrated posteriors (given the parent) are multiplied by the parent's
probability, so the dialects sum to the parent. Its own decision rules then say whether a dialect
may be named: below its own low-confidence line (its bundle's `decision.low_confidence`, applied to
the share given the parent), on less speech than its `min_speech_s`, beyond its open-set threshold,
or where the language itself was only low_confidence, the result is "dialect_uncertain" and names
no dialect.

>>> rules = DialectRules("ar", ("ar-EGY", "ar-LAV"), threshold=0.6, min_speech_s=3.0,
...                      model=ModelRef(id="dialect-arabic", bundle_sha256="ab" * 32))
>>> r = rules.apply(0.9, [0.2, 0.8], language_status="ok", speech_s=20.0)
>>> r.status, r.top_dialect, [(c.label, c.probability) for c in r.children]
('ok', 'ar-LAV', [('ar-LAV', 0.72), ('ar-EGY', 0.18)])
>>> rules.apply(0.9, [0.45, 0.55], language_status="ok", speech_s=20.0).status
'dialect_uncertain'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dialectid.errors import DialectidError
from dialectid.names import label_name
from dialectid.scoring.analysis import DialectResult, LabelProbability, ModelRef
from dialectid.taxonomy import OUT_OF_SET

DIALECT_HOME_MODEL = "dialect-arabic"  # DIALECTID_HOME/models/<this>: the dialect model the demo finds
SHARED_RULES = ("window_s", "hop_s", "max_windows")  # the head scores the language model's windows


class CompositionError(DialectidError):
    """A dialect model that cannot be used under a language model."""


@dataclass(frozen=True)
class DialectRules:
    """When a dialect may be named: the dialect bundle's own decision rules, applied to its split."""

    parent: str
    labels: tuple[str, ...]
    threshold: float  # the top dialect's share given the parent must reach this
    min_speech_s: float
    model: ModelRef
    open_set_threshold: float | None = None
    open_set_margin: float = 1.0
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()  # inner nodes below the parent: the indices of their labels

    def apply(self, parent_probability: float, conditional: Sequence[float], language_status: str,
              speech_s: float, novelty: float | None = None) -> DialectResult:  # fmt: skip
        """The dialect block for a recording whose top language is `parent`, with `conditional`
        the dialect head's calibrated posteriors given the parent (one per label, in order)."""
        shares = np.clip(np.asarray(conditional, dtype=float), 0.0, None)
        shares = shares / shares.sum() if shares.sum() > 0 else np.full(len(shares), 1 / len(shares))
        top = int(np.argmax(shares))
        reason = self._uncertain(float(shares[top]), language_status, speech_s, novelty)
        children = sorted(zip(self.labels, (shares * parent_probability).tolist(), strict=True),
                          key=lambda item: (-item[1], item[0]))  # fmt: skip
        groups = sorted(((node, float(shares[list(members)].sum()) * parent_probability) for node, members in
                         self.groups), key=lambda item: (-item[1], item[0]))  # fmt: skip
        return DialectResult(
            parent=self.parent, parent_probability=round(float(parent_probability), 6),
            children=[LabelProbability(label, round(p, 6)) for label, p in children],
            status="dialect_uncertain" if reason else "ok", top_dialect=None if reason else self.labels[top],
            top_share=round(float(shares[top]), 6), threshold=self.threshold, reason=reason, model=self.model,
            groups=[LabelProbability(node, round(p, 6)) for node, p in groups],
        )  # fmt: skip

    def _uncertain(self, share: float, language_status: str, speech_s: float, novelty: float | None) -> str | None:
        """Why no dialect may be named (None: the top dialect may be)."""
        if language_status != "ok":
            return f"the language itself is uncertain ({language_status})"
        if speech_s < self.min_speech_s:
            return f"{speech_s:.1f} s of speech is less than the {self.min_speech_s:g} s the dialect model needs"
        limit = None if self.open_set_threshold is None else self.open_set_margin * self.open_set_threshold
        if novelty is not None and limit is not None and novelty > limit:
            return f"the speech fits none of the dialects the model knows (novelty {novelty:.2f} > {limit:.2f})"
        if share < self.threshold:
            return (f"the most likely dialect has {100 * share:.3g} % of the {label_name(self.parent)} probability, "
                    f"less than the {100 * self.threshold:.3g} % the dialect model needs to name one")  # fmt: skip
        return None


@dataclass(frozen=True)
class DialectHead:
    """A dialect bundle checked against the language bundle it splits, and its rules."""

    bundle: Any  # models.bundle.Bundle
    rules: DialectRules

    @property
    def parent(self) -> str:
        return self.rules.parent


def compose(language: Any, dialect: Any) -> DialectHead:
    """The dialect bundle `dialect` as a head under `language` (both loaded `Bundle`s); a
    `CompositionError` names what does not fit and what to do."""
    where = str(dialect.path or dialect.model_id)
    parent = _parent(dialect, where)
    if parent not in language.labels:
        shown = ", ".join(language.labels[:10]) + (", ..." if len(language.labels) > 10 else "")
        raise CompositionError(f"{where}: its dialects are of {parent!r}, which the language model "
                               f"{language.model_id} does not know ({shown}); use a dialect model for one of "
                               "them")  # fmt: skip
    if dialect.contract.sample_rate != language.contract.sample_rate:
        raise CompositionError(f"{where}: reads {dialect.contract.sample_rate} Hz audio, the language model "
                               f"{language.model_id} {language.contract.sample_rate} Hz; they must read the "
                               "same")  # fmt: skip
    _same_encoder(language, dialect, where)
    ours, theirs = dialect.rules, language.rules
    if odd := [r for r in SHARED_RULES if getattr(ours, r) != getattr(theirs, r)]:
        raise CompositionError(f"{where}: its decision.{odd[0]} {getattr(ours, odd[0])} is not the language model's "
                               f"{getattr(theirs, odd[0])}; the dialect head scores the language model's windows, "
                               "so train it with the same window rules")  # fmt: skip
    rules = DialectRules(
        parent=parent, labels=tuple(dialect.labels), threshold=ours.low_confidence, min_speech_s=ours.min_speech_s,
        model=ModelRef(id=dialect.model_id, name=dialect.model.name, bundle_sha256=dialect.sha256),
        open_set_threshold=dialect.open_set_threshold, open_set_margin=ours.open_set_margin,
        groups=_groups(dialect.taxonomy, parent, list(dialect.labels)),
    )  # fmt: skip
    return DialectHead(dialect, rules)


def _groups(taxonomy: Any, parent: str, labels: list[str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Every inner node below the parent (a region over countries) with the indices of its labels."""
    inner = [node for node in taxonomy.parents if node != parent and node not in labels]
    return tuple((node, tuple(i for i, label in enumerate(labels) if node in taxonomy.ancestors(label)))
                 for node in inner)  # fmt: skip


def _parent(dialect: Any, where: str) -> str:
    """The one top node of the dialect bundle's taxonomy, above all its labels."""
    parents = dialect.taxonomy.parents
    if OUT_OF_SET in dialect.labels:
        raise CompositionError(f"{where}: a dialect model has no out_of_set class (the language model decides "
                               "that); train it without one")  # fmt: skip
    tops = sorted(node for node, parent in parents.items() if parent is None)
    if len(tops) != 1:
        raise CompositionError(f"{where}: not a dialect model: its taxonomy has {len(tops)} top nodes "
                               f"({', '.join(tops)}), a dialect model has one, the language it splits")  # fmt: skip
    return tops[0]


def _same_encoder(language: Any, dialect: Any, where: str) -> None:
    """A dialect head on encoder states reuses the language model's: the same encoder, or none."""
    theirs = dialect.description.encoder.sha256 if dialect.description.encoder else None
    ours = language.description.encoder.sha256 if language.description.encoder else None
    if theirs and theirs != ours:
        have = f"encoder sha256 {ours[:12]}" if ours else "no encoder"
        raise CompositionError(f"{where}: reads encoder sha256 {theirs[:12]}, but the language model "
                               f"{language.model_id} has {have}; the dialect head reuses the language model's "
                               "encoder states, so train it on the same encoder")  # fmt: skip


def dialect_home_model() -> Path | None:
    """DIALECTID_HOME/models/dialect-arabic where it exists (built there by its config), else None."""
    from dialectid.paths import home

    found = home() / "models" / DIALECT_HOME_MODEL
    return found if found.is_dir() else None
