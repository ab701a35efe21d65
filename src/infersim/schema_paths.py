"""Walk a pydantic model's annotations along a data path: which keys a mapping accepts there,
and whether a number belongs there. Used for "did you mean" and for finding the numeric
inputs that may hold a distribution or a curve."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation admits (Annotated, Optional and unions unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(unwrap(arg))
        return out
    return [annotation]


def _tagged(model: type[BaseModel], part: str | int) -> bool:
    """Whether `part` is the value of one of the model's Literal fields (a union tag)."""
    for field in model.model_fields.values():
        annotation = field.annotation
        if typing.get_origin(annotation) is typing.Literal and part in typing.get_args(annotation):
            return True
    return False


def _step(annotation: Any, part: str | int) -> list[Any]:
    out: list[Any] = []
    for candidate in unwrap(annotation):
        origin = typing.get_origin(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            field = candidate.model_fields.get(str(part))
            if field is not None:
                out.append(field.annotation)
            elif _tagged(candidate, part) or str(part).startswith("function-"):
                out.append(candidate)  # a union tag or validator in the location: stay here
        elif origin is dict:
            out.append(typing.get_args(candidate)[1])
        elif origin is list and isinstance(part, int):
            out.append(typing.get_args(candidate)[0])
    return out


def annotations_at(model: type[BaseModel], path: Sequence[str | int]) -> list[Any]:
    """The annotations that could describe the value at `path` below `model`."""
    current: list[Any] = [model]
    for part in path:
        nxt: list[Any] = []
        for annotation in current:
            nxt.extend(_step(annotation, part))
        current = nxt
        if not current:
            return []
    return current


def is_numeric_at(model: type[BaseModel], path: Sequence[str | int]) -> bool:
    """Whether a number (int or float, not bool) is accepted at `path`."""
    for annotation in annotations_at(model, path):
        for candidate in unwrap(annotation):
            if candidate in (int, float):
                return True
    return False


def allowed_keys(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """Field names accepted by the model(s) found at `path` below `model`."""
    current = annotations_at(model, path)
    keys: set[str] = set()
    for annotation in current:
        for candidate in unwrap(annotation):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys.update(candidate.model_fields)
    return sorted(keys)
