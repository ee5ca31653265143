"""Shared fixtures of the match tests: the real encoder and a match application on a fresh SQLite store."""
from __future__ import annotations

from pathlib import Path

import pytest

from intentflow.embedding import load_embedder
from intentflow.nlp.linguistics import Linguistics
from intentflow.settings import MatchSettings
from services.match.application import MatchApplication
from services.match.store import open_store
from services.match.subscriptions import SubscriptionHub


@pytest.fixture(scope="session")
def embedder():
    return load_embedder("use-multilingual", 1)


def new_app(root: Path, embedder, index: str = "index", **settings) -> MatchApplication:
    """A match application over the SQLite store under `root` and the index folder `root/index` (not loaded
    yet). Two of them on one `root` with different `index` are two match processes sharing a store."""
    config = MatchSettings(database_url=f"sqlite:///{root}/m.db", index_dir=str(root / index), **settings)
    return MatchApplication(config, open_store(config.database_url), embedder, Linguistics(), SubscriptionHub())
