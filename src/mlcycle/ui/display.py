"""The words pages show for the served data set: each class's name, what is predicted, the
disclaimer. They come from the data-set config through the API's schema (`display`), so no
template names a data set; a version built before `display` gets the config's neutral
defaults (the class value itself, the label column, the generic disclaimer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlcycle.config import DEFAULT_DISCLAIMER


@dataclass(frozen=True)
class Display:
    predicts: str = ""
    disclaimer: str = DEFAULT_DISCLAIMER
    classes: dict[str, str] = field(default_factory=dict)

    def name(self, cls: str) -> str:
        """The name a class is shown by (its value when the config names none)."""
        return self.classes.get(cls, cls)


def display_of(schema: dict[str, Any] | None) -> Display:
    """The schema's display words, with the neutral defaults for what it lacks."""
    schema = schema or {}
    shown = schema.get("display") or {}
    return Display(
        predicts=shown.get("predicts") or schema.get("label", ""),
        disclaimer=shown.get("disclaimer") or DEFAULT_DISCLAIMER,
        classes={str(k): str(v) for k, v in (shown.get("classes") or {}).items()},
    )
