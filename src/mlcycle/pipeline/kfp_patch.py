"""Replace one kfp.local function, after checking it is still the one an adapter was written
for: a kfp upgrade that changes it fails loudly instead of being silently bypassed."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any


def replace(
    module: ModuleType, name: str, replacement: Callable[..., Any], expected: tuple[str, ...]
) -> None:
    """Set `module.name` to `replacement` if its parameters are `expected` (twice is harmless)."""
    current = getattr(module, name)
    if current is replacement:
        return
    found = tuple(inspect.signature(current).parameters)
    if found != expected:
        raise RuntimeError(
            f"{module.__name__}.{name}{found} is not the function "
            f"{replacement.__module__}.{replacement.__name__} replaces {expected}: "
            "update the adapter for this kfp"
        )
    setattr(module, name, replacement)
