"""The data dictionary (``schemas/outputs.yaml``) and the HTML pages made from it.

The dictionary has two parts: ``columns``, one definition per column name (``meaning``,
``unit``, ``direction``), where a name may hold a placeholder (``verif_{benchmark}``) that
stands for any word; and ``tables``, one entry per result table (a glob pattern relative to
the working directory, e.g. ``results/*/transfer.tsv``) with its ``description`` and the
``columns`` it has. A table entry may override a column's definition
(``columns: [{name: ..., meaning: ...}]``). The first matching table pattern wins.

Pure functions: the dictionary is a mapping (read by :func:`load`), tables are data frames.
"""

from __future__ import annotations

import fnmatch
import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "DIRECTIONS",
    "column_spec",
    "dictionary_html",
    "direction_sign",
    "format_value",
    "load",
    "signs",
    "table_entry",
    "table_html",
    "table_problems",
]

#: The allowed directions and the sign each gives (+1: higher = more transferable).
DIRECTIONS: dict[str, int] = {
    "higher = more transferable": 1,
    "lower = more transferable": -1,
    "higher = better": 0,
    "lower = better": 0,
    "n.a.": 0,
}
_FIELDS = ("meaning", "unit", "direction")


def load(path: str | Path) -> dict[str, Any]:
    """The dictionary at ``path``, checked (every column with meaning, unit, direction)."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, Mapping) or "columns" not in data or "tables" not in data:
        raise ValueError(f"{path}: a data dictionary has `columns:` and `tables:`")
    for name, spec in data["columns"].items():
        missing = [f for f in _FIELDS if not (spec or {}).get(f)]
        if missing:
            raise ValueError(f"{path}: column {name!r} lacks {', '.join(missing)}")
        if spec["direction"] not in DIRECTIONS:
            raise ValueError(f"{path}: column {name!r}: direction {spec['direction']!r} is "
                             f"not one of {', '.join(DIRECTIONS)}")
    for pattern, entry in data["tables"].items():
        for item in entry.get("columns", []):
            name = item if isinstance(item, str) else item.get("name")
            if name not in data["columns"] and not (isinstance(item, Mapping)
                                                    and all(item.get(f) for f in _FIELDS)):
                raise ValueError(f"{path}: table {pattern!r} lists column {name!r}, which "
                                 "`columns:` does not define")
    return dict(data)


def _regex(name: str) -> re.Pattern:
    parts = re.split(r"\{[a-z_]+\}", name)
    return re.compile("[A-Za-z0-9_.-]+".join(re.escape(p) for p in parts) + r"\Z")


def table_entry(dictionary: Mapping, path: str) -> tuple[str, Mapping] | None:
    """``(pattern, entry)`` of the first table pattern ``path`` matches, or None."""
    path = str(path).replace("\\", "/")
    for pattern, entry in dictionary["tables"].items():
        if fnmatch.fnmatchcase(path, pattern):
            return pattern, entry
    return None


def _entry_names(entry: Mapping) -> list[str]:
    return [item if isinstance(item, str) else item["name"] for item in entry.get("columns", [])]


def _item_spec(dictionary: Mapping, item: Any) -> dict[str, str]:
    name = item if isinstance(item, str) else item["name"]
    base = dict(dictionary["columns"].get(name, {}))
    if isinstance(item, Mapping):
        base.update({k: v for k, v in item.items() if k != "name"})
    return {"name": name, **base}


def column_spec(dictionary: Mapping, entry: Mapping, column: str) -> dict[str, str] | None:
    """Definition of ``column`` in a table entry (its override, else the shared one).

    An exact name wins over a placeholder pattern, a longer pattern over a shorter one
    (``verif_{benchmark}_std`` over ``verif_{benchmark}``).
    """
    best, score = None, -1
    for item in entry.get("columns", []):
        name = item if isinstance(item, str) else item["name"]
        if name == column:
            return _item_spec(dictionary, item)
        if "{" in name and _regex(name).match(column):
            literal = len(re.sub(r"\{[a-z_]+\}", "", name))
            if literal > score:
                best, score = item, literal
    return None if best is None else _item_spec(dictionary, best)


def table_problems(dictionary: Mapping, tables: Mapping[str, Iterable[str]]) -> list[str]:
    """What the dictionary gets wrong about ``tables`` ({path: its columns}).

    An undocumented table or column, or a documented column (of a table pattern that
    matched at least one of the paths) that no matching table has.
    """
    problems = []
    seen: dict[str, set[str]] = {}
    for path, columns in tables.items():
        found = table_entry(dictionary, path)
        if found is None:
            problems.append(f"{path}: no table entry in the data dictionary")
            continue
        pattern, entry = found
        used = seen.setdefault(pattern, set())
        for column in columns:
            spec = column_spec(dictionary, entry, column)
            if spec is None:
                problems.append(f"{path}: column {column!r} is not documented ({pattern})")
            else:
                used.add(spec["name"])
    for pattern, used in seen.items():
        for name in _entry_names(dictionary["tables"][pattern]):
            if name not in used:
                problems.append(f"{pattern}: documented column {name!r} is in no such table")
    return problems


def direction_sign(spec: Mapping | None) -> int:
    """+1 where higher means more transferable, -1 where lower does, else 0."""
    return DIRECTIONS.get((spec or {}).get("direction", "n.a."), 0)


def signs(dictionary: Mapping, columns: Iterable[str]) -> dict[str, int]:
    """{column: sign} from the shared definitions (non-zero signs only)."""
    out = {}
    for column in columns:
        for name, spec in dictionary["columns"].items():
            if _regex(name).match(column) and direction_sign(spec):
                out[column] = direction_sign(spec)
                break
    return out


def format_value(value: Any, digits: int = 4) -> str:
    """A cell: numbers with ``digits`` significant digits, integers as they are."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{float(value):.{digits}g}"
    return str(value)


