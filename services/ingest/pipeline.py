"""The ingest decision for one post: reject (with a reason), drop as duplicate, or accept normalised."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from intentflow.settings import IngestSettings
from intentflow.text.language import detect_language
from intentflow.text.normalize import fingerprint_of_normalized, normalize_text, validate_normalized
from intentflow.v1 import ingest_pb2, post_pb2
from intentflow.wire import post_id, post_key, seconds, timestamp
from services.ingest.dedup import RecentTexts, SeenWindow

LANGUAGES = {"ru", "uk", "en", "other"}
MAX_FIELD_CHARS = 2048
MAX_METADATA_ENTRIES = 64


@dataclass
class Decision:
    verdict: int
    reason: str = ""
    post: post_pb2.Post | None = None
    seen_keys: list[str] = field(default_factory=list)  # what the duplicate window remembered for it


class IngestPipeline:
    def __init__(self, settings: IngestSettings):
        self.settings = settings
        self.seen = SeenWindow(settings.dedup_window_s, settings.dedup_capacity)
        self.recent = RecentTexts(capacity=min(settings.dedup_capacity, 200_000))

    def admit(self, raw: post_pb2.Post, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        reason = self._invalid_fields(raw)
        text = "" if reason else normalize_text(raw.text)   # once: validation, output and fingerprint use it
        reason = reason or validate_normalized(text, self.settings.max_text_chars)
        if reason:
            return Decision(ingest_pb2.VERDICT_REJECTED, reason)
        post = post_pb2.Post()
        post.CopyFrom(raw)
        post.text = text
        post.author = normalize_text(raw.author)
        if post.lang not in LANGUAGES:
            post.lang = detect_language(post.text)
        clamped = ""
        if not post.HasField("created_at"):
            post.created_at.CopyFrom(timestamp(now))
        elif seconds(post.created_at) > now + self.settings.max_future_s:
            # A clock that runs ahead must not float a post to the top of the queues: clamp, keep the post.
            clamped = (f"created_at {seconds(post.created_at) - now:.0f} s in the future, "
                       f"clamped to the time of ingest")
            post.created_at.CopyFrom(timestamp(now))
        key = post_key(post)
        seen_keys = self._keys(post, text)
        duplicate = self.seen.check_and_add(seen_keys, now)
        if duplicate:
            kind = "same network and id" if duplicate.startswith("id:") else "same text"
            return Decision(ingest_pb2.VERDICT_DUPLICATE, f"duplicate: {kind} seen within the window")
        if post.parent_id and not post.parent_text:
            post.parent_text = self.recent.get(post_id(post.network, post.parent_id)) or ""
        self.recent.put(key, post.text)
        return Decision(ingest_pb2.VERDICT_ACCEPTED, clamped, post=post, seen_keys=seen_keys)

    @staticmethod
    def seen_keys(post: post_pb2.Post) -> list[str]:
        """What identifies a post as it came in (not yet normalised) for duplicate detection."""
        return IngestPipeline._keys(post, normalize_text(post.text))

    @staticmethod
    def _keys(post: post_pb2.Post, normalized_text: str) -> list[str]:
        return [f"id:{post_key(post)}", f"text:{fingerprint_of_normalized(normalized_text)}"]

    def forget(self, decisions: list[Decision]) -> None:
        self.seen.forget([k for d in decisions for k in d.seen_keys])

    def _invalid_fields(self, post: post_pb2.Post) -> str | None:
        size = post.ByteSize()
        if size > self.settings.max_post_bytes:
            return f"post is too large: {size} bytes, the limit is {self.settings.max_post_bytes}"
        if not post.id.strip():
            return "missing required field: id"
        if not post.network.strip():
            return "missing required field: network"
        for name in ("id", "network", "author", "url", "parent_id"):
            if len(getattr(post, name)) > MAX_FIELD_CHARS:
                return f"field {name} longer than {MAX_FIELD_CHARS} characters"
        if len(post.metadata) > MAX_METADATA_ENTRIES:
            return f"more than {MAX_METADATA_ENTRIES} metadata entries"
        return None
