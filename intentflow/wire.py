"""Wire formats: posts arrive as protobuf or proto3 JSON; outputs go out as protobuf or proto3 JSON."""
from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from intentflow.v1 import post_pb2

JSON = "json"
PROTOBUF = "protobuf"


class BadRecord(ValueError):
    """Input that cannot become a Post; the message is the reason sent to the dead-letter topic."""


def decode_post(value: bytes | None) -> post_pb2.Post:
    """Parse a raw record: a value starting with '{' is proto3 JSON, anything else binary protobuf.

    A binary Post can never start with '{' (0x7B would be field 15 with the deprecated group wire type),
    so the sniff is unambiguous and producers need not set headers.
    """
    if not value:
        raise BadRecord("empty record")
    if value.lstrip()[:1] == b"{":
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRecord(f"JSON record is not valid UTF-8: {exc}") from None
        try:
            return json_format.Parse(text, post_pb2.Post(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise BadRecord(f"invalid Post JSON: {exc}") from None
    post = post_pb2.Post()
    try:
        post.ParseFromString(value)
    except DecodeError as exc:
        raise BadRecord(f"invalid Post protobuf: {exc}") from None
    return post


def encode(message: Message, fmt: str = PROTOBUF) -> bytes:
    if fmt == JSON:
        return json_format.MessageToJson(message, indent=None, ensure_ascii=False).encode("utf-8")
    if fmt == PROTOBUF:
        return message.SerializeToString()
    raise ValueError(f"unknown format {fmt!r}: use 'protobuf' or 'json'")


def decode(value: bytes, message: Message) -> Message:
    """Decode a protobuf or proto3 JSON value into `message` (used by consumers of our output topics)."""
    if value.lstrip()[:1] == b"{":
        return json_format.Parse(value.decode("utf-8"), message, ignore_unknown_fields=True)
    message.ParseFromString(value)
    return message


def post_id(network: str, native_id: str) -> str:
    """Identity of a post across the pipeline: ids are unique only within a network."""
    return f"{network}:{native_id}"


def split_post_id(identity: str) -> tuple[str, str]:
    """(network, native id) of an identity made by `post_id`."""
    network, _, native_id = identity.partition(":")
    return network, native_id


def post_key(post: post_pb2.Post) -> str:
    return post_id(post.network, post.id)


def timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9