_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 8px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; vertical-align: bottom; }
th small { font-weight: normal; color: #555; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; padding: 4px 0; color: #333; }
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def table_html(frame: pd.DataFrame, path: str, dictionary: Mapping, *, digits: int = 4) -> str:
    """One result table as an HTML page: ``column (unit)`` headers, 4 significant digits."""
    found = table_entry(dictionary, path)
    entry = found[1] if found else {}
    heads = []
    for column in frame.columns:
        spec = column_spec(dictionary, entry, column) or {}
        unit = spec.get("unit", "")
        tip = "; ".join(x for x in (spec.get("meaning", ""), spec.get("direction", "")) if x)
        unit_html = f"<br><small>({html.escape(unit)})</small>" if unit and unit != "n.a." else ""
        heads.append(f"<th title=\"{html.escape(tip)}\">{html.escape(str(column))}{unit_html}</th>")
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = [f"<td class=\"num\">{html.escape(format_value(v, digits))}</td>" if num
                 else f"<td>{html.escape(format_value(v, digits))}</td>"
                 for v, num in zip(values, numeric)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = html.escape(entry.get("description", "")) if entry else ""
    body = (f"<table><caption><b>{html.escape(str(path))}</b> ({len(frame)} rows). {caption}"
            f"</caption>\n<thead><tr>{''.join(heads)}</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>")
    return _page(str(path), body)


def dictionary_html(dictionary: Mapping, *, title: str = "Data dictionary") -> str:
    """The whole dictionary as one HTML page: one table per result table."""
    sections = [f"<h1>{html.escape(title)}</h1>"]
    intro = dictionary.get("description")
    if intro:
        sections.append(f"<p>{html.escape(str(intro))}</p>")
    for pattern, entry in dictionary["tables"].items():
        rows = []
        for item in entry.get("columns", []):
            spec = _item_spec(dictionary, item)
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(spec.get(f, '')))}</td>"
                                         for f in ("name", "meaning", "unit", "direction"))
                        + "</tr>")
        sections.append(
            f"<h2>{html.escape(pattern)}</h2><p>{html.escape(entry.get('description', ''))}</p>"
            "<table><thead><tr><th>column</th><th>meaning</th><th>unit</th><th>direction</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return _page(title, "\n".join(sections))


def documented_columns(dictionary: Mapping, pattern: str) -> Sequence[str]:
    """The column names a table entry lists (placeholders kept)."""
    return _entry_names(dictionary["tables"][pattern])
