"""Text clean-up, duplicate fingerprints and input validation for social posts."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Invisible characters survive copy-paste from messengers and split words for every
# downstream tokenizer; other C0/C1 controls are noise from broken exports.
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f"
    "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
# Lone surrogates come from bytes decoded with errors="surrogateescape"; they cannot be
# encoded back to UTF-8, so they are turned into the standard replacement character.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_LINE_BREAK_RE = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_SPACE_RUN_RE = re.compile("[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_SPACE_AROUND_NEWLINE_RE = re.compile(" ?\n ?")
_MANY_NEWLINES_RE = re.compile("\n{3,}")

_TLDS = "com|net|org|ru|ua|by|kz|su|io|me|ly|info|рф|укр"
_LINK_RE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|@\w+"
    rf"|\b[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS})\b(?:/\S*)?",
    re.IGNORECASE,
)
# Trying the bare-domain branch at every word start is slow; most posts have no web address,
# and this literal-led pattern rules that out several times faster. Without one, only e-mails
# and @mentions can match (tweets are full of "@user"), and a pattern for those two is enough.
_WEB_HINT_RE = re.compile(rf"://|www\.|\.(?:{_TLDS})\b", re.IGNORECASE)
_MAIL_OR_MENTION_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|@\w+", re.IGNORECASE)
# Stress marks and similar combining accents that NFC cannot fold into a letter.
_COMBINING_MARK_RE = re.compile("[\u0300-\u036f]")
_NON_WORD_RE = re.compile(r"[\W_]+")

REPLACEMENT_CHAR = "\ufffd"
MAX_UNDECODABLE_SHARE = 0.5


def normalize_text(text: str) -> str:
    """Canonical form of a post: NFC, no invisible characters, tidy whitespace."""
    text = _INVISIBLE_RE.sub("", text)
    text = _SURROGATE_RE.sub(REPLACEMENT_CHAR, text)
    text = _LINE_BREAK_RE.sub("\n", text)
    text = unicodedata.normalize("NFC", text)
    text = _SPACE_RUN_RE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE_RE.sub("\n", text)
    text = _MANY_NEWLINES_RE.sub("\n\n", text)
    return text.strip()


def remove_links(text: str) -> str:
    """Replace URLs, e-mails, bare domains and @mentions with a space."""
    if _WEB_HINT_RE.search(text):
        return _LINK_RE.sub(" ", text)
    if "@" in text:
        return _MAIL_OR_MENTION_RE.sub(" ", text)
    return text


def fingerprint(text: str) -> str:
    """Stable 128-bit hex hash that ignores case, links, mentions, punctuation and emoji.

    Fingerprints are persisted for deduplication, so any change here invalidates
    stored values (a test pins a known digest).
    """
    return fingerprint_of_normalized(normalize_text(text))


def fingerprint_of_normalized(text: str) -> str:
    """`fingerprint` of a text that is already `normalize_text`'s output (ingest normalises once per post)."""
    text = remove_links(text).casefold().replace("ё", "е")
    text = _COMBINING_MARK_RE.sub("", text)
    text = _NON_WORD_RE.sub(" ", text).strip()
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def validate_text(text: str, max_chars: int) -> str | None:
    """Return why a post cannot be processed, or None when it is fine."""
    if not isinstance(text, str):
        return f"text must be a string, got {type(text).__name__}"
    return validate_normalized(normalize_text(text), max_chars)


def validate_normalized(text: str, max_chars: int) -> str | None:
    """`validate_text` of a text that is already `normalize_text`'s output."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    if not text:
        return "text is empty after normalisation"
    if len(text) > max_chars:
        return f"text is too long: {len(text)} characters, the limit is {max_chars}"
    visible = len("".join(text.split()))
    undecodable = text.count(REPLACEMENT_CHAR)
    if undecodable / visible > MAX_UNDECODABLE_SHARE:
        return (
            f"text is mostly undecodable: {undecodable} of {visible} characters"
            " are U+FFFD replacement characters"
        )
    return None
