"""The canonical document: text, entities with character offsets, directed relations; JSONL I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Entity:
    id: str
    type: str
    start: int
    end: int
    text: str
    score: float | None = None


@dataclass(frozen=True)
class Relation:
    type: str
    head: str
    tail: str
    id: str = ""
    score: float | None = None


@dataclass
class Document:
    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def entity(self, entity_id: str) -> Entity:
        for ent in self.entities:
            if ent.id == entity_id:
                return ent
        raise KeyError(f"document {self.id!r} has no entity {entity_id!r}")

    def to_dict(self) -> dict:
        def clean(d: dict) -> dict:
            return {k: v for k, v in d.items() if v is not None}

        return {
            "id": self.id,
            "text": self.text,
            "entities": [clean(asdict(e)) for e in self.entities],
            "relations": [clean(asdict(r)) for r in self.relations],
            **({"meta": self.meta} if self.meta else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        if "id" not in data or "text" not in data:
            raise ValueError(f"document record needs 'id' and 'text', got keys {sorted(data)}")
        entities = [Entity(**e) for e in data.get("entities", [])]
        relations = [Relation(**r) for r in data.get("relations", [])]
        return cls(str(data["id"]), data["text"], entities, relations, dict(data.get("meta", {})))


def write_jsonl(documents: Iterable[Document], path: str | Path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for doc in documents:
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> Iterator[Document]:
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield Document.from_dict(json.loads(line))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{line_no}: not a document record: {exc}") from exc
