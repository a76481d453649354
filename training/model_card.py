"""Writes a Hugging Face model card (README.md with model-index metrics) into a checkpoint."""

from __future__ import annotations

from pathlib import Path

from training.checkpoint import Settings
from training.schema import ENTITY_TYPES, RELATION_TYPES

TEMPLATE = Path(__file__).resolve().parent.parent / "model_cards" / "TEMPLATE.md"


def _model_index(results: dict, split: str) -> str:
    lines = []
    for task, key in (("token-classification", "entities"), ("relation-extraction", "relations")):
        lines += [
            f"  - task: {{type: {task}}}",
            f"    dataset: {{name: annotations ({split} split), type: vn-party-news}}",
            "    metrics:",
        ]
        for kind, s in results[key].items():
            lines.append(f"    - {{type: f1, name: {kind} strict F1, value: {s['f1']}}}")
    return "\n".join(lines)


def _results_table(results: dict) -> str:
    rows = ["| kind | type | precision | recall | F1 | support |", "|---|---|---|---|---|---|"]
    for key, types in (("entities", ENTITY_TYPES), ("relations", RELATION_TYPES)):
        for kind in ("micro", *types):
            s = results[key][kind]
            rows.append(
                f"| {key} | {kind} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']} |"
            )
    if "relations_gold_entities" in results:
        s = results["relations_gold_entities"]["micro"]
        rows.append(
            f"| relations (gold entities) | micro | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | |"
        )
    return "\n".join(rows)


def _data_table(data: dict) -> str:
    rows = ["| split | documents | entities | relations |", "|---|---|---|---|"]
    for split, s in data.items():
        rows.append(f"| {split} | {s['documents']} | {s['entities']} | {s['relations']} |")
    return "\n".join(rows)


def write_model_card(out_dir: Path, settings: Settings, report: dict) -> Path:
    split = next(name for name in ("test", "dev", "train") if name in report)
    results = report[split]
    text = TEMPLATE.read_text(encoding="utf-8").format(
        license="mit" if "MIT" in settings.base_model_license.upper() else "other",
        base_model=settings.base_model,
        base_model_line="" if settings.base_model == "scratch" else f"base_model: {settings.base_model}\n",
        base_license=settings.base_model_license or "unknown",
        model_version=settings.model_version,
        model_index=_model_index(results, split),
        segmenter=settings.segmenter,
        max_length=settings.max_length,
        crf=" with a CRF" if settings.head.use_crf else "",
        eval_split=split,
        results_table=_results_table(results),
        data_table=_data_table(report.get("data", {})),
    )
    path = Path(out_dir) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
