"""Helpers for integration tests: unique ids, producing posts, waiting for effects, health, a local S3 store
for the broker, malformed gRPC calls."""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import grpc
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kafka.structs import TopicPartition

from intentflow.kafka_io import make_consumer, make_producer
from intentflow.v1 import ingest_pb2, match_pb2, post_pb2, profiles_pb2
from intentflow.wire import post_id


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def eventually(check, timeout_s: float = 60, interval_s: float = 0.3):
    """Poll `check` until it returns a truthy value; the last value is returned or the assertion fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"condition not met within {timeout_s}s"
            return value
        time.sleep(interval_s)


def health_status(address: str) -> int:
    """The grpc.health.v1 status of the server at `address` (plaintext), -1 when it does not answer."""
    with grpc.insecure_channel(address) as channel:
        try:
            return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status
        except grpc.RpcError:
            return -1


INPUT_TIMEOUT_S = 300  # how long a test's input may take to be acknowledged by a loaded broker


def produce_json(kafka, posts: list[dict]) -> None:
    """Produce `posts` to posts.raw; raises if any was not acknowledged (flush alone does not), so a test
    never blames the pipeline for an input that never reached the broker.

    A request is never given up while the broker may still be writing it: a retry on a new connection
    would write the partition from two connections at once, and the embedded broker (tools/broker.py)
    can then hide a batch from a consumer at the head of the log, which would be blamed on the pipeline."""
    producer = make_producer(kafka, request_timeout_ms=INPUT_TIMEOUT_S * 1000,
                             delivery_timeout_ms=INPUT_TIMEOUT_S * 1000 + 1000, max_in_flight_requests_per_connection=1)
    futures = [producer.send(kafka.topic_raw, key=post_id(post.get("network", ""), post.get("id", "")).encode(),
                             value=json.dumps(post, ensure_ascii=False).encode()) for post in posts]
    producer.flush(INPUT_TIMEOUT_S * 2)
    for future in futures:
        future.get(timeout=INPUT_TIMEOUT_S)
    producer.close()


def all_leads(match, **filters) -> list:
    leads, token = [], ""
    while True:
        page = match.ListLeads(match_pb2.ListQueueRequest(page_size=500, page_token=token, **filters))
        leads += page.leads
        token = page.next_page_token
        if not token:
            return leads


def end_offsets(kafka, topic: str) -> dict:
    """TopicPartition -> the offset the next record of each partition of `topic` will get."""
    consumer = make_consumer(kafka, None)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    ends = consumer.end_offsets(tps)
    consumer.close()
    return ends


KAYAK_POSTS = [
    "Посоветуйте надувной каяк для рыбалки на озере, бюджет до 40к, что взять?",
    "Хочу купить байдарку для сплавов вдвоем, какую модель посоветуете?",
    "Looking to buy an inflatable kayak for lake trips, any recommendations under $600?",
    "Порадьте надувну байдарку для сплаву річкою, хочу купити до літа",
    "Need a sit-on-top kayak for fishing, which brand should I get?",
    "Подскажите, какой каяк выбрать новичку для моря? Хочу взять в этом месяце",
]


def kayak_product() -> profiles_pb2.ProductProfile:
    product_id = unique("kayaks")
    return profiles_pb2.ProductProfile(
        id=product_id, name="Inflatable kayaks",
        description="Inflatable and sit-on-top kayaks for fishing and river trips (каяки, байдарки; каяки, байдарки)",
        keywords=["каяк", "байдарка", "kayak", "байдарку"],
        # Queue tests are about leasing, not match quality: any purchase post about kayaks qualifies.
        min_score=0.05)


def submit_kayak_leads(ingest, match, count: int, created: list[str]) -> tuple[str, list]:
    """A fresh product and `count` leads for it, each from its own author; its id is added to `created`
    so the test can delete it (a low-threshold test product would otherwise catch later tests' posts)."""
    product = kayak_product()
    match.UpsertProduct(product)
    created.append(product.id)
    posts = [post_pb2.Post(id=unique("k"), network="forum", author=unique("author"),
                           text=f"{KAYAK_POSTS[n % len(KAYAK_POSTS)]} ({unique('ref')})") for n in range(count)]
    ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=posts))
    ids = {p.id for p in posts}

    def matched():
        found = [lead for lead in all_leads(match) if lead.post.id in ids and lead.product_id == product.id]
        return found if len(found) >= count else None
    return product.id, eventually(matched, timeout_s=90)


# -- malformed gRPC requests -------------------------------------------------------------------------------
# Codes a server may answer to a malformed call: each is the server saying what is wrong. UNKNOWN (an
# exception escaped a handler), INTERNAL, UNAVAILABLE or a deadline would be a server bug or a server down.
PROPER_CODES = frozenset({grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                          grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED,
                          grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED})
