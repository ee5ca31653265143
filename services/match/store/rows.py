"""Converts the dataclasses in models.py to flat table rows and back.

A nested PostRef is stored as `post_*` columns next to the item that refers to it, and list fields
as JSON, so one generic codec serves profiles, queue items and complaints.
"""
from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from .dialects import Dialect
from .models import PostRef


def post_column(name: str) -> str:
    return name if name.startswith("post_") else f"post_{name}"


POST_COLUMNS = tuple(post_column(f.name) for f in dataclasses.fields(PostRef))


@cache
def _field_types(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list or tp is list


@cache
def columns(cls: type) -> tuple[str, ...]:
    out: list[str] = []
    for name, tp in _field_types(cls):
        out.extend(POST_COLUMNS if tp is PostRef else (name,))
    return tuple(out)


def to_row(obj: Any, dialect: Dialect) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, tp in _field_types(type(obj)):
        value = getattr(obj, name)
        if tp is PostRef:
            row.update(post_to_row(value))
        elif _is_list(tp):
            row[name] = dialect.encode_json(list(value))
        else:
            row[name] = value
    return row


def post_to_row(post: PostRef) -> dict[str, Any]:
    return {post_column(f.name): getattr(post, f.name) for f in dataclasses.fields(PostRef)}


def from_row(cls: type, row: Mapping[str, Any], dialect: Dialect) -> Any:
    kwargs: dict[str, Any] = {}
    for name, tp in _field_types(cls):
        if tp is PostRef:
            kwargs[name] = post_from_row(row)
        elif _is_list(tp):
            kwargs[name] = list(dialect.decode_json(row[name]) or [])
        elif tp is bool:
            kwargs[name] = bool(row[name])
        elif tp is float:
            kwargs[name] = float(row[name])
        else:
            kwargs[name] = row[name]
    return cls(**kwargs)


def post_from_row(row: Mapping[str, Any]) -> PostRef:
    kwargs = {}
    for name, tp in _field_types(PostRef):
        value = row[post_column(name)]
        kwargs[name] = float(value) if tp is float else value
    return PostRef(**kwargs)
