"""``python -m training.evaluate MODEL DATA``: every score the project reports, plus an error list.

DATA is a Label Studio export, documents JSONL, .ann files or a folder. With ``--folds K`` (and a
training config instead of MODEL) it runs K-fold cross-validation and reports mean ± std.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from training.data import load_documents
from training.documents import Document
from training.features import AlignmentReport, SentenceWords, bio_tags, entity_word_spans
from training.metrics import (
    confusion,
    entity_scores,
    entity_tuples,
    format_confusion,
    format_scores,
    relation_scores,
    relation_tuples,
)
from training.predict import Predictor
from training.schema import BIO_LABELS


def seqeval_report(gold: list[Document], predicted: list[Document], sentences: list[list[SentenceWords]]) -> dict:
    """IOB2 strict entity scores on the model's own word segmentation of each document."""
    y_true, y_pred = [], []
    for g, p, doc_sentences in zip(gold, predicted, sentences, strict=True):
        for sentence in doc_sentences:
            n = len(sentence.words)
            for doc, out in ((g, y_true), (p, y_pred)):
                spans, _ = entity_word_spans(doc, sentence, AlignmentReport())
                out.append([BIO_LABELS[t] for t in bio_tags(n, spans)])
    report = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    return {kind: {k: round(float(v), 4) for k, v in scores.items()} for kind, scores in report.items()}


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    return (text[max(0, start - width) : start] + "[" + text[start:end] + "]" + text[end : end + width]).replace(
        "\n", " "
    )


def error_lines(gold: list[Document], predicted: list[Document]) -> list[str]:
    texts = {d.id: d.text for d in gold}
    lines = []
    g, p = entity_tuples(gold), entity_tuples(predicted)
    for tag, items in (("MISSED", g - p), ("SPURIOUS", p - g)):
        for doc_id, s, e, kind in sorted(items):
            lines.append(f"{tag}\tentity\t{doc_id}\t{s}-{e}\t{kind}\t{_context(texts[doc_id], s, e)}")
    g, p = relation_tuples(gold), relation_tuples(predicted)
    for tag, items in (("MISSED", g - p), ("SPURIOUS", p - g)):
        for doc_id, hs, he, ht, ts, te, tt, rel in sorted(items):
            text = texts[doc_id]
            lines.append(f"{tag}\trelation\t{doc_id}\t{rel}\t{ht} {text[hs:he]!r} -> {tt} {text[ts:te]!r}")
    return lines


def evaluate(model_dir: str, data: str, out_dir: str | None = None, batch_size: int = 32) -> dict:
    predictor = Predictor.from_pretrained(model_dir)
    gold = load_documents(data).documents
    sentences = predictor.segment([d.text for d in gold])  # segmented once for every score below
    predicted = predictor.predict(gold, batch_size=batch_size, sentences=sentences)
    with_gold = predictor.predict(gold, batch_size=batch_size, sentences=sentences, gold_entities=True)
    report = {
        "model": model_dir,
        "data": data,
        "documents": len(gold),
        "entities": entity_scores(gold, predicted),
        "relations": relation_scores(gold, predicted),
        "relations_gold_entities": relation_scores(gold, with_gold),
        "seqeval": seqeval_report(gold, predicted, sentences),
        "confusion": {k: dict(v) for k, v in confusion(gold, predicted).items()},
    }
    print(format_scores(report["entities"], "entities, strict character spans"))
    print(format_scores(report["relations"], "relations, end to end (predicted entities)"))
    print(format_scores(report["relations_gold_entities"], "relations, given gold entities"))
    print("seqeval (IOB2, strict, on segmented words)")
    for kind, s in report["seqeval"].items():
        print(f"  {kind:<12} P {s['precision']:.4f} R {s['recall']:.4f} F1 {s['f1-score']:.4f} n {s['support']}")
    print("confusion (same span)")
    print(format_confusion(confusion(gold, predicted)))
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        errors = error_lines(gold, predicted)
        (out / "errors.tsv").write_text("\n".join(errors) + "\n", encoding="utf-8")
        from training.documents import write_jsonl

        write_jsonl(predicted, out / "predictions.jsonl")
        print(f"wrote {out}/metrics.json, {out}/errors.tsv ({len(errors)} errors), {out}/predictions.jsonl")
    return report


def cross_validate(config_path: str, data: str, folds: int, overrides: list[str], out_dir: str) -> dict:
    """Train K models, each holding out one fold (by stable hash of the document id)."""
    from training.config import load_config
    from training.splits import fold_of
    from training.train import train

    docs = load_documents(data).documents
    results = []
    for k in range(folds):
        held = [d.id for d in docs if fold_of(d.id, folds) == k]
        splits_file = Path(out_dir) / f"fold{k}" / "splits.json"
        splits_file.parent.mkdir(parents=True, exist_ok=True)
        splits_file.write_text(json.dumps({"test": held}))  # dev for early stopping comes from the other folds
        config = load_config(
            config_path,
            [
                *overrides,
                f"data.train={data}",
                f"data.splits_file={splits_file}",
                f"training.output_dir={splits_file.parent}",
            ],
        )
        config.data.test_fraction = 0.0
        summary = train(config)
        results.append(summary["test"])
        print(
            f"fold {k}: entity F1 {summary['test']['entities']['micro']['f1']:.4f}"
            f" relation F1 {summary['test']['relations']['micro']['f1']:.4f}"
        )
    table = {}
    for key in ("entities", "relations"):
        for kind in results[0][key]:
            values = [r[key][kind]["f1"] for r in results]
            table[f"{key}/{kind}"] = {
                "mean": round(statistics.mean(values), 4),
                "std": round(statistics.pstdev(values), 4),
            }
    for name, s in table.items():
        print(f"{name:<24} F1 {s['mean']:.4f} ± {s['std']:.4f}")
    Path(out_dir, "crossval.json").write_text(json.dumps({"folds": folds, "f1": table}, indent=2))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate")
    parser.add_argument("model", help="checkpoint directory, or a training config with --folds")
    parser.add_argument("data", help="export .json, documents .jsonl, .ann or folder")
    parser.add_argument("--out", help="write metrics.json, errors.tsv and predictions.jsonl here")
    parser.add_argument("--folds", type=int, default=0, help="K-fold cross-validation (MODEL is then a config)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("overrides", nargs="*", help="config overrides for --folds, key=value")
    args = parser.parse_intermixed_args(argv)
    if args.folds:
        cross_validate(args.model, args.data, args.folds, args.overrides, args.out or "runs/crossval")
    else:
        evaluate(args.model, args.data, args.out, args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
