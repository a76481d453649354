"""Command line: ``python -m training <command>``; the Makefile targets call these."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.data import DataError, load_documents
from training.stats import consistency_lint, corpus_stats, format_stats


def _print_report(result, limit: int | None = None) -> None:
    problems = result.report.problems
    for problem in problems[:limit]:
        print(problem)
    if limit is not None and len(problems) > limit:
        print(f"... {len(problems) - limit} more problem(s)")
    errors = len(result.report.errors)
    print(f"\n{len(result.documents)} document(s) kept; {errors} error(s), {len(problems) - errors} warning(s)")
    for key, n in sorted((result.report.excluded + result.counts).items()):
        print(f"  {key}: {n}")


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        result = load_documents(args.data, strict=args.strict, source=args.source)
    except DataError as exc:
        print(exc)
        return 1
    _print_report(result)
    print(format_stats(corpus_stats(result.documents)))
    return 1 if result.report.errors else 0


def provinces_mentioned(documents, gazetteer: str) -> str:
    """How many provinces of a gazetteer TSV (code, name, kind) the texts name, with or without 'Tỉnh'."""
    import csv
    import re

    with open(gazetteer, encoding="utf-8") as fh:
        names = [re.sub(r"^(Thành phố|Tỉnh) ", "", row[1]) for row in csv.reader(fh, delimiter="\t") if len(row) > 1]
    text = "\n".join(d.text for d in documents)
    found = [n for n in names if n in text]
    return f"provinces and cities named: {len(found)} of {len(names)}"


def cmd_stats(args: argparse.Namespace) -> int:
    result = load_documents(args.data, source=args.source)
    stats = corpus_stats(result.documents)
    print(format_stats(stats))
    allowed = set()
    if args.allow and Path(args.allow).exists():
        allowed = {
            line.split("\t")[0]
            for line in Path(args.allow).read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")
        }
    if args.gazetteer:
        print(provinces_mentioned(result.documents, args.gazetteer))
    conflicts = consistency_lint(result.documents, allowed)
    print(
        f"\nconsistency lint: {len(conflicts)} surface(s) annotated inconsistently"
        f" ({len(allowed)} explained in {args.allow})"
    )
    for conflict in conflicts:
        print("  " + str(conflict).replace("\n", "\n  "))
    if args.json:
        Path(args.json).write_text(json.dumps(stats | {"lint_conflicts": len(conflicts)}, ensure_ascii=False, indent=2))
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    """Compile the .ann sources into one Label Studio export and record the held-out split."""
    from training.authoring import read_articles
    from training.labelstudio import documents_to_tasks
    from training.splits import assign_splits

    documents = []
    for folder in args.sources:
        documents.extend(read_articles(folder))
    tasks = documents_to_tasks(documents)
    Path(args.out).write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    splits_path = Path(args.splits)
    recorded = json.loads(splits_path.read_text(encoding="utf-8")) if splits_path.exists() else {}
    known = {doc_id: split for split, ids in recorded.items() for doc_id in ids}
    fresh = assign_splits([d.id for d in documents if d.id not in known])
    merged = {**fresh, **known}
    current = {d.id for d in documents}
    splits = {
        name: sorted(i for i, s in merged.items() if s == name and i in current) for name in ("train", "dev", "test")
    }
    splits_path.write_text(json.dumps(splits, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(tasks)} documents → {args.out}; split " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check an export/documents against the scheme")
    validate.add_argument("data")
    validate.add_argument("--strict", action="store_true", help="fail on any problem, warnings included")
    validate.add_argument("--source", default="annotations", choices=("annotations", "predictions"))
    validate.set_defaults(func=cmd_validate)
    stats = sub.add_parser("stats", help="corpus statistics and consistency lint")
    stats.add_argument("data")
    stats.add_argument("--source", default="annotations", choices=("annotations", "predictions"))
    stats.add_argument("--allow", default="annotations/lint-allow.tsv", help="surfaces whose conflicts are explained")
    stats.add_argument("--json", help="also write the statistics here")
    stats.add_argument("--gazetteer", help="provinces TSV (code, name, kind): count the provinces the texts name")
    stats.set_defaults(func=cmd_stats)
    corpus = sub.add_parser("corpus", help="compile .ann articles into a Label Studio export + splits")
    corpus.add_argument("sources", nargs="+", help="folders of .ann files")
    corpus.add_argument("--out", default="annotations/corpus.ls.json")
    corpus.add_argument("--splits", default="annotations/splits.json")
    corpus.set_defaults(func=cmd_corpus)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
