"""The predict form, built from the API's feature schema: fields, groups, and reading it back.

The UI does not judge values: it turns text into JSON numbers where it can and sends anything
else as typed, so the API (the one place that knows the model's rules) names the field at
fault, and the page shows that message next to the field.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FIELD_PREFIX = "f."  # form names are prefixed so a feature can never clash with csrf_token
MAX_GROUPS = 8
MIN_GROUP_SIZE = 3
MAX_SELECT_OPTIONS = 50


@dataclass(frozen=True)
class FormField:
    id: str  # HTML id: feature names may hold characters an id cannot
    name: str  # the feature's name, as the API and CSV files spell it
    label: str
    kind: str  # numeric | categorical
    hint: str
    placeholder: str
    integer: bool = False
    categories: list[str] = field(default_factory=list)

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def as_select(self) -> bool:
        return self.kind != "numeric" and 0 < len(self.categories) <= MAX_SELECT_OPTIONS


@dataclass(frozen=True)
class FieldGroup:
    title: str
    fields: list[FormField]


def format_number(value: Any) -> str:
    """A short, exact-enough text for a number from the schema (6 significant digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return f"{value:.6g}"


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s_\-.]+", name.lower()) if w]


def _group_keys(names: list[str]) -> dict[str, str | None]:
    """Each feature's group: the word of its name that most features share ("mean_radius",
    "radius_error", "worst_radius" → mean, error, worst). Any tabular data set works: names
    with no shared word land in one plain group."""
    counts = Counter(w for n in names for w in set(_words(n)))
    keys: dict[str, str | None] = {}
    for name in names:
        shared = [w for w in _words(name) if MIN_GROUP_SIZE <= counts[w] < len(names)]
        keys[name] = max(shared, key=lambda w: counts[w]) if shared else None
    return keys


def _label(name: str, group: str | None) -> str:
    words = _words(name)
    rest = [w for w in words if w != group] or words
    text = " ".join(rest) or name
    return text[:1].upper() + text[1:]


def build_groups(schema: dict[str, Any]) -> list[FieldGroup]:
    """Labelled fields for every feature of the schema, grouped for reading."""
    features = schema["features"]
    keys = _group_keys([f["name"] for f in features])
    distinct = {k for k in keys.values() if k}
    grouped = 2 <= len(distinct) <= MAX_GROUPS
    groups: dict[str | None, list[FormField]] = {}
    for index, feature in enumerate(features):
        name = feature["name"]
        key = keys[name] if grouped else None
        if feature["type"] == "numeric":
            low, high = format_number(feature.get("min")), format_number(feature.get("max"))
            hint = f"Seen in training: {low} to {high}" if low and high else ""
            placeholder = format_number(feature.get("median"))
            categories: list[str] = []
        else:
            categories = [str(c) for c in feature.get("categories") or []]
            hint = f"{len(categories)} values seen in training" if categories else ""
            placeholder = str(feature.get("mode") or "")
        groups.setdefault(key, []).append(
            FormField(
                id=f"f{index}",
                name=name,
                label=_label(name, key),
                kind=feature["type"],
                hint=hint,
                placeholder=placeholder,
                integer=bool(feature.get("integer")),
                categories=categories,
            )
        )
    titled = [FieldGroup(k.capitalize(), v) for k, v in groups.items() if k]
    if None in groups:
        titled.append(FieldGroup("Other features" if titled else "Features", groups[None]))
    return titled


def to_value(text: str, kind: str) -> Any:
    """JSON for one typed value: empty is null (the API imputes it as in training); a numeric
    feature gets a finite number, or the text itself for the API to refuse by name."""
    text = text.strip()
    if not text:
        return None
    if kind != "numeric":
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def read_instance(
    form: Mapping[str, str], schema: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The instance to send, and the text typed in each field (to show it again)."""
    typed = {f["name"]: form.get(FIELD_PREFIX + f["name"], "") for f in schema["features"]}
    kinds = {f["name"]: f["type"] for f in schema["features"]}
    return {name: to_value(text, kinds[name]) for name, text in typed.items()}, typed


def example_values(schema: dict[str, Any], cls: str, n: int) -> dict[str, str] | None:
    """The form's text for the n-th real example of a class (cycling), or None."""
    rows = schema.get("examples", {}).get(cls) or []
    if not rows:
        return None
    row = rows[n % len(rows)]
    return {f["name"]: format_example(row.get(f["name"])) for f in schema["features"]}


def format_example(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # exactly the example's value, not a rounded one
    return str(value)
