"""`intentflow store purge`, `intentflow erase` and `intentflow audit`: commands on the match store itself
(INTENTFLOW_DATABASE_URL), for operators with access to the database rather than API callers."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from intentflow import topology
from intentflow.settings import MatchSettings, from_env
from services.match.erasure import erase_author
from services.match.retention import retention_cutoff
from services.match.store import Store, open_store
from services.match.store.audit import subject_hash
from services.match.store.retention import Removed
from tools.cli.stack import broker_or_embedded
from tools.cli.tables import print_table


def _open(args, settings: MatchSettings) -> Store:
    """The store at --database-url, else INTENTFLOW_DATABASE_URL; a SQLite file must exist already, so that a
    wrong path is an error instead of a new, empty store."""
    url = args.database_url or settings.database_url
    if url.startswith("sqlite:"):
        path = url.split("://", 1)[1]
        if path != ":memory:" and not Path(path).exists():
            raise ValueError(f"no store at {path}: set INTENTFLOW_DATABASE_URL or pass --database-url")
    return open_store(url)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _summary(removed: Removed) -> str:
    return ", ".join(f"{count} {table}" for table, count in sorted(removed.rows.items()) if count) or "nothing"


def purge(args) -> int:
    settings = from_env(MatchSettings)
    days = settings.retention_days if args.days is None else args.days
    cutoff = retention_cutoff(days, time.time())
    if cutoff is None:
        raise ValueError("the retention is 0 days (keep forever): nothing to purge; pass --days N to purge anyway")
    with _open(args, settings) as store, tqdm(desc="purge", unit="row", file=sys.stderr, disable=None) as bar:
        removed = store.purge_before(cutoff, progress=lambda so_far: bar.update(so_far.total - bar.n))
    print(f"removed {removed.total} rows about posts written before {_iso(cutoff)} ({days:g} days): "
          f"{_summary(removed)}")
    return 0


def erase(args) -> int:
    settings = from_env(MatchSettings)
    subject = subject_hash(args.author, args.network)
    with _open(args, settings) as store:
        if args.dry_run:
            keys = store.author_keys(args.author, args.network)
            print(f"would erase subject {subject}: {len(keys.post_ids)} posts, {len(keys.lead_ids)} leads, "
                  f"{len(keys.candidate_ids)} candidates, {len(keys.complaint_ids)} complaints")
            return 0
        erasure = erase_author(store, broker_or_embedded(settings.kafka), args.author, args.network)
    topics = ", ".join(settings.kafka.name(t) for t in topology.TOPICS if t.tombstoned)
    print(f"erased subject {subject}: {erasure.removed.total} rows ({_summary(erasure.removed)}); "
          f"{erasure.tombstones} tombstones on {topics}; recorded in the audit log")
    return 0


def audit(args) -> int:
    if args.limit <= 0:
        raise ValueError("--limit must be positive")
    since = None
    if args.since:
        moment = datetime.fromisoformat(args.since)
        since = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    with _open(args, from_env(MatchSettings)) as store:
        entries = store.audit_entries(token_id=args.token_id, method=args.method, since=since, limit=args.limit)
    if args.json:
        for entry in entries:
            print(json.dumps({**asdict(entry), "at": _iso(entry.at)}))
        return 0
    print_table(("time (UTC)", "token", "role", "method", "count", "subject"),
                [(_iso(e.at), e.token_id or "-", e.role or "-", e.method, e.count, e.subject[:16] or "-")
                 for e in entries], out=sys.stdout)
    return 0
