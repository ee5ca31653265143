"""Erasing one author, as a person asking to be forgotten would expect: their rows out of the match store, and
tombstones (the record's key with a null value) for their records on the topics we own.

A tombstone makes the broker drop every earlier record with its key once the topic is compacted
(`cleanup.policy=compact` or `compact,delete`); on a topic with `cleanup.policy=delete` only `retention.ms`
removes the records, tombstone or not. Which topics and keys are listed in `keys_by_topic`; the stages that
read them skip tombstones (topology.Topic.tombstoned).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka.errors import KafkaError

from intentflow import topology
from intentflow.kafka_io import OutMessage, make_producer, send_all
from intentflow.settings import KafkaSettings
from services.match.store import Store
from services.match.store.retention import RecordKeys, Removed


def keys_by_topic(keys: RecordKeys) -> dict[topology.Topic, set[str]]:
    """Each tombstoned topic with the keys that an author's stored records have on it."""
    return {topology.POSTS_CLEAN: keys.post_ids, topology.POSTS_CLASSIFIED: keys.post_ids,
            topology.LEADS_SALES: keys.lead_ids, topology.SIGNALS_HR: keys.candidate_ids | keys.complaint_ids}


def tombstones(kafka: KafkaSettings, keys: RecordKeys) -> list[OutMessage]:
    return [OutMessage(kafka.name(topic), key.encode("utf-8"), None)
            for topic, ids in keys_by_topic(keys).items() for key in sorted(ids)]


@dataclass(frozen=True)
class Erasure:
    removed: Removed
    tombstones: int


class TombstonesNotWritten(OSError):
    """The broker did not take the tombstones; the message says whether the rows were erased all the same."""


def erase_author(store: Store, kafka: KafkaSettings, author: str, network: str = "") -> Erasure:
    """Tombstones first, for what the store holds now, then the rows, then tombstones for rows stored in the
    meantime. Once the rows are gone the store no longer knows their keys, so a failed produce must come
    before: it leaves the store as it was, and running the erasure again completes it."""
    known = store.author_keys(author, network)
    first = tombstones(kafka, known)
    _send(kafka, first, "nothing was erased; run the erasure again once the broker is back")
    removed = store.erase_author(author, network)
    late = tombstones(kafka, removed.keys - known)
    _send(kafka, late, f"the rows are erased, but not the {len(late)} records of posts stored meanwhile: "
                       f"their keys are {sorted({m.key.decode() for m in late})}")
    return Erasure(removed, len(first) + len(late))


def _send(kafka: KafkaSettings, messages: Sequence[OutMessage], if_failed: str) -> None:
    if not messages:
        return
    try:
        producer = make_producer(kafka)
        try:
            send_all(producer, messages, timeout_s=kafka.delivery_timeout_ms / 1000 + 5)
        finally:
            producer.close()
    except KafkaError as exc:
        raise TombstonesNotWritten(f"tombstones not written to {kafka.bootstrap_servers} ({exc}): {if_failed}") from exc
