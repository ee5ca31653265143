import pytest

from intentflow.v1 import post_pb2
from intentflow.wire import BadRecord, decode_post, encode, post_key


def test_decodes_protobuf_and_json_alike():
    post = post_pb2.Post(id="7", network="x", text="need a laptop", metadata={"likes": "3"})
    assert decode_post(encode(post)) == post
    assert decode_post(encode(post, "json")) == post
    assert decode_post(b' {"id": "7", "network": "x", "text": "need a laptop", "metadata": {"likes": "3"}, '
                       b'"unknownField": 1}') == post


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"), (b"{not json", "JSON"), (b"\xff\xfe\x00garbage", "protobuf"), (b'{"text": "\xff"}', "UTF-8"),
])
def test_bad_records_have_a_reason(raw, reason):
    with pytest.raises(BadRecord, match=reason):
        decode_post(raw)


def test_post_key_includes_network():
    assert post_key(post_pb2.Post(id="1", network="vk")) != post_key(post_pb2.Post(id="1", network="x"))
