"""MATCH_RETENTION_DAYS in the match service: the hourly purge, and a candidate index that drops the vectors
of posts removed by another process (`intentflow erase`, `intentflow store purge`)."""
from __future__ import annotations

import time

import numpy as np

from services.match.retention import DAY_S, retention_cutoff
from services.match.store import PostRef, open_store
from tests.services.match.conftest import new_app
from tests.services.match.store.test_store import make_item


def vector(dim: int, post_id: str) -> np.ndarray:
    v = np.random.default_rng(list(post_id.encode())).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def job_post(app, post_id: str, author: str, created_at: float) -> int:
    post = PostRef(post_id, network="vk", author=author, text=f"looking for work {post_id}", created_at=created_at)
    return app.candidates.add(post, vector(app.embedder.dim, post_id), 0.9)


def test_zero_days_keeps_everything():
    assert retention_cutoff(0, 1_000_000.0) is None
    assert retention_cutoff(90, 1_000_000_000.0) == 1_000_000_000.0 - 90 * DAY_S


def test_the_service_purges_posts_past_retention_with_their_vectors(tmp_path, embedder):
    now = time.time()
    app = new_app(tmp_path, embedder, reranker=False, retention_days=90)
    app.load()
    job_post(app, "vk:old", "a", now - 100 * DAY_S)
    fresh = job_post(app, "vk:fresh", "b", now - DAY_S)
    app.store.add_queue_item(make_item("vk:old-lead", created_at=now - 100 * DAY_S), now=now)
    assert app.prune(now) == 3, "the job post, the lead and its item_posts row"
    assert app.candidates.size == 1 and [r[0] for r in app.store.iter_job_posts()] == [fresh]
    assert app.store.list_items("lead") == []
    app.close()

    keep = new_app(tmp_path / "keep", embedder, reranker=False, retention_days=0)
    keep.load()
    job_post(keep, "vk:ancient", "a", 0.0)
    assert keep.prune(now) == 0 and keep.candidates.size == 1, "0 days = keep forever"
    keep.close()


def test_vectors_of_posts_erased_by_another_process_leave_the_index(tmp_path, embedder):
    app = new_app(tmp_path, embedder, reranker=False)
    app.load()
    job_post(app, "vk:1", "olga", time.time())
    kept = job_post(app, "vk:2", "petr", time.time())
    assert app.candidates.reconcile() is False, "nothing removed elsewhere"
    with open_store(app.settings.database_url) as cli:
        cli.erase_author("olga")
    assert app.candidates.reconcile() is True
    assert app.candidates.size == 1
    assert [job_id for job_id, _ in app.candidates.index.search(vector(app.embedder.dim, "vk:1"), 5)] == [kept]
    app.close()
