"""Input records for the batch jobs: ``{"id", "text"}`` JSONL lines, or a folder of ``.txt`` files.

Reading never stops at a bad record: each one comes out as a ``Problem`` naming its line (or file),
so the job can log it and go on. Ids must be unique; a repeated id is a problem on its later line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from serve.contract import InputError, parse_input
from training.documents import Document


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line in the JSONL file, or the position of the file in a folder
    error: str
    source: str  # the file
    raw: str = ""  # the start of the offending line, to find it again

    def to_dict(self) -> dict:
        return {"line": self.line, "source": self.source, "error": self.error, "raw": self.raw}


def read_inputs(path: str | Path) -> Iterator[Document | Problem]:
    path = Path(path)
    seen: set[str] = set()
    items = _folder(path) if path.is_dir() else _jsonl(path)
    for item in items:
        if isinstance(item, Document):
            if item.id in seen:
                item = Problem(item.meta["line"], f"duplicate id {item.id!r}", item.meta["source"])
            else:
                seen.add(item.id)
                item.meta.clear()
        yield item


def count_inputs(path: str | Path) -> int:
    """Non-empty lines or .txt files: the progress bar's total (malformed ones included)."""
    path = Path(path)
    if path.is_dir():
        return sum(1 for _ in path.rglob("*.txt"))
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _jsonl(path: Path) -> Iterator[Document | Problem]:
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = parse_input(json.loads(line))
                doc.text.encode("utf-8")  # a lone surrogate (bad UTF-8 in the file) cannot be output
            except (json.JSONDecodeError, InputError, UnicodeEncodeError) as exc:
                raw = line[:200].encode("utf-8", "replace").decode("utf-8")
                yield Problem(line_no, f"{type(exc).__name__}: {exc}", str(path), raw)
                continue
            doc.meta.update(line=line_no, source=str(path))
            yield doc


def _folder(path: Path) -> Iterator[Document | Problem]:
    for index, file in enumerate(sorted(path.rglob("*.txt")), 1):
        doc_id = file.relative_to(path).with_suffix("").as_posix()
        try:
            # newline="" keeps "\r\n" as it is: offsets index the text exactly as stored.
            with open(file, encoding="utf-8", newline="") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            yield Problem(index, f"{type(exc).__name__}: {exc}", str(file))
            continue
        yield Document(doc_id, text, meta={"line": index, "source": str(file)})
