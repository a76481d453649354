"""The feature table: a ``datasets.DatasetDict`` of sentence windows with typed columns.

Built with ``map`` under an explicit fingerprint (data, segmenter, tokenizer, window size), so a
re-run with the same inputs reads the cache instead of segmenting again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from training.documents import Document, Entity, Relation
from training.features import AlignmentReport, WordEncoder, encode_document
from training.schema import BIO_LABELS, ENTITY_TYPES, RELATION_TYPES
from training.segment import get_segmenter

DOCUMENT_FEATURES = Features(
    {
        "id": Value("string"),
        "text": Value("string"),
        "entities": List(
            {
                "id": Value("string"),
                "type": Value("string"),
                "start": Value("int32"),
                "end": Value("int32"),
                "text": Value("string"),
            }
        ),
        "relations": List({"type": Value("string"), "head": Value("string"), "tail": Value("string")}),
    }
)

EXAMPLE_FEATURES = Features(
    {
        "doc_id": Value("string"),
        "sentence": Value("int32"),
        "word_offset": Value("int32"),
        "input_ids": List(Value("int32")),
        "word_starts": List(Value("int32")),
        "shapes": List(Value("int32")),
        "lexical": List(List(Value("int32"))),
        "tags": List(ClassLabel(names=list(BIO_LABELS))),
        "entities": List(
            {"start": Value("int32"), "end": Value("int32"), "type": ClassLabel(names=list(ENTITY_TYPES))}
        ),
        "relations": List(
            {"head": Value("int32"), "tail": Value("int32"), "type": ClassLabel(names=list(RELATION_TYPES))}
        ),
    }
)


def _documents_table(documents: list[Document]) -> Dataset:
    rows = {
        "id": [d.id for d in documents],
        "text": [d.text for d in documents],
        "entities": [
            [{k: getattr(e, k) for k in ("id", "type", "start", "end", "text")} for e in d.entities] for d in documents
        ],
        "relations": [[{"type": r.type, "head": r.head, "tail": r.tail} for r in d.relations] for d in documents],
    }
    return Dataset.from_dict(rows, features=DOCUMENT_FEATURES)


def _row_to_document(row: dict) -> Document:
    entities = [Entity(e["id"], e["type"], e["start"], e["end"], e["text"]) for e in row["entities"]]
    relations = [Relation(r["type"], r["head"], r["tail"]) for r in row["relations"]]
    return Document(row["id"], row["text"], entities, relations)


def tokenizer_fingerprint(tokenizer) -> str:
    vocab = tokenizer.get_vocab()
    return hashlib.sha256(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode()).hexdigest()[:16]


def build_features(
    splits: dict[str, list[Document]],
    tokenizer,
    segmenter_name: str,
    max_length: int = 256,
    cache_dir: str | Path | None = None,
) -> tuple[DatasetDict, AlignmentReport]:
    """Encode every split; the report counts spans that miss word boundaries after segmentation."""
    segmenter = get_segmenter(segmenter_name)
    encoder = WordEncoder(tokenizer, max_length)
    report = AlignmentReport()
    settings = f"{segmenter_name}|{tokenizer_fingerprint(tokenizer)}|{max_length}|v2"

    def encode_batch(batch: dict) -> dict:
        out: dict[str, list] = {name: [] for name in EXAMPLE_FEATURES}
        for i in range(len(batch["id"])):
            doc = _row_to_document({k: batch[k][i] for k in batch})
            for example in encode_document(doc, segmenter, encoder, split_report):
                for name in out:
                    out[name].append(example[name])
        return out

    result = {}
    for split, documents in splits.items():
        split_report = AlignmentReport()
        table = _documents_table(documents)
        fingerprint = hashlib.sha256((table._fingerprint + settings).encode()).hexdigest()[:32]
        cache_file = None
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            cache_file = str(Path(cache_dir) / f"{split}-{fingerprint}.arrow")
        result[split] = table.map(
            encode_batch,
            batched=True,
            batch_size=16,
            remove_columns=table.column_names,
            features=EXAMPLE_FEATURES,
            new_fingerprint=fingerprint,
            cache_file_name=cache_file,
            load_from_cache_file=cache_file is not None,
            desc=f"segmenting {split}",
        )
        _keep_alignment_report(split_report, cache_file)
        report.counts.update(split_report.counts)
        report.misaligned.extend(split_report.misaligned)
    return DatasetDict(result), report


def _keep_alignment_report(report: AlignmentReport, cache_file: str | None) -> None:
    """A cache hit skips encoding, so the report is stored beside the cache and read back then."""
    if cache_file is None:
        return
    sidecar = Path(cache_file).with_suffix(".alignment.json")
    if report.counts:
        sidecar.write_text(json.dumps({"counts": report.counts, "misaligned": report.misaligned}, ensure_ascii=False))
    elif sidecar.exists():
        saved = json.loads(sidecar.read_text(encoding="utf-8"))
        report.counts.update(saved["counts"])
        report.misaligned.extend(saved["misaligned"])
