"""The model really learns: a tiny encoder fits a handful of documents, and survives save → load."""

from __future__ import annotations

import json

from safetensors.torch import load_file

from training.metrics import entity_scores, relation_scores
from training.predict import Predictor


def test_tiny_model_fits_training_documents(tiny_model_dir, tiny_documents):
    predictor = Predictor.from_pretrained(str(tiny_model_dir))
    predicted = predictor.predict(tiny_documents)
    assert entity_scores(tiny_documents, predicted)["micro"]["f1"] >= 0.9
    assert relation_scores(tiny_documents, predicted)["micro"]["f1"] >= 0.9


def test_offsets_of_predictions_point_into_the_text(tiny_model_dir, tiny_documents):
    predictor = Predictor.from_pretrained(str(tiny_model_dir))
    for doc in predictor.predict([d.text for d in tiny_documents]):
        assert doc.entities
        for ent in doc.entities:
            assert doc.text[ent.start : ent.end] == ent.text
            assert 0.0 <= ent.score <= 1.0
        ids = {e.id for e in doc.entities}
        assert all(r.head in ids and r.tail in ids for r in doc.relations)


def test_save_load_gives_identical_predictions(tiny_model_dir, tiny_documents, tmp_path):
    from training.checkpoint import save_checkpoint

    first = Predictor.from_pretrained(str(tiny_model_dir))
    save_checkpoint(tmp_path, first.model, first.tokenizer, first.settings)
    second = Predictor.from_pretrained(str(tmp_path))
    texts = [d.text for d in tiny_documents]
    assert [d.to_dict() for d in first.predict(texts)] == [d.to_dict() for d in second.predict(texts)]


def test_checkpoint_is_safetensors_with_label_maps(tiny_model_dir):
    files = {p.name for p in tiny_model_dir.iterdir()}
    assert {"model.safetensors", "config.json", "extractor_config.json", "README.md", "metrics.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    settings = json.loads((tiny_model_dir / "extractor_config.json").read_text())
    assert settings["segmenter"] == "rdrsegmenter"
    assert settings["head"]["bio_labels"][0] == "O"
    assert any(key.startswith("encoder.") for key in load_file(str(tiny_model_dir / "model.safetensors")))
    card = (tiny_model_dir / "README.md").read_text()
    assert "model-index" in card and "Limitations" in card
