"""Deterministic document-level splits: a stable hash of the id, so new documents never move old ones."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "dev", "test")


def split_of(doc_id: str, dev_fraction: float = 0.1, test_fraction: float = 0.1, salt: str = "") -> str:
    bucket = int.from_bytes(hashlib.sha256((salt + doc_id).encode("utf-8")).digest()[:8], "big") / 2**64
    if bucket < test_fraction:
        return "test"
    if bucket < test_fraction + dev_fraction:
        return "dev"
    return "train"


def assign_splits(doc_ids, dev_fraction: float = 0.1, test_fraction: float = 0.1, salt: str = "") -> dict[str, str]:
    return {doc_id: split_of(doc_id, dev_fraction, test_fraction, salt) for doc_id in doc_ids}


def fold_of(doc_id: str, folds: int, salt: str = "folds") -> int:
    digest = hashlib.sha256((salt + doc_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % folds
