"""Config validation with messages that name the offending key and the fix.

The workflow calls :func:`validate_config` before building the DAG, so a bad key stops
the run before any job starts.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "ConfigError",
    "check_config_file",
    "check_config_values",
    "load_schema",
    "validate_config",
]


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


def validate_config(
    config: MutableMapping, schema: dict, checks: Sequence[Callable[[Mapping], list[str]]] = ()
) -> MutableMapping:
    """Validate ``config`` in place against ``schema``, filling defaults.

    Args:
        config: the merged workflow config.
        schema: the JSON schema (see :func:`load_schema`).
        checks: more checks, each ``config -> [message naming key and fix]``, run after the
            schema (the workflow passes the scenarios' own, e.g.
            :func:`advtransfer.distributions.sources.check_group_classes`).

    Raises:
        ConfigError: listing every problem, each naming its dotted key.
    """
    validator_cls = _with_defaults(jsonschema.Draft7Validator)
    validator = validator_cls(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    # cross-field rules and what the schema cannot say (NaN passes its range checks)
    problems = [_describe(e) for e in errors]
    known = schema.get("properties", {}).get("scenarios", {}).get("items", {}).get("enum")
    problems += [p for p in check_config_values(config, known) if p not in problems]
    if not errors:  # scenario checks assume a schema-valid config
        for check in checks:
            problems += check(config)
    if problems:
        lines = "\n  - ".join(problems)
        raise ConfigError(f"invalid configuration:\n  - {lines}")
    return config


# ---------------------------------------------------------------- config files


def check_config_file(path: str | Path) -> None:
    """Stop on an empty or malformed YAML config file, naming the file and the line.

    Snakemake's own message ("Config file is not valid JSON or YAML") names neither.

    Raises:
        ConfigError: the file is empty, is not valid YAML, or is not a mapping of keys.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(str(x) for x in (err.context, err.problem) if x) or str(err)
        start = err.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            what += f" (in what starts at line {start.line + 1})"
        raise ConfigError(
            f"config file {path}{where}: YAML syntax error: {what}. Fix: correct the YAML "
            "there (close brackets and quotes, indent with spaces, not tabs)."
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path}: YAML error: {err}. Fix: correct the YAML.") from None
    if data is None:
        raise ConfigError(
            f"config file {path}, line 1: the file is empty (no keys). Fix: give at least "
            "`scenarios: [...]` (see config.yaml), or leave the file out of --configfile."
        )
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"config file {path}, line 1: the top level is a {type(data).__name__}, not a "
            "mapping of keys. Fix: start with keys such as `scenarios:` (see config.yaml)."
        )


# ---------------------------------------------------------------- cross-field rules


def _walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, node
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_split(key: str, fractions: list) -> list[str]:
    problems = [
        f"config key {key}[{i}]: fraction {v} is outside [0, 1]. Fix: give each of the "
        "train/val/test fractions a value between 0 and 1."
        for i, v in enumerate(fractions) if not 0.0 <= v <= 1.0
    ]
    total = sum(fractions)
    if abs(total - 1.0) > 1e-6:
        hint = ""
        if total > 0 and not problems:
            hint = f", e.g. [{', '.join(f'{v / total:.4g}' for v in fractions)}]"
        problems.append(
            f"config key {key}: the train/val/test fractions {list(fractions)} sum to "
            f"{total:g}, not 1. Fix: scale them so that they sum to 1{hint}."
        )
    if fractions and fractions[0] <= 0:
        problems.append(
            f"config key {key}: the train fraction (first entry) is {fractions[0]}, so the "
            "train split is empty and no model can be trained. Fix: give it a positive fraction."
        )
    return problems


def check_config_values(config: Mapping, known_scenarios: list[str] | None = None) -> list[str]:
    """What the JSON schema cannot check; one message per problem, naming key and fix.

    - no NaN or infinite number anywhere;
    - seeds (``seed``, ``*_seed``, ``*_seeds``) are non-negative;
    - split fractions (``split``, ``*_split`` lists) are each in [0, 1], sum to 1 and
      leave a non-empty train split;
    - attack radii (``<scenario>.attack.eps``) are positive;
    - ``scenarios`` is not empty.

    Checks that need a scenario's knowledge (e.g. the class names of
    ``distributions.groups``) are passed to :func:`validate_config` as ``checks``.
    """
    problems = []
    for path, value in _walk(config):
        if not path:
            continue
        key, name = _key(path), path[-1]
        parent = path[-2] if len(path) > 1 else None
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(
                f"config key {key}: {value} is not a finite number. Fix: give a finite "
                "number (NaN and inf are not allowed anywhere in the config)."
            )
            continue
        is_seed = isinstance(name, str) and (name == "seed" or name.endswith("_seed"))
        in_seeds = isinstance(name, int) and isinstance(parent, str) and parent.endswith("_seeds")
        if (is_seed or in_seeds) and _is_number(value) and value < 0:
            problems.append(
                f"config key {key}: seed {value} is negative. Fix: use a non-negative "
                "integer seed (numpy and torch reject negative seeds)."
            )
        if (
            isinstance(name, str) and (name == "split" or name.endswith("_split"))
            and isinstance(value, list) and value and all(_is_number(v) for v in value)
            and all(math.isfinite(v) for v in value)
        ):
            problems += _check_split(key, value)
        if name == "eps" and len(path) == 3 and path[1] == "attack":
            radii = value if isinstance(value, list) else [value]
            for i, eps in enumerate(radii):
                if _is_number(eps) and math.isfinite(eps) and eps <= 0:
                    where = f"{key}[{i}]" if isinstance(value, list) else key
                    problems.append(
                        f"config key {where}: eps = {eps} gives no attack (the images stay "
                        "clean, the adversarial measures are undefined and the correlation "
                        "cells empty). Fix: give a radius > 0, e.g. 0.03."
                    )
    scenarios = config.get("scenarios")
    if isinstance(scenarios, list) and not scenarios:
        known = known_scenarios or [k for k in config if k != "scenarios"]
        problems.append(
            "config key scenarios: the list is empty, so the workflow has nothing to build. "
            f"Fix: name at least one scenario, e.g. `scenarios: [synthetic]` (known: "
            f"{', '.join(known) or 'see schemas/scenarios/'})."
        )
    return problems


# ---------------------------------------------------------------- command line


def run_name(paths: list[str | Path], default: str = "default") -> str:
    """The `run` of config files merged in order (the last file that sets it wins)."""
    name = default
    for path in paths:
        check_config_file(path)
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        name = str(data.get("run", name))
    return name


def main(argv: list[str] | None = None) -> int:
    """``python -m advtransfer.config check|run-name FILE...`` (used by the Makefile).

    ``check`` stops on an empty or malformed file naming the file and the line, before
    Snakemake reads it (Snakemake's own message for a ``--configfile`` names neither);
    ``run-name`` prints the run name of the files merged in order.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m advtransfer.config")
    parser.add_argument("command", choices=["check", "run-name"])
    parser.add_argument("files", nargs="*", help="config files, in --configfile order")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            for path in args.files:
                check_config_file(path)
        else:
            print(run_name(args.files))
    except (ConfigError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
