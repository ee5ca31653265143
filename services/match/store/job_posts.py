"""Job-seeking posts with their embeddings, the corpus for semantic candidate search."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .db import StoreBase, insert_sql, marks
from .models import PostRef
from .rows import POST_COLUMNS, post_from_row, post_to_row

# Batches keep memory flat and never hold a connection while the caller consumes the iterator.
_BATCH = 500
_EMBEDDING_DTYPE = np.dtype("<f4")


class JobPostsMixin(StoreBase):
    def add_job_post(self, post: PostRef, embedding: np.ndarray, probability: float) -> int:
        """Returns the post's integer id; adding the same post_id again returns the same id and
        keeps the first embedding. Ids are never reused, even after pruning."""
        if not post.post_id:
            raise ValueError("job post needs post_id")
        vector = np.asarray(embedding, dtype=_EMBEDDING_DTYPE)
        if vector.ndim != 1 or vector.size == 0:
            raise ValueError(f"embedding must be a non-empty 1-D vector, got shape {vector.shape}")
        row = post_to_row(post)
        cols = POST_COLUMNS + ("probability", "embedding")
        params = [row[c] for c in POST_COLUMNS] + [float(probability), vector.tobytes()]
        with self._tx(write=True) as cur:
            new_id = cur.scalar(
                insert_sql("job_posts", cols, " ON CONFLICT (post_id) DO NOTHING RETURNING id"),
                params)
            if new_id is None:
                new_id = cur.scalar("SELECT id FROM job_posts WHERE post_id = ?", (post.post_id,))
        return int(new_id)

    def iter_job_posts(self, since: float | None = None, after_id: int = 0
                       ) -> Iterator[tuple[int, PostRef, float, np.ndarray]]:
        """(id, post, probability, embedding) in id order, ids above `after_id`; `since` filters on post
        created_at."""
        last_id = after_id
        where = "id > ?" + ("" if since is None else " AND post_created_at >= ?")
        while True:
            with self._tx() as cur:
                rows = cur.all(f"SELECT * FROM job_posts WHERE {where} ORDER BY id LIMIT ?",
                               [last_id] + ([] if since is None else [since]) + [_BATCH])
            for r in rows:
                vector = np.frombuffer(bytes(r["embedding"]), dtype=_EMBEDDING_DTYPE)
                yield (int(r["id"]), post_from_row(r), float(r["probability"]),
                       vector.astype(np.float32))
            if len(rows) < _BATCH:
                return
            last_id = int(rows[-1]["id"])

    def get_job_posts(self, ids: Sequence[int]) -> dict[int, tuple[PostRef, float]]:
        """Missing ids (e.g. pruned) are simply absent from the result."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, tuple[PostRef, float]] = {}
        with self._tx() as cur:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start:start + _BATCH]
                for r in cur.all(f"SELECT id, {', '.join(POST_COLUMNS)}, probability FROM job_posts"
                                 f" WHERE id IN ({marks(chunk)})", chunk):
                    out[int(r["id"])] = (post_from_row(r), float(r["probability"]))
        return out

    def prune_job_posts(self, before: float) -> list[int]:
        """Delete posts created before `before`; returns their ids so an index can drop them."""
        with self._tx(write=True) as cur:
            rows = cur.all("DELETE FROM job_posts WHERE post_created_at < ? RETURNING id",
                           (before,))
        return sorted(int(r["id"]) for r in rows)

    def last_job_post_id(self) -> int:
        with self._tx() as cur:
            return int(cur.scalar("SELECT COALESCE(MAX(id), 0) FROM job_posts"))

    def count_job_posts(self) -> int:
        with self._tx() as cur:
            return int(cur.scalar("SELECT COUNT(*) FROM job_posts"))
