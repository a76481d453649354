"""Label Studio JSON exports ↔ documents.

Reads exports as Label Studio really writes them: the JSON export list (sync or snapshot), tasks
with several annotations (ground truth first, cancelled ones skipped), predictions given as full
objects or as bare ids, relations with direction right/left/bi, and offsets that the browser counted
in UTF-16 units when the text holds characters outside the BMP.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from training.documents import Document, Entity, Relation
from training.schema import RELATION_ARGUMENTS
from training.validation import ERROR, WARNING, Problem

FROM_NAME = "label"
TO_NAME = "text"


@dataclass
class Conversion:
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def read_export(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, dict) and "tasks" in data:
        data = data["tasks"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: a Label Studio JSON export is a list of tasks, got {type(data).__name__}")
    return data


def tasks_to_documents(tasks: list[dict], source: str = "annotations") -> Conversion:
    """Convert tasks; ``source`` picks human ``annotations`` or model ``predictions``."""
    out = Conversion()
    seen_ids: set[str] = set()
    for index, task in enumerate(tasks):
        task_ref = str(task.get("id", f"#{index}")) if isinstance(task, dict) else f"#{index}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            out.problems.append(Problem(task_ref, None, "bad_task", "task is not an object with 'data'"))
            continue
        text = _task_text(task["data"])
        doc_id = str(task["data"].get("doc_id", task.get("id", f"#{index}")))
        if text is None:
            out.problems.append(Problem(doc_id, None, "bad_task", "task data has no text"))
            continue
        if doc_id in seen_ids:
            out.problems.append(Problem(doc_id, None, "duplicate_task", "two tasks share this document id"))
            continue
        seen_ids.add(doc_id)
        chosen = _choose(task, source, doc_id, out)
        if chosen is None:
            continue
        out.counts["tasks"] += 1
        meta = {k: v for k, v in task["data"].items() if k not in ("text", "doc_id")}
        out.documents.append(_result_to_document(doc_id, text, chosen.get("result") or [], meta, out))
    return out


def _task_text(data: dict) -> str | None:
    if isinstance(data.get(TO_NAME), str):
        return data[TO_NAME]
    strings = [v for k, v in data.items() if k != "doc_id" and isinstance(v, str)]
    return strings[0] if len(strings) == 1 else None


def _choose(task: dict, source: str, doc_id: str, out: Conversion) -> dict | None:
    items = task.get(source) or []
    full = [a for a in items if isinstance(a, dict)]
    if len(full) < len(items):
        out.counts[f"{source}_given_as_ids"] += len(items) - len(full)
    live = [a for a in full if not a.get("was_cancelled")]
    out.counts[f"cancelled_{source}"] += len(full) - len(live)
    if not live:
        out.counts[f"tasks_without_{source}"] += 1
        out.problems.append(Problem(doc_id, None, f"no_{source}", f"task has no usable {source}; skipped", WARNING))
        return None
    if len(live) > 1:
        out.counts[f"tasks_with_several_{source}"] += 1
    ground_truth = [a for a in live if a.get("ground_truth")]
    pool = ground_truth or live
    return max(pool, key=_recency)


def _recency(item: dict) -> tuple:
    """Sort key: time first, id on ties. Times are parsed, not compared as strings: the server omits
    ".000000" when the microseconds are zero, and "…:00Z" sorts after "…:00.5Z" as text; ids are
    compared as numbers so 10 comes after 9."""
    stamp = item.get("updated_at") or item.get("created_at")
    try:
        when = datetime.fromisoformat(str(stamp)).timestamp() if stamp else float("-inf")
    except ValueError:
        when = float("-inf")
    item_id = item.get("id")
    return (when, isinstance(item_id, int), item_id if isinstance(item_id, int) else str(item_id))


def _result_to_document(doc_id: str, text: str, result: list[dict], meta: dict, out: Conversion) -> Document:
    entities: list[Entity] = []
    raw_relations = []
    needs_utf16 = any(ord(ch) > 0xFFFF for ch in text)
    for region in result:
        kind = region.get("type")
        if kind == "relation":
            raw_relations.append(region)
        elif kind == "labels" or "labels" in region.get("value", {}):
            ent = _region_to_entity(doc_id, text, region, needs_utf16, out)
            if ent is not None:
                entities.append(ent)
        else:
            out.counts[f"ignored_result_type_{kind}"] += 1
    by_id = {e.id: e for e in entities}
    relations = []
    for region in raw_relations:
        relations.extend(_region_to_relations(doc_id, region, by_id, len(relations), out))
    return Document(doc_id, text, entities, relations, meta)


def _region_to_entity(doc_id: str, text: str, region: dict, needs_utf16: bool, out: Conversion) -> Entity | None:
    value = region.get("value", {})
    region_id = str(region.get("id", ""))
    labels = value.get("labels") or []
    if len(labels) != 1:
        out.problems.append(
            Problem(doc_id, region_id, "label_count", f"region has {len(labels)} labels {labels}; needs one")
        )
        return None
    try:
        start, end = int(value["start"]), int(value["end"])
    except (KeyError, TypeError, ValueError):
        out.problems.append(Problem(doc_id, region_id, "bad_offsets", f"region has no integer start/end: {value}"))
        return None
    stored = value.get("text")
    if needs_utf16 and stored is not None and text[start:end] != stored:
        cp_start, cp_end = utf16_to_codepoint(text, start), utf16_to_codepoint(text, end)
        if text[cp_start:cp_end] == stored:
            out.counts["regions_converted_from_utf16"] += 1
            start, end = cp_start, cp_end
    return Entity(
        region_id, labels[0], start, end, stored if stored is not None else text[start:end], region.get("score")
    )


def _region_to_relations(
    doc_id: str, region: dict, by_id: dict[str, Entity], n: int, out: Conversion
) -> list[Relation]:
    head, tail = str(region.get("from_id")), str(region.get("to_id"))
    labels = region.get("labels") or []
    direction = region.get("direction", "right")
    if not labels:
        out.problems.append(Problem(doc_id, head, "relation_unlabelled", f"relation {head}->{tail} has no label"))
        return []
    if direction == "left":
        head, tail = tail, head
    elif direction == "bi" and head in by_id and tail in by_id:
        # A bi-directional arrow carries no order; the scheme's argument types give it one.
        wanted = RELATION_ARGUMENTS.get(labels[0])
        if wanted and (by_id[tail].type, by_id[head].type) == wanted:
            head, tail = tail, head
    elif direction not in ("right", "bi"):
        out.problems.append(Problem(doc_id, head, "relation_direction", f"unknown direction {direction!r}"))
        return []
    score = region.get("score")
    return [Relation(label, head, tail, id=f"R{n + i + 1}", score=score) for i, label in enumerate(labels)]


def utf16_to_codepoint(text: str, utf16_offset: int) -> int:
    units = 0
    for index, ch in enumerate(text):
        if units >= utf16_offset:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def documents_to_tasks(
    documents: list[Document], as_predictions: bool = False, model_version: str = "", first_task_id: int = 1
) -> list[dict]:
    """Tasks in export form; ``as_predictions`` puts the spans under ``predictions`` for pre-annotation."""
    tasks = []
    for offset, doc in enumerate(documents):
        result = [document_region(e) for e in doc.entities] + [
            {"type": "relation", "from_id": r.head, "to_id": r.tail, "direction": "right", "labels": [r.type]}
            | ({"score": r.score} if r.score is not None else {})
            for r in doc.relations
        ]
        task = {"id": first_task_id + offset, "data": {"text": doc.text, "doc_id": doc.id, **doc.meta}}
        if as_predictions:
            scores = [e.score for e in doc.entities if e.score is not None]
            task["predictions"] = [
                {"model_version": model_version, "score": min(scores) if scores else None, "result": result}
            ]
        else:
            task["annotations"] = [{"id": first_task_id + offset, "result": result, "was_cancelled": False}]
        tasks.append(task)
    return tasks


def document_region(entity: Entity) -> dict:
    region = {
        "id": entity.id,
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "type": "labels",
        "value": {"start": entity.start, "end": entity.end, "text": entity.text, "labels": [entity.type]},
    }
    if entity.score is not None:
        region["score"] = entity.score
    return region


__all__ = ["Conversion", "read_export", "tasks_to_documents", "documents_to_tasks", "utf16_to_codepoint", "ERROR"]
