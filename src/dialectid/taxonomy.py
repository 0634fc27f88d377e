"""The label tree: family -> language -> dialect, with an optional out-of-set class.

Models predict the leaves; every inner node's probability is the sum of its children's, so a
report can say "Arabic 92 % (Levantine 79 %, Gulf 13 %)".

>>> t = Taxonomy.from_tree({"arabic": {"levantine": [], "gulf": []}, "english": ["en-US"]})
>>> t.leaves
('levantine', 'gulf', 'en-US')
>>> t.totals({"levantine": 0.7, "gulf": 0.2, "en-US": 0.1})["arabic"]
0.9
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialectid.errors import ConfigError

OUT_OF_SET = "out_of_set"


@dataclass(frozen=True)
class Taxonomy:
    """`parents[node]` is the node's parent (None at the top); leaves in tree order."""

    parents: Mapping[str, str | None]
    leaves: tuple[str, ...]

    def __post_init__(self) -> None:
        """Only a tree whose leaves are its childless nodes: on a cycle `ancestors` would never end."""
        for node, parent in self.parents.items():
            if parent is not None and parent not in self.parents:
                raise ConfigError(f"taxonomy: {parent!r}, the parent of {node!r}, is not a node")
        _refuse_cycles(self.parents)
        _refuse_odd_leaves(self.parents, self.leaves)

    @classmethod
    def from_tree(cls, tree: Mapping[str, Any] | Sequence[str], out_of_set: bool = False) -> Taxonomy:
        """Build from nested mappings; a list holds leaves, an empty mapping or list makes its key a leaf."""
        parents: dict[str, str | None] = {}
        leaves: list[str] = []

        def visit(node: Any, parent: str | None) -> None:
            children = node.items() if isinstance(node, Mapping) else ((name, None) for name in node)
            for name, sub in children:
                name = str(name)
                if name in parents:
                    raise ConfigError(f"taxonomy: {name!r} appears twice; every node needs a unique name")
                parents[name] = parent
                if sub:
                    visit(sub, name)
                else:
                    leaves.append(name)

        if not isinstance(tree, Mapping | Sequence) or isinstance(tree, str):
            raise ConfigError("taxonomy.tree must be a mapping or a list of labels")
        visit(tree, None)
        if out_of_set:
            if OUT_OF_SET in parents:
                raise ConfigError(f"taxonomy: {OUT_OF_SET!r} is reserved for the out-of-set class")
            parents[OUT_OF_SET] = None
            leaves.append(OUT_OF_SET)
        return cls(dict(parents), tuple(leaves))

    def ancestors(self, node: str) -> list[str]:
        chain, parent = [], self.parents[node]
        while parent is not None:
            chain.append(parent)
            parent = self.parents[parent]
        return chain

    def totals(self, leaf_probabilities: Mapping[str, float]) -> dict[str, float]:
        """Probability of every node: leaves as given, inner nodes summed over their leaves."""
        totals = {node: 0.0 for node in self.parents}
        for leaf, p in leaf_probabilities.items():
            totals[leaf] += p
            for node in self.ancestors(leaf):
                totals[node] += p
        return {node: round(value, 12) for node, value in totals.items()}

    def top_level(self, leaf_probabilities: Mapping[str, float]) -> dict[str, float]:
        """Probabilities of the top-level nodes (families) only."""
        totals = self.totals(leaf_probabilities)
        return {node: totals[node] for node, parent in self.parents.items() if parent is None}

    def to_json(self) -> dict[str, Any]:
        return {"parents": dict(self.parents), "leaves": list(self.leaves)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Taxonomy:
        return cls(dict(data["parents"]), tuple(data["leaves"]))


def _refuse_cycles(parents: Mapping[str, str | None]) -> None:
    """Every chain of parents ends at a top-level node; each node is walked once."""
    settled: set[str] = set()
    for start in parents:
        chain: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in settled:
            if node in chain:
                loop = [*list(chain)[chain[node] :], node]
                shown = loop if len(loop) < 8 else [*loop[:3], f"... ({len(loop) - 4} more)", *loop[-1:]]
                raise ConfigError(f"taxonomy: {' -> '.join(shown)} is a cycle; every node needs a top-level ancestor")
            chain[node] = len(chain)
            node = parents[node]
        settled.update(chain)


def _refuse_odd_leaves(parents: Mapping[str, str | None], leaves: Sequence[str]) -> None:
    """The leaves are exactly the nodes without children, each once, at least two."""
    inner, listed = set(parents.values()), set()
    for leaf in leaves:
        if leaf not in parents:
            raise ConfigError(f"taxonomy: leaf {leaf!r} is not a node")
        if leaf in inner:
            raise ConfigError(f"taxonomy: leaf {leaf!r} has children")
        if leaf in listed:
            raise ConfigError(f"taxonomy: leaf {leaf!r} is listed twice")
        listed.add(leaf)
    if bare := [node for node in parents if node not in inner and node not in listed]:
        raise ConfigError(f"taxonomy: {bare[0]!r} has no children but is not a leaf")
    if len(leaves) < 2:
        raise ConfigError("taxonomy: at least two labels are needed")
