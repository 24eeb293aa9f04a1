"""What a model call costs, from the price table in pricing.toml.

Takes a model spec ("openai/gpt-4o-mini") and token counts and gives back an
estimated cost in US dollars, or None when the model's price is unknown.
Prices are per million tokens; npl.toml may override or extend them with a
[prices] table of the same shape (or keyed by full specs).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Optional

from npl.lang.errors import ConfigKind

# A dated or aliased release costs what its base model costs.
_VERSION_SUFFIX = re.compile(r"-(latest|\d{8}|\d{4}-\d{2}-\d{2}|\d{4})$")


class PricingError(ConfigKind, ValueError):
    """A price table entry (npl.toml [prices]) that is not {input = N, output = N}."""


@dataclass(frozen=True)
class Price:
    input: float                     # USD per million prompt tokens
    output: float                    # USD per million completion tokens


def estimate_cost(model_spec: str, prompt_tokens: int, completion_tokens: int,
                  overrides: Optional[dict] = None) -> Optional[float]:
    """Dollars for one call, or None if the model has no known price."""
    price = find_price(model_spec, overrides)
    if price is None:
        return None
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


def find_price(model_spec: str, overrides: Optional[dict] = None) -> Optional[Price]:
    """The price of `model_spec`: an override first, then the built-in table;
    an exact name, then the name without a date suffix, then "provider/*"."""
    tables = [flatten_prices(overrides, "npl.toml [prices]")] if overrides else []
    tables.append(builtin_prices())
    provider, _, model = model_spec.partition("/")
    base = _VERSION_SUFFIX.sub("", model)
    for name in (model_spec, f"{provider}/{base}", f"{provider}/*"):
        for table in tables:
            if name in table:
                return table[name]
    return None


@lru_cache(maxsize=1)
def builtin_prices() -> dict[str, Price]:
    text = resources.files(__package__).joinpath("pricing.toml").read_text("utf-8")
    return flatten_prices(tomllib.loads(text), "pricing.toml")


def flatten_prices(table: dict, origin: str) -> dict[str, Price]:
    """{"openai": {"gpt-4o": {...}}} or {"openai/gpt-4o": {...}} as
    {"openai/gpt-4o": Price}."""
    prices: dict[str, Price] = {}
    for key, value in table.items():
        if not isinstance(value, dict):
            raise PricingError(f"{origin}: {key!r} should be a table, not {value!r}")
        if "/" in key or "input" in value or "output" in value:
            prices[key] = _price(value, f"{origin}: {key!r}")
            continue
        for model, entry in value.items():
            if not isinstance(entry, dict):
                raise PricingError(f"{origin}: {key}/{model} should be "
                                   f"{{input = N, output = N}}, not {entry!r}")
            prices[f"{key}/{model}"] = _price(entry, f"{origin}: {key}/{model}")
    return prices


def _price(entry: dict, where: str) -> Price:
    numbers = {}
    for field in ("input", "output"):
        value = entry.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PricingError(f"{where}: `{field}` should be a non-negative number of "
                               f"dollars per million tokens, not {value!r}")
        numbers[field] = float(value)
    extra = sorted(set(entry) - {"input", "output"})
    if extra:
        raise PricingError(f"{where}: unknown price field(s) {', '.join(extra)}; "
                           f"expected input and output")
    return Price(**numbers)
