"""Hashed lexical features are stable across processes and see the neighbours."""

from __future__ import annotations

import subprocess
import sys

from training.lexical import FEATURES_PER_WORD, LEXICAL_BUCKETS, lexical_features

FORMS = ["Bí_thư", "Tỉnh_uỷ", "Cà_Mau", "Lê_Văn_Tám"]


def test_same_ids_in_a_fresh_process():
    code = f"from training.lexical import lexical_features; print(lexical_features({FORMS!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(lexical_features(FORMS))


def test_shape_of_features_and_context_sensitivity():
    rows = lexical_features(FORMS)
    assert len(rows) == 4 and all(len(r) == FEATURES_PER_WORD for r in rows)
    assert all(0 < i < LEXICAL_BUCKETS for r in rows for i in r)
    other = lexical_features(["Phó_Bí_thư", "Tỉnh_uỷ", "Cà_Mau", "Lê_Văn_Tám"])
    assert rows[1][0] == other[1][0]  # the word itself is unchanged
    assert rows[1] != other[1]  # its left neighbour changed
    assert rows[3] == other[3]  # three words away: outside the two-word window
