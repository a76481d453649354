"""The label inventory of ../shared/annotation-scheme.md, in one place."""

from __future__ import annotations

ENTITY_TYPES: tuple[str, ...] = ("PERSON", "TITLE", "ORG", "RESOLUTION", "METRIC")
RELATION_TYPES: tuple[str, ...] = ("HAS_TITLE", "TITLE_OF", "ISSUED_BY", "METRIC_OF")

# (head type, tail type) each relation allows; the relation head only scores these pairs.
RELATION_ARGUMENTS: dict[str, tuple[str, str]] = {
    "HAS_TITLE": ("PERSON", "TITLE"),
    "TITLE_OF": ("TITLE", "ORG"),
    "ISSUED_BY": ("RESOLUTION", "ORG"),
    "METRIC_OF": ("METRIC", "ORG"),
}

ARGUMENT_PAIRS: dict[tuple[str, str], str] = {pair: rel for rel, pair in RELATION_ARGUMENTS.items()}

BIO_LABELS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
RELATION_LABELS: tuple[str, ...] = ("NONE",) + RELATION_TYPES

# Short codes accepted by the authoring format.
TYPE_ALIASES: dict[str, str] = {
    "PER": "PERSON",
    "TIT": "TITLE",
    "RES": "RESOLUTION",
    "MET": "METRIC",
    **{t: t for t in ENTITY_TYPES},
}


def relation_for(head_type: str, tail_type: str) -> str | None:
    """The only relation type a (head, tail) type pair may carry, or None."""
    return ARGUMENT_PAIRS.get((head_type, tail_type))
