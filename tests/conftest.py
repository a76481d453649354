"""Shared fixtures: a handful of invented articles and a tiny model trained on them (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.authoring import parse_article

ARTICLES = [
    """id: tiny-1
---
Sáng 5/3, đồng chí [[Lê Văn Tám|PER p1]], [[Bí thư|TITLE t1]] [[Tỉnh ủy Cà Mau|ORG o1]] làm việc với [[Ban Thường vụ Huyện ủy Năm Căn|ORG o2]].
[[Huyện ủy|ORG o3]] đã kết nạp [[152 đảng viên|MET m1]], đạt [[104%|MET m2]] kế hoạch.
[[Tỉnh ủy|ORG o4]] ban hành [[Kế hoạch số 79-KH/TU|RES r1]] về công tác cán bộ.
---
p1 HAS_TITLE t1
t1 TITLE_OF o1
m1 METRIC_OF o3
r1 ISSUED_BY o4
""",
    """id: tiny-2
---
Đồng chí [[Trần Thị Hoa|PER p1]], [[Phó Chủ tịch|TITLE t1]] [[UBND tỉnh|ORG o1]] dự hội nghị.
[[Đảng bộ huyện|ORG o2]] hiện có [[45 chi bộ|MET m1]] và [[1.234 đảng viên|MET m2]].
Các cấp ủy quán triệt [[Nghị quyết số 18-NQ/TW|RES r1]] của [[Ban Chấp hành Trung ương|ORG o3]].
---
p1 HAS_TITLE t1
t1 TITLE_OF o1
m1 METRIC_OF o2
m2 METRIC_OF o2
r1 ISSUED_BY o3
""",
    """id: tiny-3
---
[[Chủ tịch|TITLE t1]] [[HĐND huyện|ORG o1]] [[Nguyễn Minh Quân|PER p1]] phát biểu tại kỳ họp.
[[Ủy ban Kiểm tra Tỉnh ủy|ORG o2]] đã kiểm tra [[37 tổ chức|MET m1]] đảng.
[[Ban Bí thư|ORG o3]] ban hành [[Chỉ thị số 05-CT/TW|RES r1]] về học tập.
---
p1 HAS_TITLE t1
t1 TITLE_OF o1
m1 METRIC_OF o2
r1 ISSUED_BY o3
""",
    """id: tiny-4
---
Đồng chí [[Phạm Quốc Bảo|PER p1]], [[Trưởng|TITLE t1]] [[Ban Tổ chức Huyện ủy|ORG o1]] trao quyết định.
[[Thành ủy|ORG o2]] đã xem xét [[12 trường hợp|MET m1]] vi phạm.
[[Quy định số 102-QĐ/TW|RES r1]] của [[Bộ Chính trị|ORG o3]] được triển khai.
---
p1 HAS_TITLE t1
t1 TITLE_OF o1
m1 METRIC_OF o2
r1 ISSUED_BY o3
""",
]


def fit_on_folder(corpus_dir: Path, out: Path) -> list[str]:
    """Overrides that train on every document of a folder (nothing held out) and write into ``out``."""
    return [
        f"data.train={corpus_dir}",
        "data.splits_file=",
        "data.dev_fraction=0",
        "data.test_fraction=0",
        f"data.cache_dir={out / 'cache'}",
        f"training.output_dir={out}",
    ]


@pytest.fixture(scope="session")
def tiny_documents():
    return [parse_article(text, f"tiny-{i}.ann") for i, text in enumerate(ARTICLES)]


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-corpus")
    for i, text in enumerate(ARTICLES):
        (folder / f"tiny-{i}.ann").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_corpus_dir, tmp_path_factory) -> Path:
    """A tiny RoBERTa with a tokenizer built from the fixture text, trained until it fits the fixture."""
    from training.config import load_config
    from training.train import train

    out = tmp_path_factory.mktemp("tiny-model")
    config = load_config(
        None,
        [
            "model.base_model=scratch",
            "model.tokenizer=build",
            "model.build_vocab_size=300",
            "model.hidden_size=64",
            "model.num_layers=2",
            "model.num_heads=2",
            "model.intermediate_size=128",
            "model.dropout=0.0",
            *fit_on_folder(tiny_corpus_dir, out),
            "training.epochs=60",
            "training.batch_size=4",
            "training.encoder_lr=0.003",
            "training.head_lr=0.005",
            "training.warmup_ratio=0.05",
            "training.patience=60",
            "training.seed=3",
        ],
    )
    train(config)
    return out
