"""Reproduce the embedded broker's two defects (tools/broker.py) on its s3:// storage; prints figures.

    python -m tools.broker_defects [--writers 4] [--records 3000] [--write-delay-ms 300]

1. Skipped batches: `--writers` producers, each on its own connection, write `--records` records in all
   to one partition while a consumer tails it from the start. Writes of record batches to the object store
   are delayed by up to `--write-delay-ms` (a loaded machine), so a produce's watermark update and its
   batch write are far apart. Records on the topic that the tailing consumer never got were skipped.
   With one writer nothing is skipped.
2. End offsets: ListOffsets "latest" against the offset after the last record really on each partition.

Needs moto (the test extra). For a figure of the issue notes, not a test: the race is timing-dependent.
"""
from __future__ import annotations

import argparse
import http.client
import random
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kafka.structs import TopicPartition

from intentflow.kafka_io import ensure_topics, make_consumer, make_producer
from intentflow.settings import KafkaSettings, from_env
from tools.broker import EmbeddedBroker, free_port, local_s3, read_from

TOPIC = "defects"


def slow_batch_writes(upstream: str, delay_ms: float) -> tuple[str, ThreadingHTTPServer]:
    """An HTTP proxy in front of the object store that delays PUTs of record batches; its endpoint."""
    host, port = upstream.removeprefix("http://").split(":")

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.command == "PUT" and self.path.endswith(".batch"):
                time.sleep(random.random() * delay_ms / 1000)
            upstream_connection = http.client.HTTPConnection(host, int(port), timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
            upstream_connection.request(self.command, self.path, body=body, headers=headers)
            response = upstream_connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream_connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def write(kafka: KafkaSettings, writer: int, count: int) -> None:
    producer = make_producer(kafka, linger_ms=0)
    for n in range(count):
        producer.send(TOPIC, key=f"{writer}-{n}".encode(), value=b"x" * 100)
        if n % 20 == 0:
            producer.flush()
    producer.flush()
    producer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--write-delay-ms", type=float, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, local_s3(Path(workdir) / "s3.log") as (storage, env):
        endpoint, proxy = slow_batch_writes(env["AWS_ENDPOINT"], args.write_delay_ms)
        broker = EmbeddedBroker(0, log_file=Path(workdir) / "broker.log", storage=storage,
                                storage_env={**env, "AWS_ENDPOINT": endpoint}).start()
        try:
            kafka = from_env(KafkaSettings, {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers})
            ensure_topics(kafka, {TOPIC: 1})
            partition = TopicPartition(TOPIC, 0)
            tailed: list = []  # read while the writers write, from the start
            tailing = threading.Thread(target=lambda: tailed.extend(read_from(kafka, {partition: 0}, idle_s=10)))
            tailing.start()
            writers = [threading.Thread(target=write, args=(kafka, w, args.records // args.writers))
                       for w in range(args.writers)]
            for thread in writers:
                thread.start()
            for thread in writers:
                thread.join()
            tailing.join()
            records = read_from(kafka, {partition: 0})
            on_topic = {record.key for record in records}
            skipped = on_topic - {record.key for record in tailed}
            probe = make_consumer(kafka, None)
            listed_end = probe.end_offsets([partition])[partition]
            probe.close()
            print(f"writers {args.writers}, batch writes delayed up to {args.write_delay_ms:.0f} ms: "
                  f"{len(on_topic)} records on the topic, {len(skipped)} skipped by the tailing consumer")
            print(f"end offset by ListOffsets {listed_end}; offset after the last record {records[-1].offset + 1}")
        finally:
            broker.stop()
            proxy.shutdown()


if __name__ == "__main__":
    main()
