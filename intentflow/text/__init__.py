"""Text hygiene and language identification for social posts."""

from intentflow.text.language import (
    LanguageGuess,
    clear_language_cache,
    detect_language,
    detect_language_details,
)
from intentflow.text.normalize import (
    fingerprint,
    normalize_text,
    remove_links,
    validate_text,
)

__all__ = [
    "LanguageGuess",
    "clear_language_cache",
    "detect_language",
    "detect_language_details",
    "fingerprint",
    "normalize_text",
    "remove_links",
    "validate_text",
]
