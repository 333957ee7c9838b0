"""Resolve a trial config from a preset, a TOML recipe file and ``--set key=value`` flags.

Precedence (lowest first): TrialConfig defaults < preset < recipe file < ``--data`` < ``--set``.
The recipe file is TOML with TrialConfig keys at the top level and an optional ``preset`` key.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from study.common.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["parse_sets", "read_recipe", "resolve_config"]


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """``["lr=1e-3", "tta_n=4"]`` → ``{"lr": "1e-3", "tta_n": "4"}``; values stay strings."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects key=value, got {item!r} (e.g. --set lr=1e-3)")
        out[key.strip()] = value.strip()
    return out


def read_recipe(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"config file {str(p)!r} does not exist")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UsageError(f"config file {str(p)!r} is not valid TOML: {str(e)[:200]}") from None
    for k, v in data.items():
        if isinstance(v, (dict, list)):
            raise UsageError(f"config file {str(p)!r}: key {k!r} must be a plain value, got a {type(v).__name__}")
    return data


def resolve_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    sets: list[str] | None = None,
    data: str | None = None,
    default_preset: str | None = None,
) -> Any:
    """The resolved :class:`~trainable.config.TrialConfig`; every error is a :class:`UsageError`."""
    from trainable.config import ConfigError, TrialConfig
    from trainable.presets import PRESETS

    values: dict[str, Any] = {}
    recipe = read_recipe(config_file) if config_file else {}
    name = preset or recipe.pop("preset", None) or default_preset
    recipe.pop("preset", None)
    try:
        if name is not None:
            if name not in PRESETS:
                from trainable.presets import preset as get_preset

                get_preset(name)  # raises with the list of names
            values.update(PRESETS[name])
        values.update(recipe)
        if data is not None:
            values["data"] = data
        values.update(parse_sets(sets))
        return TrialConfig.from_dict(values)
    except ConfigError as e:
        where = f" (in {config_file})" if config_file else ""
        raise UsageError(f"{e}{where}") from None
