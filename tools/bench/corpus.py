"""The benchmark corpus: a realistic stream of unique posts built from the shipped, hand-written corpora.

A real feed carries few signals: most posts are everyday chatter or look-alikes (shop ads, hiring posts,
customer complaints) and only a few percent are purchase intent, job seeking or employer complaints. The
shipped corpora are the other way round (about half positives), so the generator samples each pool with
replacement to the requested mix.

Ingest drops a text it saw within its window (fingerprint: case, punctuation, emoji and links ignored), so
every reuse of a corpus text gets a short suffix that survives the fingerprint: an emoji, a hashtag and a
number, e.g. "… 🙂 #kyiv 7". The first use of a text is verbatim.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from intentflow.text.normalize import fingerprint
from intentflow.wire import post_id

DATA = Path(__file__).resolve().parents[2] / "data"
POSITIVE, LOOKALIKE, NEUTRAL = "positive", "lookalike", "neutral"
# Corpus kinds (data/README.md) that are ordinary chatter rather than hard negatives.
NEUTRAL_KINDS = {"neutral", ""}
EMOJI = ("🙂", "🔥", "👍", "🙏", "😅", "🤔", "✨", "💬")
TAGS = ("kyiv", "moscow", "london", "lviv", "spb", "odesa", "berlin", "minsk", "warsaw", "tbilisi")


@dataclass(frozen=True)
class SourceText:
    text: str
    labels: tuple[str, ...]
    kind: str
    network: str
    parent_text: str = ""

    @property
    def pool(self) -> str:
        if self.labels:
            return POSITIVE
        return NEUTRAL if self.kind in NEUTRAL_KINDS else LOOKALIKE


@dataclass(frozen=True)
class Mix:
    positive_share: float = 0.04
    # Share of the negatives that are hard look-alikes; the rest is neutral chatter.
    lookalike_share: float = 0.5

    def __post_init__(self):
        for name in ("positive_share", "lookalike_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within 0..1")


@dataclass(frozen=True)
class BenchPost:
    id: str
    network: str
    author: str
    text: str
    labels: tuple[str, ...]
    pool: str
    parent_id: str = ""
    parent_text: str = ""

    @property
    def key(self) -> str:
        return post_id(self.network, self.id)

    @property
    def positive(self) -> bool:
        return bool(self.labels)

    def to_json(self, created_at: float) -> bytes:
        """proto3 JSON `Post`, the format of data/demo/posts.jsonl; `lang` empty so ingest detects it.

        Comments carry their parent's text, as a connector that fetches thread context would send them.
        """
        row = {"id": self.id, "network": self.network, "author": self.author,
               "url": f"https://{self.network}.example/p/{self.id}", "text": self.text, "lang": "",
               "createdAt": rfc3339(created_at)}
        if self.parent_id:
            row.update(parentId=self.parent_id, parentText=self.parent_text)
        return json.dumps(row, ensure_ascii=False).encode("utf-8")


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_sources(data: Path = DATA) -> list[SourceText]:
    """Every shipped post text (labelled corpora and the demo feed), each text once by fingerprint."""
    sources: list[SourceText] = []
    for path in sorted((data / "classify").glob("*.jsonl")):
        for row in _rows(path):
            sources.append(SourceText(row["text"], tuple(row.get("labels") or ()), row.get("kind") or "",
                                      row.get("network") or "forum", row.get("parent_text") or ""))
    for row in _rows(data / "demo" / "posts.jsonl"):
        gold = (row.get("metadata") or {}).get("gold", "none")
        sources.append(SourceText(row["text"], () if gold == "none" else (gold,), "" if gold == "none" else gold,
                                  row.get("network") or "forum"))
    seen: set[str] = set()
    unique = []
    for source in sources:
        fp = fingerprint(source.text)
        if source.text.strip() and fp not in seen:  # the demo feed has an empty post on purpose
            seen.add(fp)
            unique.append(source)
    return unique


def _rows(path: Path) -> Iterable[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def suffix(occurrence: int) -> str:
    """'' for the first use of a text, then a distinct emoji/hashtag/number tail per reuse."""
    if occurrence == 0:
        return ""
    return f" {EMOJI[occurrence % len(EMOJI)]} #{TAGS[(occurrence // len(EMOJI)) % len(TAGS)]} {occurrence}"


class CorpusGenerator:
    """Deterministic (seeded) stream of unique posts; successive `take` calls never repeat an id or a text."""

    def __init__(self, sources: list[SourceText], mix: Mix = Mix(), seed: int = 7, id_prefix: str = "bench"):
        self.mix = mix
        self.id_prefix = id_prefix
        self._rng = random.Random(seed)
        self._pools: dict[str, list[SourceText]] = {POSITIVE: [], LOOKALIKE: [], NEUTRAL: []}
        for source in sources:
            self._pools[source.pool].append(source)
        empty = [name for name, pool in self._pools.items() if not pool]
        if empty:
            raise ValueError(f"no source texts for pools {empty}")
        self._uses: Counter[str] = Counter()
        self._serial = 0

    def take(self, n: int) -> list[BenchPost]:
        positives = round(n * self.mix.positive_share)
        lookalikes = round((n - positives) * self.mix.lookalike_share)
        plan = [POSITIVE] * positives + [LOOKALIKE] * lookalikes + [NEUTRAL] * (n - positives - lookalikes)
        self._rng.shuffle(plan)
        return [self._post(self._rng.choice(self._pools[pool])) for pool in plan]

    def _post(self, source: SourceText) -> BenchPost:
        occurrence = self._uses[source.text]
        self._uses[source.text] += 1
        self._serial += 1
        post_id = f"{self.id_prefix}-{self._serial:07d}"
        return BenchPost(
            id=post_id, network=source.network, author=f"{source.network}_user{self._serial}",
            text=source.text + suffix(occurrence), labels=source.labels, pool=source.pool,
            parent_id=f"{post_id}-parent" if source.parent_text else "", parent_text=source.parent_text)


def describe(posts: list[BenchPost]) -> dict:
    """What the generated stream contains (reported with the results)."""
    pools = Counter(p.pool for p in posts)
    return {"posts": len(posts), "positive_share": round(pools[POSITIVE] / len(posts), 4) if posts else 0.0,
            "pools": dict(pools), "comments_with_parent": sum(1 for p in posts if p.parent_id),
            "labels": dict(Counter(label for p in posts for label in p.labels)),
            "mean_chars": round(sum(len(p.text) for p in posts) / len(posts), 1) if posts else 0.0}
