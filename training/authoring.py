"""A compact authoring format for annotated articles, compiled to documents with checked offsets.

One article per ``.ann`` file::

    id: inv-camau-001
    source: invented
    ---
    Đồng chí [[Nguyễn Văn An|PER p1]], [[Bí thư|TITLE t1]] [[Tỉnh ủy Cà Mau|ORG o1]] ...
    ---
    p1 HAS_TITLE t1
    t1 TITLE_OF o1

The header (``key: value`` lines) ends at the first ``---``; the body runs to the next line that is
exactly ``---``; each later non-blank line is one relation ``HEAD_ID RELATION TAIL_ID`` (``#`` starts
a comment). An entity is ``[[surface text|TYPE id]]``: TYPE is one of the scheme's types or its short
code (PER, TIT, ORG, RES, MET); the id is needed only by entities that take part in a relation.
The markup is removed and offsets are computed on the remaining text, so they are right by
construction; ``validate`` then checks every span and relation against the scheme.
"""

from __future__ import annotations

import re
from pathlib import Path

from training.documents import Document, Entity, Relation
from training.schema import RELATION_TYPES, TYPE_ALIASES

_SPAN = re.compile(r"\[\[([^\[\]|]+)\|([A-Za-z_]+)(?:\s+([\w.-]+))?\]\]")


class AuthoringError(ValueError):
    """A malformed article; the message names the file and line."""


def parse_article(source: str, name: str = "<article>") -> Document:
    lines = source.split("\n")
    try:
        header_end = lines.index("---")
        body_end = lines.index("---", header_end + 1)
    except ValueError:
        raise AuthoringError(f"{name}: needs a header, '---', the body, '---' and relations") from None
    meta = {}
    for line_no, line in enumerate(lines[:header_end], 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise AuthoringError(f"{name}:{line_no}: header line is not 'key: value': {line!r}")
        meta[key.strip()] = value.strip()
    doc_id = meta.pop("id", None) or Path(name).stem
    text, entities = _parse_body(lines[header_end + 1 : body_end], header_end + 2, name)
    relations = _parse_relations(lines[body_end + 1 :], body_end + 2, name, entities)
    return Document(doc_id, text, entities, relations, meta)


def _parse_body(lines: list[str], first_line_no: int, name: str) -> tuple[str, list[Entity]]:
    pieces: list[str] = []
    entities: list[Entity] = []
    seen_ids: set[str] = set()
    offset = 0
    for line_index, line in enumerate(lines):
        line_no = first_line_no + line_index
        if line_index:
            pieces.append("\n")
            offset += 1
        cursor = 0
        for match in _SPAN.finditer(line):
            plain = line[cursor : match.start()]
            _reject_stray_markup(plain, name, line_no)
            pieces.append(plain)
            offset += len(plain)
            surface, type_code, ent_id = match.groups()
            ent_type = TYPE_ALIASES.get(type_code.upper())
            if ent_type is None:
                raise AuthoringError(f"{name}:{line_no}: unknown entity type {type_code!r} on {surface!r}")
            ent_id = ent_id or f"_e{len(entities) + 1}"
            if ent_id in seen_ids:
                raise AuthoringError(f"{name}:{line_no}: entity id {ent_id!r} used twice")
            seen_ids.add(ent_id)
            entities.append(Entity(ent_id, ent_type, offset, offset + len(surface), surface))
            pieces.append(surface)
            offset += len(surface)
            cursor = match.end()
        rest = line[cursor:]
        _reject_stray_markup(rest, name, line_no)
        pieces.append(rest)
        offset += len(rest)
    return "".join(pieces).strip("\n"), _shift_for_leading_newlines(pieces, entities)


def _shift_for_leading_newlines(pieces: list[str], entities: list[Entity]) -> list[Entity]:
    lead = len("".join(pieces)) - len("".join(pieces).lstrip("\n"))
    if not lead:
        return entities
    return [Entity(e.id, e.type, e.start - lead, e.end - lead, e.text) for e in entities]


def _reject_stray_markup(plain: str, name: str, line_no: int) -> None:
    if "[[" in plain or "]]" in plain:
        raise AuthoringError(f"{name}:{line_no}: unbalanced or malformed [[...|TYPE id]] near {plain!r}")


def _parse_relations(lines: list[str], first_line_no: int, name: str, entities: list[Entity]) -> list[Relation]:
    ids = {e.id for e in entities}
    relations = []
    for index, raw in enumerate(lines):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line_no = first_line_no + index
        parts = line.split()
        if len(parts) != 3 or parts[1] not in RELATION_TYPES:
            raise AuthoringError(f"{name}:{line_no}: relation must be 'HEAD {'|'.join(RELATION_TYPES)} TAIL': {raw!r}")
        head, rel_type, tail = parts
        for arg in (head, tail):
            if arg not in ids:
                raise AuthoringError(f"{name}:{line_no}: relation names unknown entity id {arg!r}")
        relations.append(Relation(rel_type, head, tail, id=f"r{len(relations) + 1}"))
    return relations


def read_articles(folder: str | Path) -> list[Document]:
    paths = sorted(Path(folder).rglob("*.ann"))
    docs = [parse_article(p.read_text(encoding="utf-8"), str(p)) for p in paths]
    seen: dict[str, str] = {}
    for path, doc in zip(paths, docs):
        if doc.id in seen:
            raise AuthoringError(f"{path}: document id {doc.id!r} already used by {seen[doc.id]}")
        seen[doc.id] = str(path)
    return docs