_HOSTILE_STRINGS = ("", " ", "\u200b\u200b", "\x00", "\x00" * 50, "-1", "0", "NaN", "9" * 40, "'; DROP TABLE leads; --",
                    "%s%n{0}{}", "../../etc/passwd", "ift_x_y", "\u202eevil", "💥" * 300, "null", "{}", "[]",
                    "a\nb\r\nc", "页" * 2000)
_INTS = (0, 1, -1, 7, 2**31 - 1, -2**31, 86400, 86401, 1000, 1001, 100000)
_INT64S = (0, -1, 2**63 - 1, -2**63, 253402300800, -62135596801, 10**15)
# Code points of every plane, controls and combining marks included (no lone surrogates: not encodable).
_CHARS = [chr(c) for c in (*range(0, 0x80), *random.Random(0).sample(range(0x80, 0xD800), 3000),
                           *random.Random(1).sample(range(0xE000, 0x110000), 3000))]
_FLOATS = (0.0, -0.0, 0.5, -0.5, 1.0, 1.5, float("nan"), float("inf"), float("-inf"), 3.4e38, -3.4e38, 1e-45)


def hostile_string(rng: random.Random, small: bool = False) -> str:
    """An odd string; `small` ones (for repeated fields and maps) stay under 200 characters."""
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(_HOSTILE_STRINGS)[:200 if small else None]
    if kind < 0.93 or small:
        return "".join(rng.choices(_CHARS, k=rng.randint(1, 200)))
    if kind < 0.995:
        return rng.choice("aЖ ") * rng.randint(1000, 60000)
    return "x" * rng.randint(1 << 20, 3 << 20)  # 1-3 MB: under the 4 MB gRPC limit, far over any field's sense


def _hostile_scalar(rng: random.Random, field, small: bool = False):
    types = field.__class__
    if field.type == types.TYPE_STRING:
        return hostile_string(rng, small)
    if field.type == types.TYPE_BYTES:
        return rng.randbytes(rng.randint(0, 300))
    if field.type == types.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == types.TYPE_ENUM:  # proto3 enums are open: unknown numbers must be handled too
        known = [v.number for v in field.enum_type.values]
        return rng.choice(known + [-1, 99, 2**31 - 1])
    if field.type in (types.TYPE_FLOAT, types.TYPE_DOUBLE):
        return rng.choice(_FLOATS)
    if field.type in (types.TYPE_INT64, types.TYPE_SINT64, types.TYPE_SFIXED64):
        return rng.choice(_INT64S)
    if field.type in (types.TYPE_UINT32, types.TYPE_FIXED32):
        return rng.choice((0, 1, 2**32 - 1))
    if field.type in (types.TYPE_UINT64, types.TYPE_FIXED64):
        return rng.choice((0, 1, 2**64 - 1))
    return rng.choice(_INTS)


def hostile_message(rng: random.Random, message_class, depth: int = 0):
    """A `message_class` whose fields (each set or not) hold hostile values: huge or odd strings, extreme
    and negative numbers, NaN, unknown enum values, out-of-range timestamps, long repeated fields."""
    message = message_class()
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.35:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            target = getattr(message, field.name)
            for _ in range(rng.choice((1, 3, 200))):
                target[hostile_string(rng, small=True)] = hostile_string(rng, small=True)
        elif field.message_type is not None:
            if depth > 2:
                continue
            values = [hostile_message(rng, GetMessageClass(field.message_type), depth + 1)
                      for _ in range(rng.choice((1, 2, 5)) if field.is_repeated else 1)]
            if field.is_repeated:
                getattr(message, field.name).extend(values)
            else:
                getattr(message, field.name).CopyFrom(values[0])
        elif field.is_repeated:
            count = rng.choice((50, 300, 2000)) if rng.random() < 0.1 else rng.randint(0, 3)
            getattr(message, field.name).extend(_hostile_scalar(rng, field, small=count > 3) for _ in range(count))
        else:
            setattr(message, field.name, _hostile_scalar(rng, field))
    return message


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _in_string_field(rng: random.Random, descriptor, payload: bytes, depth: int = 0) -> bytes:
    """`payload` as the value of a string field of `descriptor`, or of a message field's string field
    (e.g. SubmitPostsRequest.posts[].text); b"" when there is none."""
    strings = [f for f in descriptor.fields if f.type == f.TYPE_STRING]
    if strings:
        return _length_delimited(rng.choice(strings).number, payload)
    for nested in (f for f in descriptor.fields if f.message_type is not None and depth < 2):
        inner = _in_string_field(rng, nested.message_type, payload, depth + 1)
        if inner:
            return _length_delimited(nested.number, inner)
    return b""


