"""Tokenization and lemmatization of posts (spaCy + pymorphy3).

Linguistics is imported lazily: importing spaCy costs about a second, which modules that only
need the package name should not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intentflow.nlp.linguistics import Linguistics

__all__ = ["Linguistics"]


def __getattr__(name: str) -> Any:
    if name == "Linguistics":
        from intentflow.nlp.linguistics import Linguistics

        return Linguistics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
