"""A categorical value as the model knows it: text, spelt the same in training and serving.

Training reads a file with pandas, which turns a column of true/TRUE/True into booleans and a
column of codes with a gap into floats (12345.0); clients send JSON true or 12345, or Arrow
booleans and integers. Each is the one text the model was fitted on. Imports nothing heavy:
the API uses it on every request.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

BOOLEAN_TEXT = {"true": "True", "false": "False"}  # the spellings pandas reads as booleans
WHOLE_FLOAT = re.compile(r"^(-?\d+)\.0+$")  # 12345.0, as a float column is written out


def category_text(value: Any) -> str:
    """True/False as Python spells them; a whole number without a decimal point; the rest as
    str() gives it. Text is returned as it is (an id such as 007 keeps its zeros)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy's is not a bool
        return "True" if value else "False"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(value))
    return str(value)


def as_trained(texts: Any, categories: list[str] | None) -> Any:
    """A feature's texts as training spelt them: for a true/false feature, a client's
    true/TRUE is True (as pandas read the file); any other feature's are returned as given."""
    if not boolean_cells(categories):
        return texts
    return [pandas_boolean(v) for v in texts]


def declared_text(texts: Any) -> Any:
    """A column the config declares categorical, read as written so that its codes keep their
    zeros (00712), spelt as `category_text` spells what pandas would have read: true/false as
    True/False when every value is one, and a whole number a float writer left as 12345.0 as
    12345."""
    present = texts.dropna()
    if not present.empty and present.str.lower().isin(list(BOOLEAN_TEXT)).all():
        return texts.map(pandas_boolean)
    return texts.str.replace(WHOLE_FLOAT, r"\1", regex=True)


def pandas_boolean(text: Any) -> Any:
    """true/TRUE/... spelt True or False, as pandas reads such a cell; anything else as it is
    (None and NaN included)."""
    return BOOLEAN_TEXT.get(text.lower(), text) if isinstance(text, str) else text


def boolean_cells(categories: list[str] | None) -> bool:
    """Whether a feature's categories are those of a true/false column: its cells in a CSV
    are then read as pandas read them in training (true, TRUE -> True)."""
    return bool(categories) and set(categories) <= set(BOOLEAN_TEXT.values())