def hostile_body(rng: random.Random, message_class) -> tuple[str, bytes]:
    """(kind, request bytes) for one malformed call: a message of hostile values, or bytes that do not even
    parse (random, truncated, bit-flipped, invalid UTF-8 in a string field, nested groups past any limit)."""
    valid = hostile_message(rng, message_class).SerializeToString()
    kind = rng.choices(("values", "random", "truncated", "flipped", "bad-utf8", "deep", "oversized"),
                       (60, 10, 8, 8, 10, 3, 1))[0]
    if kind == "random":
        return kind, rng.randbytes(rng.randint(1, 2000))
    if kind == "truncated" and len(valid) > 1:
        return kind, valid[:rng.randint(1, len(valid) - 1)]
    if kind == "flipped" and valid:
        flipped = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return kind, bytes(flipped)
    if kind == "bad-utf8":
        junk = rng.choice((b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")) * rng.randint(1, 20)
        field_bytes = _in_string_field(rng, message_class.DESCRIPTOR, junk)
        if field_bytes:
            return kind, valid + field_bytes
    if kind == "deep":  # unknown field 15 opened as a group, 10,000 levels deep
        return kind, (_varint(15 << 3 | 3) * 10000) + (_varint(15 << 3 | 4) * 10000)
    if kind == "oversized":  # over the server's 4 MB receive limit
        return kind, valid + _length_delimited(19, b"\x00" * (5 << 20))
    return "values", valid


def fuzz_tokens(tokens: Mapping[str, str], roles: Mapping[str, Collection[str]]) -> Callable[[random.Random, str], str]:
    """The bearer token of each fuzz call, from `tokens` (role -> token) and `roles` (method -> roles allowed;
    admin only when missing): most calls carry a role the method allows, so they reach the handler; the rest
    carry any role's token, none, or a forged or garbage one."""
    admin = tokens["admin"]
    forged = ["ift_", "ift__", admin[:-4] + "AAAA", f"Bearer {admin}", "x" * 4000,
              "".join(chr(c) for c in range(0x21, 0x7F))]

    def pick(rng: random.Random, method: str) -> str:
        draw = rng.random()
        if draw < 0.8:
            return tokens[rng.choice(sorted(roles.get(method, {"admin"})))]
        if draw < 0.9:
            return tokens[rng.choice(sorted(tokens))]
        return "" if draw < 0.95 else rng.choice(forged)
    return pick


@dataclass
class FuzzReport:
    codes: Counter = dataclass_field(default_factory=Counter)
    kinds: Counter = dataclass_field(default_factory=Counter)
    improper: list[str] = dataclass_field(default_factory=list)  # "call n method kind: code details" of each bad answer

    def summary(self) -> str:
        codes = ", ".join(f"{code.name} {n}" for code, n in self.codes.most_common())
        return f"{sum(self.codes.values())} malformed calls: {codes}; bodies: {dict(self.kinds)}"


def fuzz_service(address: str, service, tokens: Callable[[random.Random, str], str], calls: int, seed: int,
                 workers: int = 8) -> FuzzReport:
    """`calls` malformed calls to random methods of `service` (a ServiceDescriptor) at `address`, sent as raw
    bytes so the server has to parse them. Call n draws everything from Random(f"{seed}/{n}"), so any one of
    them replays alone. `tokens(rng, method)` gives the bearer token of a call ("" for none).
    A server-streaming call counts as answered when it is refused or still open after its short deadline."""
    methods = sorted(service.methods_by_name.values(), key=lambda m: m.name)
    report, lock = FuzzReport(), threading.Lock()
    with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 8 << 20),
                                                 ("grpc.max_receive_message_length", 64 << 20)]) as channel:
        def call(n: int) -> None:
            rng = random.Random(f"{seed}/{n}")
            method = rng.choice(methods)
            kind, body = hostile_body(rng, GetMessageClass(method.input_type))
            token = tokens(rng, method.name)
            metadata = [("authorization", f"Bearer {token}")] if token else None
            path = f"/{service.full_name}/{method.name}"
            try:
                if method.server_streaming:
                    next(iter(channel.unary_stream(path)(body, timeout=0.5, metadata=metadata)), None)
                else:
                    channel.unary_unary(path)(body, timeout=60, metadata=metadata)
                code, details = grpc.StatusCode.OK, ""
            except grpc.RpcError as error:
                code, details = error.code(), error.details() or ""
                if method.server_streaming and code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    code = grpc.StatusCode.OK  # let in: open and waiting for events
            with lock:
                report.codes[code] += 1
                report.kinds[kind] += 1
                if code not in PROPER_CODES:
                    report.improper.append(f"call {n} {method.name} {kind}: {code.name} {details[:300]}")
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(call, range(calls)))
    return report
