"""Model providers: turn a "PROVIDER/MODEL" spec into a `Provider`.

`make_provider` takes a spec such as "openai/gpt-4o-mini" and the optional
provider settings from npl.toml, checks them, and gives back a ready
provider. Hosted providers (openai, anthropic) are plain HTTP clients; the
`local` provider is imported only when asked for, so importing this package
never loads llama_cpp.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

from .base import Completion, Provider, ProviderError
from .http import HttpSettings
from .pricing import estimate_cost

KNOWN_PROVIDERS = ("openai", "anthropic", "local")

# Settings npl.toml may give, and which providers use each. A setting meant
# for another provider is ignored, so one table can serve them all; a name
# in no list is a typo and is reported.
SETTINGS: dict[str, tuple[str, ...]] = {
    "base_url": ("openai", "anthropic"),
    "api_key_env": ("openai", "anthropic"),
    "timeout": ("openai", "anthropic", "local"),
    "connect_timeout": ("openai", "anthropic"),
    "max_retries": ("openai", "anthropic"),
    "stream": ("openai", "anthropic"),
    "grammar_field": ("openai",),
    "threads": ("local",),
    "keep_alive": ("local",),
}

__all__ = ["Completion", "KNOWN_PROVIDERS", "Provider", "ProviderError",
           "estimate_cost", "make_provider", "parse_spec"]


def parse_spec(spec: str) -> tuple[str, str]:
    """Split "PROVIDER/MODEL" (the model may itself contain slashes)."""
    provider, slash, model = spec.strip().partition("/")
    if not slash or not provider or not model:
        raise ProviderError(spec or "<empty>", "config",
                            f"a model is written PROVIDER/MODEL, e.g. openai/gpt-4o-mini, "
                            f"not {spec!r}; known providers: {', '.join(KNOWN_PROVIDERS)}")
    return provider, model


def make_provider(spec: str, *, config: Optional[dict] = None) -> Provider:
    """The provider for `spec`, with settings from `config` (npl.toml)."""
    provider, model = parse_spec(spec)
    if provider not in KNOWN_PROVIDERS:
        raise ProviderError(spec, "config", f"unknown provider {provider!r}; known "
                            f"providers: {', '.join(KNOWN_PROVIDERS)}")
    settings = _checked_settings(spec, provider, config or {})
    if provider == "local":
        return _local_provider(spec, settings)
    http = _http_settings(settings)
    options = {key: settings[key] for key in ("base_url", "api_key_env", "stream", "grammar_field")
               if key in settings}
    if provider == "openai":
        from .openai import OpenAIProvider
        return OpenAIProvider(model, http=http, **options)
    from .anthropic import AnthropicProvider
    return AnthropicProvider(model, http=http, **options)


def _local_provider(spec: str, settings: dict) -> Provider:
    try:
        module = importlib.import_module("npl.filling.providers.local")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("llama_cpp"):
            raise ProviderError(spec, "config", "local models need llama-cpp-python: "
                                "pip install 'npl[local]'") from None
        raise ProviderError(spec, "config", "this installation has no local model "
                            f"support ({exc})") from None
    options = {key: settings[key] for key in ("timeout", "keep_alive") if key in settings}
    return module.LocalProvider(spec, threads=settings.get("threads", 2), **options)


def _checked_settings(spec: str, provider: str, config: dict) -> dict[str, Any]:
    """The settings that apply to `provider`, each checked for its type."""
    unknown = sorted(set(config) - set(SETTINGS))
    if unknown:
        raise ProviderError(spec, "config", f"unknown provider setting "
                            f"{', '.join(map(repr, unknown))}; known settings: "
                            f"{', '.join(SETTINGS)}")
    settings = {k: v for k, v in config.items() if provider in SETTINGS[k]}
    for key, value in settings.items():
        problem = _setting_problem(key, value)
        if problem:
            raise ProviderError(spec, "config", f"setting {key!r} = {value!r}: {problem}")
    return settings


def _setting_problem(key: str, value: Any) -> Optional[str]:
    if key == "keep_alive":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        return None if ok else "expected seconds, 0 or more"
    if key in ("timeout", "connect_timeout"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        return None if ok else "expected a positive number of seconds"
    if key in ("max_retries", "threads"):
        least = 1 if key == "threads" else 0
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
        return None if ok else f"expected a whole number, {least} or more"
    if key == "stream":
        return None if isinstance(value, bool) else "expected true or false"
    if key == "base_url":
        ok = isinstance(value, str) and value.startswith(("http://", "https://"))
        return None if ok else "expected a URL starting with http:// or https://"
    return None if isinstance(value, str) and value else "expected a non-empty string"


def _http_settings(settings: dict) -> HttpSettings:
    defaults = HttpSettings()
    return HttpSettings(
        connect_timeout=float(settings.get("connect_timeout", defaults.connect_timeout)),
        read_timeout=float(settings.get("timeout", defaults.read_timeout)),
        max_retries=settings.get("max_retries", defaults.max_retries))
