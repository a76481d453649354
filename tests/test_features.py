"""Word-level BIO tags, alignment reports and windowing for long sentences."""

from __future__ import annotations

from transformers import AutoTokenizer

from training.documents import Document, Entity
from training.features import AlignmentReport, WordEncoder, encode_document
from training.segment import get_segmenter
from training.vocab import build_tokenizer_files


def _tokenizer(tmp_path, forms):
    return AutoTokenizer.from_pretrained(build_tokenizer_files(forms, tmp_path / "tok", 200))


def test_windows_cover_a_3000_word_sentence_with_overlap(tmp_path):
    forms = [f"từ{i % 50}" for i in range(3000)]
    encoder = WordEncoder(_tokenizer(tmp_path, forms), max_length=64)
    windows = encoder.windows(forms)
    assert windows[0][0] == 0 and windows[-1][1] == 3000
    for (_, e1), (s2, _) in zip(windows, windows[1:]):
        assert s2 < e1, "consecutive windows overlap"
    for s, e in windows:
        ids, _ = encoder.encode(forms[s:e])
        assert len(ids) <= 64


def test_long_sentence_predictions_keep_every_word(tmp_path, tiny_model_dir):
    from training.predict import Predictor

    predictor = Predictor.from_pretrained(str(tiny_model_dir))
    text = " ".join(["Đồng chí Lê Văn Tám , Bí thư Tỉnh ủy Cà Mau"] * 300)  # one 3,000-word sentence
    doc = predictor.predict([text])[0]
    assert len(doc.entities) >= 300
    assert all(text[e.start : e.end] == e.text for e in doc.entities)


def test_bio_tags_and_misaligned_spans_are_reported(tmp_path):
    text = "Bí thư Tỉnh ủy Lê Văn Tám dự họp."
    doc = Document(
        "d",
        text,
        [
            Entity("t", "TITLE", 0, 6, "Bí thư"),
            Entity("o", "ORG", 7, 14, "Tỉnh ủy"),
            Entity("x", "PERSON", 15, 17, "Lê"),
        ],
    )
    tokenizer = _tokenizer(tmp_path, text.split())
    report = AlignmentReport()
    examples = encode_document(doc, get_segmenter("rdrsegmenter"), WordEncoder(tokenizer), report)
    assert len(examples) == 1
    tags = examples[0]["tags"]
    from training.schema import BIO_LABELS

    labels = [BIO_LABELS[t] for t in tags]
    assert labels[:2] == ["B-TITLE", "B-ORG"]
    # "Lê" is inside the segmented word "Lê_Văn_Tám": counted, never silent.
    assert report.counts["entities_off_word_boundaries"] == 1
    assert "'Lê'" in report.misaligned[0]
