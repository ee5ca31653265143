"""Job-seeking posts for recruiter search: rows in the store and vectors in the FAISS index, kept in step."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from intentflow import topology
from intentflow.metrics import INDEX_SIZE
from intentflow.settings import MatchSettings
from services.match.matching.search import CandidateIndex
from services.match.priority import priority
from services.match.store import PostRef, Store

SERVICE = topology.MATCH
# Job-post ids are handed out at insert, so a row may commit after a higher id did: a catch-up reads again
# this many ids below the highest it has seen. Far more than inserts in flight at once (one per process).
LATE_COMMITS = 256
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidateFilter:
    """What a recruiter narrows a search to; empty fields mean no restriction."""
    languages: Sequence[str] = ()
    since: float | None = None
    location_words: Sequence[str] = ()  # lower-case; every one must occur in the post text

    def passes(self, post: PostRef) -> bool:
        text = post.text.lower()
        return ((not self.languages or post.lang in self.languages)
                and (self.since is None or post.created_at >= self.since)
                and all(w in text for w in self.location_words))


@dataclass(frozen=True)
class CandidateHit:
    job_id: int
    post: PostRef
    probability: float  # that the post is job seeking
    score: float        # similarity to the query
    priority: float


class CandidatePosts:
    """The store's job posts and this process's search index over them. Each match process indexes the posts
    of its own partitions as they come and picks up the ones other processes stored with `catch_up`."""

    def __init__(self, settings: MatchSettings, store: Store, dim: int):
        self.store = store
        self.index = CandidateIndex(dim, settings.index_dir, settings.exact_search_limit, settings.search_nprobe)
        self._lock = threading.Lock()
        self._seen_up_to = 0            # the highest id a catch-up (or the load) has read
        self._recent: set[int] = set()  # ids above _seen_up_to - LATE_COMMITS already in the index

    @property
    def size(self) -> int:
        return self.index.size

    def load(self) -> None:
        self._seen_up_to = self.store.last_job_post_id()  # read first: whatever comes later is caught up
        source = "disk"
        if not self.index.load(self.store.count_job_posts()):
            source = "store"
            self.rebuild()
        log.info("candidate index ready", extra={"source": source, "vectors": self.index.size})

    def rebuild(self) -> None:
        """Build the search index from the store; posts stored meanwhile are added after the swap."""
        rows = list(self.store.iter_job_posts())
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.vstack([r[3] for r in rows]) if rows else np.zeros((0, self.index.dim), np.float32)
        self.index.rebuild(ids, vectors)
        known = set(ids.tolist())
        late = [r for r in self.store.iter_job_posts() if r[0] not in known]
        if late:
            self.index.add([r[0] for r in late], np.vstack([r[3] for r in late]))

    def maybe_upgrade(self) -> None:
        if self.index.outgrew_exact_search():
            log.info("candidate index outgrew exact search; rebuilding as IVF", extra={"vectors": self.index.size})
            self.rebuild()

    def save(self) -> None:
        self.index.save()

    def add(self, post: PostRef, embedding: np.ndarray, probability: float) -> int:
        job_id = self.store.add_job_post(post, embedding, probability)
        self.index.add([job_id], embedding.reshape(1, -1))
        with self._lock:
            self._recent.add(job_id)
        return job_id

    def catch_up(self) -> int:
        """Index the job posts other match processes stored since the last catch-up; returns how many."""
        with self._lock:
            floor = max(0, self._seen_up_to - LATE_COMMITS)
            known = set(self._recent)
        rows = list(self.store.iter_job_posts(after_id=floor))
        new = [r for r in rows if r[0] not in known]
        if new:
            self.index.add([r[0] for r in new], np.vstack([r[3] for r in new]))
        with self._lock:
            self._seen_up_to = max([self._seen_up_to] + [r[0] for r in rows])
            floor = self._seen_up_to - LATE_COMMITS
            self._recent = {i for i in self._recent | {r[0] for r in new} if i > floor}
        INDEX_SIZE.labels(SERVICE, "candidates").set(self.index.size)
        return len(new)

    def forget(self, job_ids: Sequence[int]) -> None:
        """Drop the vectors of job posts this process removed from the store (retention purge)."""
        self.index.remove(job_ids)
        INDEX_SIZE.labels(SERVICE, "candidates").set(self.index.size)

    def reconcile(self) -> bool:
        """Rebuild when the index holds vectors of posts gone from the store, which another process removed
        (`intentflow erase`, `intentflow store purge`); returns whether it did. The size is read before the
        count: posts are stored before they are indexed, so otherwise the index never holds more."""
        size = self.index.size
        if size <= self.store.count_job_posts():
            return False
        log.info("job posts were removed from the store elsewhere; rebuilding the candidate index")
        self.rebuild()
        INDEX_SIZE.labels(SERVICE, "candidates").set(self.index.size)
        return True

    def search(self, query: np.ndarray, top_k: int, where: CandidateFilter,
               now: float | None = None) -> list[CandidateHit]:
        # The filters apply to stored posts after the vector search, so ask for more neighbours than
        # wanted and widen the search until enough pass or the index has no more to give.
        now = time.time() if now is None else now
        k = top_k * 10
        while True:
            found = self.index.search(query, k)
            posts = self.store.get_job_posts([i for i, _ in found])
            hits = [(i, s) for i, s in found if i in posts and where.passes(posts[i][0])]
            if len(hits) >= top_k or len(found) < k:
                break
            k *= 4
        return [CandidateHit(job_id, post, probability, score, priority(probability, score, post.created_at, now))
                for job_id, score in hits[:top_k] for post, probability in [posts[job_id]]]
