"""The models the offline endpoint serves: the lessons' models (``model_facts``), in the
shape of the GitHub Models catalog API."""

from __future__ import annotations

from model_facts import DEFAULT_MODEL, FREE_TIER, MODELS, LessonModel, find_model

MAX_OUTPUT_TOKENS = FREE_TIER.max_output_tokens
Model = LessonModel

__all__ = ["DEFAULT_MODEL", "MAX_OUTPUT_TOKENS", "MODELS", "Model", "catalog_entries", "find_model"]


def catalog_entries() -> list[dict]:
    """The models in the shape of the GitHub Models catalog API (``GET /catalog/models``)."""
    return [
        {
            "id": model.id,
            "name": model.name,
            "publisher": "Microsoft",
            "registry": "azureml",
            "summary": model.summary,
            "rate_limit_tier": "low",
            "supported_input_modalities": ["text"],
            "supported_output_modalities": ["text"],
            "tags": ["multilingual", "low latency"],
            "limits": {
                "max_input_tokens": model.max_input_tokens,
                "max_output_tokens": MAX_OUTPUT_TOKENS,
            },
            "version": "offline",
        }
        for model in MODELS
    ]
