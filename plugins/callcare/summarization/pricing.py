"""USD prices per 1,000 tokens, so every stored summary can say what it cost.

Figures are AWS Bedrock on-demand list prices (us-east-1) for the models we are likely to run; a
deployment adds or corrects entries through the CALLCARE_LLM_PRICES_JSON setting rather than a
code change. Cross-region inference profiles ("us.anthropic...") and their ARNs are priced as the
model they route to. A model without a price costs 0.0 and is logged once, so the gap is visible.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Anthropic prompt caching bills a cache write at 1.25x and a cache read at 0.1x the input price.
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.10


@dataclass(frozen=True)
class Price:
    input_per_1k: float
    output_per_1k: float


PRICES: dict[str, Price] = {
    "anthropic.claude-3-haiku-20240307-v1:0": Price(0.00025, 0.00125),
    "anthropic.claude-3-5-haiku-20241022-v1:0": Price(0.0008, 0.004),
    "anthropic.claude-haiku-4-5-20251001-v1:0": Price(0.001, 0.005),
    "anthropic.claude-3-sonnet-20240229-v1:0": Price(0.003, 0.015),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": Price(0.003, 0.015),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": Price(0.003, 0.015),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": Price(0.003, 0.015),
    "anthropic.claude-sonnet-4-20250514-v1:0": Price(0.003, 0.015),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": Price(0.003, 0.015),
    "amazon.nova-micro-v1:0": Price(0.000035, 0.00014),
    "amazon.nova-lite-v1:0": Price(0.00006, 0.00024),
    "amazon.nova-pro-v1:0": Price(0.0008, 0.0032),
    "meta.llama3-2-1b-instruct-v1:0": Price(0.0001, 0.0001),
    "meta.llama3-2-3b-instruct-v1:0": Price(0.00015, 0.00015),
    "meta.llama3-1-8b-instruct-v1:0": Price(0.00022, 0.00022),
    "meta.llama3-1-70b-instruct-v1:0": Price(0.00072, 0.00072),
}

_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|global|us-gov|jp|au|ca)\.")
_warned: set[str] = set()


def base_model_id(model_id: str) -> str:
    """The foundation model behind an ARN or a cross-region inference profile id."""
    model = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    return _PROFILE_PREFIX.sub("", model)


def parse_price_overrides(raw: str | None) -> dict[str, Price]:
    """{"model-id": {"input_per_1k": 0.001, "output_per_1k": 0.005}} from the settings' JSON string."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {
            model: Price(float(p["input_per_1k"]), float(p["output_per_1k"])) for model, p in data.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"CALLCARE_LLM_PRICES_JSON is not a valid price table: {exc}") from exc


def price_for(model_id: str, overrides: dict[str, Price] | None = None) -> Price | None:
    table = {**PRICES, **(overrides or {})}
    return table.get(model_id) or table.get(base_model_id(model_id))


def cost_usd(
    model_id: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    overrides: dict[str, Price] | None = None,
) -> float:
    price = price_for(model_id, overrides)
    if price is None:
        if model_id not in _warned:
            _warned.add(model_id)
            log.warning("no price for model %s: its summaries are recorded with cost 0.0", model_id)
        return 0.0
    billed_input = (
        input_tokens + CACHE_WRITE_FACTOR * cache_write_tokens + CACHE_READ_FACTOR * cache_read_tokens
    )
    return round((billed_input * price.input_per_1k + output_tokens * price.output_per_1k) / 1000.0, 8)
