"""One entry point from any annotation source to validated documents.

Accepts a Label Studio JSON export (``.json``), canonical documents (``.jsonl``), an authoring
article (``.ann``) or a folder of any of these. Every problem is reported; in the default mode what a
problem points at is excluded and counted, the rest kept; ``strict`` raises instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from training.authoring import parse_article, read_articles
from training.documents import Document, read_jsonl
from training.labelstudio import read_export, tasks_to_documents
from training.validation import Problem, Report, exclude, validate


class DataError(ValueError):
    """Raised in strict mode; the message lists every problem."""


@dataclass
class LoadResult:
    documents: list[Document]
    report: Report
    counts: Counter = field(default_factory=Counter)


def _read_raw(path: Path, source: str) -> tuple[list[Document], list[Problem], Counter]:
    if path.is_dir():
        docs, problems, counts = [], [], Counter()
        if any(path.rglob("*.ann")):
            # Authoring sources present: the .json next to them are compiled copies (corpus.ls.json)
            # or bookkeeping (splits.json); reading both would count every document twice.
            docs.extend(read_articles(path))
            counts["json_files_skipped_as_compiled"] = sum(1 for p in path.rglob("*.json*"))
            return docs, problems, counts
        for child in sorted(path.rglob("*")):
            if child.suffix in (".json", ".jsonl"):
                d, p, c = _read_raw(child, source)
                docs.extend(d)
                problems.extend(p)
                counts.update(c)
        return docs, problems, counts
    if path.suffix == ".json":
        conversion = tasks_to_documents(read_export(path), source=source)
        return conversion.documents, conversion.problems, conversion.counts
    if path.suffix == ".jsonl":
        return list(read_jsonl(path)), [], Counter()
    if path.suffix == ".ann":
        return [parse_article(path.read_text(encoding="utf-8"), str(path))], [], Counter()
    raise ValueError(f"{path}: expected a .json export, .jsonl documents, .ann article or a folder")


def load_documents(path: str | Path, strict: bool = False, source: str = "annotations") -> LoadResult:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    raw, problems, counts = _read_raw(path, source)
    report = Report(problems=list(problems))
    kept = []
    seen: dict[str, int] = {}
    for doc in raw:
        if doc.id in seen:
            report.problems.append(
                Problem(doc.id, None, "duplicate_document", "document id appears twice; second copy skipped")
            )
            report.excluded["documents"] += 1
            continue
        seen[doc.id] = 1
        doc_report = validate(doc)
        report.problems.extend(doc_report.problems)
        clean, removed = exclude(doc, doc_report)
        report.excluded.update(removed)
        kept.append(clean)
    if strict and report.problems:
        raise DataError(f"{len(report.problems)} problem(s) in {path}:\n" + "\n".join(map(str, report.problems)))
    counts["documents"] = len(kept)
    return LoadResult(kept, report, counts)
