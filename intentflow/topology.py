"""The shape of the pipeline, declared once: every topic (its key and message type) and every service
(which topic it consumes with which consumer group, what it produces, which ports it serves).

Settings take their defaults from here, the local stack starts and drains services from here, and tests
check the README's topic table and the Kubernetes manifests against it. Names can still be overridden
per deployment through the environment variables named below; read them through `intentflow.settings`.
"""
from __future__ import annotations

from dataclasses import dataclass

INGEST = "ingest"
CLASSIFY = "classify"
MATCH = "match"
SERVICES = (INGEST, CLASSIFY, MATCH)


@dataclass(frozen=True)
class Topic:
    setting: str   # attribute of KafkaSettings that holds the topic's name
    env: str
    default: str
    key: str
    message: str   # protobuf message type of the value
    doc: str
    partitions: int = 0  # partitions when the services create the topic; 0 = KAFKA_TOPIC_PARTITIONS
    # `intentflow erase` writes tombstones (key, null value) here for an erased author's records, and a stage
    # reading the topic skips them: they are deletion markers for compaction, not records to process.
    tombstoned: bool = False


POSTS_RAW = Topic("topic_raw", "TOPIC_POSTS_RAW", "posts.raw", "post id `network:id` (optional)",
                  "intentflow.v1.Post", "Input posts (protobuf or proto3-JSON `Post`)")
POSTS_CLEAN = Topic("topic_clean", "TOPIC_POSTS_CLEAN", "posts.clean", "post id `network:id`",
                    "intentflow.v1.Post", "Validated, normalised, de-duplicated posts", tombstoned=True)
POSTS_CLASSIFIED = Topic("topic_classified", "TOPIC_POSTS_CLASSIFIED", "posts.classified", "post id `network:id`",
                         "intentflow.v1.ClassifiedPost", "`ClassifiedPost` with embedding", tombstoned=True)
LEADS_SALES = Topic("topic_leads", "TOPIC_LEADS_SALES", "leads.sales", "lead id",
                    "intentflow.v1.Lead", "`Lead` messages for sales", tombstoned=True)
SIGNALS_HR = Topic("topic_hr", "TOPIC_SIGNALS_HR", "signals.hr", "candidate, complaint or alert id",
                   "intentflow.v1.HrSignal", "`HrSignal` messages (candidate, complaint, alert)", tombstoned=True)
POSTS_DLQ = Topic("topic_dlq", "TOPIC_POSTS_DLQ", "posts.dlq", "key of the rejected record",
                  "bytes of the rejected record", "Rejected input with the reason in headers", partitions=1)
TOPICS = (POSTS_RAW, POSTS_CLEAN, POSTS_CLASSIFIED, LEADS_SALES, SIGNALS_HR, POSTS_DLQ)


@dataclass(frozen=True)
class Service:
    name: str
    consumes: Topic
    group_env: str
    group_default: str
    produces: tuple[Topic, ...]
    grpc_service: str
    grpc_env: str
    grpc_port: int
    metrics_env: str
    metrics_port: int


SERVICE_SPECS = {
    INGEST: Service(INGEST, POSTS_RAW, "INGEST_GROUP_ID", "intentflow-ingest", (POSTS_CLEAN, POSTS_DLQ),
                    "intentflow.v1.IngestService", "INGEST_GRPC_PORT", 50051, "INGEST_METRICS_PORT", 9101),
    CLASSIFY: Service(CLASSIFY, POSTS_CLEAN, "CLASSIFY_GROUP_ID", "intentflow-classify", (POSTS_CLASSIFIED, POSTS_DLQ),
                      "intentflow.v1.ClassifyService", "CLASSIFY_GRPC_PORT", 50052, "CLASSIFY_METRICS_PORT", 9102),
    MATCH: Service(MATCH, POSTS_CLASSIFIED, "MATCH_GROUP_ID", "intentflow-match", (LEADS_SALES, SIGNALS_HR, POSTS_DLQ),
                   "intentflow.v1.MatchService", "MATCH_GRPC_PORT", 50053, "MATCH_METRICS_PORT", 9103),
}


def partitions_of(topic: Topic, default: int) -> int:
    """Partitions a topic is created with: its own count, else the deployment's default."""
    return topic.partitions or default


def producers_of(topic: Topic) -> list[str]:
    return [s.name for s in SERVICE_SPECS.values() if topic in s.produces]


def consumers_of(topic: Topic) -> list[Service]:
    return [s for s in SERVICE_SPECS.values() if s.consumes == topic]


def markdown_table() -> str:
    """The README's topic table (default names; `intentflow config --topics` prints it)."""
    rows = ["| topic | key | value | written by | read by (consumer group) |", "| --- | --- | --- | --- | --- |"]
    for topic in TOPICS:
        writers = ", ".join(producers_of(topic)) or "crawlers, `intentflow push`"
        readers = ", ".join(f"{s.name} (`{s.group_default}`)" for s in consumers_of(topic)) or "other systems"
        rows.append(f"| `{topic.default}` | {topic.key} | `{topic.message}` | {writers} | {readers} |")
    return "\n".join(rows)
