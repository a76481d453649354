"""The output contract: one JSON object per document, the same from every front end.

    {"id", "text", "model_version",
     "entities":  [{"id": "T1", "type", "start", "end", "text", "score"}],
     "relations": [{"id": "R1", "type", "head": "T1", "tail": "T2", "score"}]}

Offsets are Python ``str`` indices (code points, end exclusive), so ``text[start:end] == entity
text``. Entity and relation ids are numbered per document, so a record stands on its own.
"""

from __future__ import annotations

from typing import TypedDict

from training.documents import Document


class EntityRecord(TypedDict):
    id: str
    type: str
    start: int
    end: int
    text: str
    score: float


class RelationRecord(TypedDict):
    id: str
    type: str
    head: str
    tail: str
    score: float


class DocumentRecord(TypedDict):
    id: str
    text: str
    model_version: str
    entities: list[EntityRecord]
    relations: list[RelationRecord]


class InputError(ValueError):
    """An input record that is not ``{"id": ..., "text": "..."}``."""


def to_record(doc: Document, model_version: str) -> DocumentRecord:
    # Built field by field (not dataclasses.asdict) so the key order and the key set are the
    # contract's, whatever fields Entity/Relation grow later.
    return {
        "id": doc.id,
        "text": doc.text,
        "model_version": model_version,
        "entities": [
            {"id": e.id, "type": e.type, "start": e.start, "end": e.end, "text": e.text, "score": e.score}
            for e in doc.entities
        ],
        "relations": [
            {"id": r.id, "type": r.type, "head": r.head, "tail": r.tail, "score": r.score} for r in doc.relations
        ],
    }


def to_document(record: DocumentRecord) -> Document:
    """A record back to a ``Document`` (e.g. for the Label Studio region converter)."""
    return Document.from_dict({k: v for k, v in record.items() if k != "model_version"})


def parse_input(record: object) -> Document:
    """``{"id", "text"}`` → Document; ids may be strings or integers (kept as their string form)."""
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {type(record).__name__}")
    if "id" not in record:
        raise InputError('record has no "id"')
    doc_id = record["id"]
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or str(doc_id) == "":
        raise InputError(f'"id" must be a non-empty string or an integer, got {doc_id!r}')
    if not isinstance(record.get("text"), str):
        raise InputError('record has no string "text"')
    return Document(str(doc_id), record["text"])
