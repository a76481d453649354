"""Segmentation keeps exact offsets into the original text, whatever the segmenter rewrites."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.segment import fold, get_segmenter, pretokenize, segment_span
from training.sentences import sentence_spans

SYLLABLES = [
    "Đảng",
    "Ðảng",
    "ủy",
    "uỷ",
    "Tỉnh",
    "hóa",
    "hoá",
    "Nguyễn",
    "Văn",
    "Bí",
    "thư",
    "1.234",
    "12,5%",
    "05-CT/TW",
    "T.Ư",
    "😀",
    "a\u0301",
    "Hà",
    "Nội",
    "TP.",
    "(UBKT)",
    "đảng",
    "viên",
    "ngày",
    "5/6/2012",
]
SEPARATORS = [" ", "  ", ", ", ". ", "\n", " - "]

texts = st.lists(st.tuples(st.sampled_from(SYLLABLES), st.sampled_from(SEPARATORS)), min_size=1, max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts)
)


@pytest.mark.parametrize("name", ["rdrsegmenter", "underthesea", "none"])
@settings(max_examples=40, deadline=None)
@given(text=texts)
def test_words_map_back_to_original_offsets(name, text):
    words = segment_span(text, get_segmenter(name))
    tokens = pretokenize(text)
    assert [w.start for w in words] == sorted(w.start for w in words)
    covered = "".join("".join(text[w.start : w.end].split()) for w in words)
    assert covered == "".join(text[s:e] for s, e in tokens)
    for w in words:
        original = fold(text[w.start : w.end])
        # The segmenter may move a tone mark (ủy → uỷ) but never changes length or word content.
        nfc = unicodedata.normalize
        assert len(w.form.replace("_", "")) == len(nfc("NFC", "".join(original.split())))
        if len(w.form) > 1:
            assert not w.form.startswith("_") and not w.form.endswith("_")


def test_rdrsegmenter_joins_syllables_and_rewrites_tones():
    text = "Ủy viên Ban Chấp hành Trung ương Ðảng"
    words = segment_span(text, get_segmenter("rdrsegmenter"))
    assert [w.form for w in words] == ["Uỷ_viên", "Ban_Chấp_hành", "Trung_ương", "Đảng"]
    assert [text[w.start : w.end] for w in words] == ["Ủy viên", "Ban Chấp hành", "Trung ương", "Ðảng"]


def test_fold_keeps_length():
    assert fold("Ðảng ðoàn") == "Đảng đoàn"


def test_sentences_follow_the_scheme():
    text = "TP. Cần Thơ có 12 xã. Ông TS. Lê An phát biểu!\nẢnh: MINH ANH"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "TP. Cần Thơ có 12 xã.",
        "Ông TS. Lê An phát biểu!",
        "Ảnh: MINH ANH",
    ]
