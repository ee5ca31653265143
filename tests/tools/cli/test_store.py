"""`intentflow store purge`, `intentflow erase` and `intentflow audit` on a real SQLite store (and, for the
erasure's tombstones, the embedded broker)."""
from __future__ import annotations

import json
import time

import pytest

from intentflow.kafka_io import ensure_topics, make_consumer, topic_partitions
from intentflow.settings import KafkaSettings
from services.match.retention import DAY_S
from services.match.store import open_store
from services.match.store.audit import subject_hash
from tests.services.match.store.test_store import make_item
from tools.cli import main


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    """A store with one lead 100 days old and one a day old, the first by olga; INTENTFLOW_DATABASE_URL set."""
    url = f"sqlite:///{tmp_path}/intentflow.db"
    now = time.time()
    with open_store(url) as store:
        store.add_queue_item(make_item("vk:old", author="olga", created_at=now - 100 * DAY_S), now=now)
        store.add_queue_item(make_item("vk:new", author="petr", created_at=now - DAY_S), now=now)
        store.record_audit("3f2a9c1d7e4b", "sales", "PullLeads", 5, at=now - 3600)
        store.record_audit("aaaaaaaaaaaa", "recruiter", "PullCandidates", 2, at=now - 7200)
    monkeypatch.setenv("INTENTFLOW_DATABASE_URL", url)
    monkeypatch.delenv("MATCH_RETENTION_DAYS", raising=False)
    return url


def run(capsys, *argv: str, code: int = 0) -> tuple[str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    captured = capsys.readouterr()
    assert stop.value.code == code, captured.err
    return captured.out.strip(), captured.err


def authors(url: str) -> list[str]:
    with open_store(url) as store:
        return sorted(item.post.author for item in store.list_items("lead"))


def test_purge_removes_what_is_past_the_retention_and_counts_it(database, capsys):
    out, _ = run(capsys, "store", "purge")
    assert out.startswith("removed 2 rows about posts written before") and "(90 days)" in out
    assert out.endswith(": 1 item_posts, 1 queue_items")
    assert authors(database) == ["petr"]
    out, _ = run(capsys, "store", "purge", "--days", "0.5")
    assert out.startswith("removed 2 rows") and authors(database) == []


def test_purge_refuses_a_retention_of_zero_days(database, capsys, monkeypatch):
    monkeypatch.setenv("MATCH_RETENTION_DAYS", "0")
    _, err = run(capsys, "store", "purge", code=2)
    assert "keep forever" in err and authors(database) == ["olga", "petr"]


def test_a_wrong_sqlite_path_is_an_error_not_a_new_store(tmp_path, capsys):
    _, err = run(capsys, "audit", "--database-url", f"sqlite:///{tmp_path}/missing.db", code=2)
    assert "no store at" in err and not (tmp_path / "missing.db").exists()


def test_erase_dry_run_then_for_real_with_tombstones_and_an_audit_row(database, capsys, monkeypatch, broker):
    out, _ = run(capsys, "erase", "--author", "olga", "--network", "vk", "--dry-run")
    assert out == f"would erase subject {subject_hash('olga', 'vk')}: 1 posts, 1 leads, 0 candidates, 0 complaints"
    assert authors(database) == ["olga", "petr"]
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    ensure_topics(kafka, topic_partitions(kafka))
    out, _ = run(capsys, "erase", "--author", "olga", "--network", "vk")
    consumer = make_consumer(kafka, None, [kafka.topic_clean, kafka.topic_leads], consumer_timeout_ms=3000)
    tombstones = sorted((r.topic, r.key.decode(), r.value) for r in consumer)
    consumer.close()
    assert out.startswith(f"erased subject {subject_hash('olga', 'vk')}: 2 rows (1 item_posts, 1 queue_items); "
                          "3 tombstones on posts.clean, posts.classified, leads.sales, signals.hr")
    assert tombstones == [("leads.sales", make_item("vk:old").id, None), ("posts.clean", "vk:old", None)]
    assert authors(database) == ["petr"]
    table, _ = run(capsys, "audit", "--method", "Erase")
    assert "Erase" in table and subject_hash("olga", "vk")[:16] in table and "olga" not in table


def test_audit_lists_rows_newest_first_with_filters(database, capsys):
    table, _ = run(capsys, "audit")
    header, _rule, *rows = table.splitlines()
    assert header.split() == ["time", "(UTC)", "token", "role", "method", "count", "subject"]
    assert [row.split()[3] for row in rows] == ["PullLeads", "PullCandidates"]
    lines, _ = run(capsys, "audit", "--token-id", "aaaaaaaaaaaa", "--json")
    [entry] = [json.loads(line) for line in lines.splitlines()]
    assert (entry["role"], entry["method"], entry["count"], entry["subject"]) == ("recruiter", "PullCandidates", 2, "")
    recent = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5400))
    table, _ = run(capsys, "audit", "--since", recent, "--limit", "5")
    assert "PullLeads" in table and "PullCandidates" not in table
    _, err = run(capsys, "audit", "--limit", "0", code=2)
    assert "--limit" in err
