"""The benchmark corpus: a realistic stream of unique posts.

A real feed carries few signals: most posts are everyday chatter and only a small share are purchase
intent, job seeking or employer complaints. Two streams:
  - real (default, `load_real_stream`): the background is real public posts from data/real/chatter (ru, uk
    and en; see data/real/chatter/SOURCES.md), with written positives (dev split and the training corpus's
    positives) injected at a stated prevalence, by default one post in 200 (`intentflow bench --prevalence`).
    Real posts are longer and more varied than written ones, and they decide how much the first stage
    (services/classify/prefilter.py) keeps away from the encoder.
  - written (`load_sources`): the shipped, hand-written corpora (about half positives), mixed as `Mix` says:
    positives, hard look-alikes (shop ads, hiring posts, customer complaints) and neutral chatter.
The generator samples each pool with replacement to the requested mix.

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
POSITIVE, LOOKALIKE, NEUTRAL, BACKGROUND = "positive", "lookalike", "neutral", "background"
DEFAULT_PREVALENCE = 200  # real stream: one injected positive per this many posts
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
    lang: str = ""
    real: bool = False     # a real public post (data/real/chatter): the background of the real stream

    @property
    def pool(self) -> str:
        if self.labels:
            return POSITIVE
        if self.real:
            return BACKGROUND
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
    lang: str = ""         # what the source row says; not sent (ingest detects the language)

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
    return _unique(sources)


def load_real_stream(data: Path = DATA) -> list[SourceText]:
    """Real background posts (every unlabelled row of data/real/chatter) and the written positives to inject
    (labelled rows of classify/dev_*.jsonl and classify/train_*.jsonl), each text once by fingerprint.

    The few hand-labelled real positives in the chatter files are left out, so every positive in the stream
    is one that was injected at the stated prevalence."""
    sources: list[SourceText] = []
    for path in sorted((data / "real" / "chatter").glob("*.jsonl")):
        for row in _rows(path):
            if not row.get("labels"):
                sources.append(SourceText(row["text"], (), row.get("kind") or "", row.get("network") or "forum",
                                          lang=row.get("lang") or "", real=True))
    for pattern in ("dev_*.jsonl", "train_*.jsonl"):
        for path in sorted((data / "classify").glob(pattern)):
            for row in _rows(path):
                if row.get("labels"):
                    sources.append(SourceText(row["text"], tuple(row["labels"]), row.get("kind") or "",
                                              row.get("network") or "forum", row.get("parent_text") or "",
                                              row.get("lang") or ""))
    return _unique(sources)


def _unique(sources: list[SourceText]) -> list[SourceText]:
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


def real_mix(prevalence: int = DEFAULT_PREVALENCE) -> Mix:
    """One positive per `prevalence` posts; with real background sources every negative is a real post."""
    if prevalence < 1:
        raise ValueError("prevalence must be at least 1 (one positive per N posts)")
    return Mix(positive_share=1 / prevalence, lookalike_share=0.0)


class CorpusGenerator:
    """Deterministic (seeded) stream of unique posts; successive `take` calls never repeat an id or a text.

    When the sources include real background posts (`load_real_stream`), every negative is drawn from them and
    `Mix.lookalike_share` is not used; otherwise negatives are look-alikes and neutral posts as `Mix` says."""

    def __init__(self, sources: list[SourceText], mix: Mix = Mix(), seed: int = 7, id_prefix: str = "bench"):
        self.mix = mix
        self.id_prefix = id_prefix
        self._rng = random.Random(seed)
        self._pools: dict[str, list[SourceText]] = {POSITIVE: [], LOOKALIKE: [], NEUTRAL: [], BACKGROUND: []}
        for source in sources:
            self._pools[source.pool].append(source)
        self.real = bool(self._pools[BACKGROUND])
        needed = [POSITIVE] + ([BACKGROUND] if self.real else [LOOKALIKE, NEUTRAL])
        empty = [name for name in needed if not self._pools[name]]
        if empty:
            raise ValueError(f"no source texts for pools {empty}")
        self._uses: Counter[str] = Counter()
        self._serial = 0

    def take(self, n: int) -> list[BenchPost]:
        positives = round(n * self.mix.positive_share)
        if self.real:
            plan = [POSITIVE] * positives + [BACKGROUND] * (n - positives)
        else:
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
            parent_id=f"{post_id}-parent" if source.parent_text else "", parent_text=source.parent_text,
            lang=source.lang)


def describe(posts: list[BenchPost]) -> dict:
    """What the generated stream contains (reported with the results)."""
    pools = Counter(p.pool for p in posts)
    return {"posts": len(posts), "positive_share": round(pools[POSITIVE] / len(posts), 4) if posts else 0.0,
            "pools": dict(pools), "comments_with_parent": sum(1 for p in posts if p.parent_id),
            "labels": dict(Counter(label for p in posts for label in p.labels)),
            "langs": dict(Counter(p.lang or "unknown" for p in posts)),
            "mean_chars": round(sum(len(p.text) for p in posts) / len(posts), 1) if posts else 0.0}
