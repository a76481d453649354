"""Training side of the Vietnamese Party-news extractor: data layer, features, model, evaluation."""
