"""``python -m training.demo MODEL``: the held-out scores of a fresh model and a few predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training.metrics import format_scores
from training.predict import Predictor

EXAMPLES = [
    "Chiều 12/3, đồng chí Lê Minh Khang, Ủy viên Ban Thường vụ Tỉnh ủy, Trưởng Ban Tổ chức Tỉnh ủy Hậu Giang "
    "làm việc với Ban Thường vụ Huyện ủy Long Mỹ về việc thực hiện Chỉ thị số 28-CT/TW của Ban Bí thư.",
    "Năm 2024, Đảng bộ huyện đã kết nạp 312 đảng viên, đạt 104% kế hoạch; "
    "96,5% chi bộ được xếp loại hoàn thành tốt nhiệm vụ.",
    "Tỉnh uỷ Sóc Trăng ban hành Kế hoạch số 79-KH/TU ngày 5/6/2023 triển khai Nghị quyết số 21-NQ/TW của Hội nghị "
    "Trung ương 4 khóa XIII.",
]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    model_dir = Path(argv[0] if argv else "runs/offline")
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    split = next(name for name in ("test", "dev", "train") if name in metrics)
    print(format_scores(metrics[split]["entities"], f"held-out {split} entities (strict)"))
    print(format_scores(metrics[split]["relations"], f"held-out {split} relations (end to end)"))
    print(f"model card: {model_dir / 'README.md'}\n")
    predictor = Predictor.from_pretrained(str(model_dir))
    for doc in predictor.predict(EXAMPLES):
        print(doc.text)
        by_id = {e.id: e for e in doc.entities}
        for e in doc.entities:
            print(f"  {e.type:<10} {e.start:>4}-{e.end:<4} {e.text!r} ({e.score:.2f})")
        for r in doc.relations:
            print(f"  {r.type:<10} {by_id[r.head].text!r} → {by_id[r.tail].text!r} ({r.score:.2f})")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
