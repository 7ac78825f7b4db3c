"""Config validation with messages that name the offending key and the fix.

The workflow calls :func:`validate_config` before building the DAG, so a bad key stops
the run before any job starts.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["ConfigError", "load_schema", "validate_config"]


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range."""


def load_schema(path: str | Path) -> dict:
    """Load the top-level schema and merge in ``scenarios/<name>.schema.yaml`` beside it.

    Each scenario file describes the config section of the same name; the list of valid
    ``scenarios`` is the list of those names.
    """
    path = Path(path)
    schema = yaml.safe_load(path.read_text())
    names = []
    for fragment in sorted((path.parent / "scenarios").glob("*.schema.yaml")):
        name = fragment.name.removesuffix(".schema.yaml")
        schema["properties"][name] = yaml.safe_load(fragment.read_text())
        names.append(name)
    schema["properties"]["scenarios"]["items"]["enum"] = names
    return schema


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, MutableMapping):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        where = key if error.absolute_path else "the top level"
        names = ", ".join(f"{where}.{e}" if error.absolute_path else e for e in extra)
        return (
            f"unknown config key {names}; keys allowed under {where}: {', '.join(known)}. "
            "Fix: remove or rename it (see schemas/config.schema.yaml)."
        )
    desc = error.schema.get("description", "")
    hint = f" ({desc})" if desc else ""
    return f"config key {key}: {error.message}{hint}. Fix the value in your config file."


def validate_config(config: MutableMapping, schema: dict) -> MutableMapping:
    """Validate ``config`` in place against ``schema``, filling defaults.

    Raises:
        ConfigError: listing every problem, each naming its dotted key.
    """
    validator_cls = _with_defaults(jsonschema.Draft7Validator)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  - ".join(_describe(e) for e in errors)
        raise ConfigError(f"invalid configuration:\n  - {lines}")
    return config
