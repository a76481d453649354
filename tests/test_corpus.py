"""The committed corpus: its Label Studio export is compiled from the .ann sources and passes --strict."""

from __future__ import annotations

import json
from pathlib import Path

from training.authoring import read_articles
from training.data import load_documents
from training.labelstudio import documents_to_tasks

ROOT = Path(__file__).resolve().parent.parent / "annotations"


def test_export_is_compiled_from_the_current_sources():
    documents = read_articles(ROOT / "seeds") + read_articles(ROOT / "articles")
    committed = json.loads((ROOT / "corpus.ls.json").read_text(encoding="utf-8"))
    assert committed == documents_to_tasks(documents), "run `make corpus` and commit annotations/corpus.ls.json"


def test_corpus_validates_strictly_and_every_document_has_a_split():
    result = load_documents(ROOT / "corpus.ls.json", strict=True)
    splits = json.loads((ROOT / "splits.json").read_text(encoding="utf-8"))
    recorded = {doc_id for ids in splits.values() for doc_id in ids}
    assert {d.id for d in result.documents} == recorded
    assert len(splits["dev"]) >= 10 and len(splits["test"]) >= 10
