"""Kafka security pass-through: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* reach every client.

What runs for real: the embedded broker (plaintext) serves clients built with the default settings, and
producers, consumers and admin clients built with `SSL` get nowhere with it (a TLS handshake is not Kafka); a TLS
listener on a local socket completes a mutual-TLS handshake only with the client built from KAFKA_SSL_CAFILE,
KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE, so those files really reach the client.

What cannot run here: a broker that authenticates with SASL. tansu 0.6.0 (`tansu broker --help`) has
`--authentication`, but only with SCRAM (a PLAIN handshake is answered `NoSharedMechanism`), and SCRAM users
are created over the Kafka protocol by `tansu user create`, which the broker then refuses as unauthenticated;
its memory storage does not survive a restart without authentication, and this build has no PostgreSQL or
file storage to keep users in. Its TLS listener cannot start either (`--cert` and `--key` are declared as
conflicting options). So SASL is covered by the option mapping and the start-up validation below.
"""
from __future__ import annotations

import socket
import ssl
import threading
import uuid

import pytest
from kafka.errors import KafkaError

from intentflow.kafka_io import client_security_config, ensure_topics, make_consumer, make_producer
from intentflow.settings import KafkaSettings, from_env
from tests.intentflow.test_auth import self_signed

FAST_FAIL = {"KAFKA_MAX_BLOCK_MS": "1500"}


def kafka_settings(**env: str) -> KafkaSettings:
    return from_env(KafkaSettings, env)


# --- the option mapping -------------------------------------------------------------------------------------

def test_plaintext_is_the_default_and_adds_no_credentials():
    assert client_security_config(KafkaSettings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_maps_to_the_kafka_python_options():
    kafka = kafka_settings(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
                           KAFKA_SASL_USERNAME="intentflow", KAFKA_SASL_PASSWORD="s3cret",
                           KAFKA_SSL_CAFILE="/etc/kafka/ca.pem")
    assert client_security_config(kafka) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "intentflow",
        "sasl_plain_password": "s3cret", "ssl_cafile": "/etc/kafka/ca.pem", "ssl_certfile": None,
        "ssl_keyfile": None}


def test_the_password_file_is_read_and_the_password_never_reaches_a_log(tmp_path):
    secret = tmp_path / "kafka-password"
    secret.write_text("from-a-file\n")
    kafka = kafka_settings(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="u",
                           KAFKA_SASL_PASSWORD_FILE=str(secret))
    config = client_security_config(kafka)
    assert config["sasl_plain_password"] == "from-a-file" and config["sasl_mechanism"] == "PLAIN"
    assert "ssl_cafile" not in config
    with_password = kafka_settings(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="u",
                                   KAFKA_SASL_PASSWORD="hunter2")
    assert "hunter2" not in repr(with_password)


def test_an_unreadable_password_file_names_the_variable(tmp_path):
    kafka = kafka_settings(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="u",
                           KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"KAFKA_SASL_PASSWORD_FILE=.*missing"):
        client_security_config(kafka)


# --- validation at start-up ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "message"), [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL='TLS' is not one of PLAINTEXT, SSL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u",
      "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_MECHANISM='GSSAPI' is not one of PLAIN, SCRAM-SHA-256"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "p"}, "needs KAFKA_SASL_USERNAME"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u"},
     "needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"),
    ({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "PLAINTEXT does not use SASL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
      "KAFKA_SSL_CAFILE": "ca.pem"}, "SASL_PLAINTEXT does not use TLS"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "client.pem"}, "go together"),
])
def test_a_wrong_or_incomplete_security_setting_stops_the_start(env, message):
    with pytest.raises(ValueError, match=message):
        kafka_settings(**env)


def test_the_cli_reports_a_wrong_security_setting_as_an_error(capsys, monkeypatch):
    from tools.cli import main
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(SystemExit) as stop:
        main(["config"])
    assert stop.value.code == 2 and "KAFKA_SECURITY_PROTOCOL='TLS'" in capsys.readouterr().err


# --- the settings reach real clients ------------------------------------------------------------------------

def succeeds_within(action, seconds: float) -> bool:
    """Whether `action()` returns within `seconds` without raising. Against a broker that does not hang up,
    kafka-python 3.0.12 waits for a TLS handshake without its bootstrap timeout (tansu waits for the rest of
    what it takes for a frame; Apache Kafka closes the connection), so the attempt runs on a daemon thread
    that is left behind rather than joined. Only absence of success is asserted, which a slow machine
    cannot turn into a failure."""
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            action()
            outcome.append(True)
        except KafkaError:
            outcome.append(False)
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome == [True]


def test_plaintext_clients_work_and_ssl_clients_get_nowhere_with_a_plaintext_broker(broker):
    topic = f"security-{uuid.uuid4().hex[:8]}"
    plain = kafka_settings(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers, **FAST_FAIL)
    ensure_topics(plain, [topic])
    producer = make_producer(plain)
    producer.send(topic, key=b"k", value=b"v").get(timeout=10)
    producer.close()
    consumer = make_consumer(plain, None, [topic], consumer_timeout_ms=3000)
    assert [r.value for r in consumer] == [b"v"]
    consumer.close()

    tls = kafka_settings(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers, KAFKA_SECURITY_PROTOCOL="SSL",
                         **FAST_FAIL)
    assert not succeeds_within(lambda: make_producer(tls).close(), 5)
    assert not succeeds_within(lambda: make_consumer(tls, None, [topic], bootstrap_timeout_ms=1500).close(), 5)
    assert not succeeds_within(lambda: ensure_topics(tls, [f"{topic}-never"]), 5)
    probe = make_consumer(plain, None)
    assert f"{topic}-never" not in probe.topics(), "the admin client created nothing"
    probe.close()


class TlsListener:
    """Accepts TCP connections and records whether each mutual-TLS handshake succeeded, then hangs up
    (it speaks no Kafka: the client still fails, after the handshake)."""

    def __init__(self, cert: str, key: str, client_ca: str):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.context.load_verify_locations(client_ca)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handshakes: list[bool] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    self.handshakes.append(True)
            except (ssl.SSLError, OSError):
                self.handshakes.append(False)

    def close(self) -> None:
        self.sock.close()


def test_the_ssl_files_reach_the_client_in_a_real_mutual_tls_handshake(tmp_path):
    (tmp_path / "server").mkdir()
    (tmp_path / "client").mkdir()
    server_cert, server_key = self_signed(tmp_path / "server")
    client_cert, client_key = self_signed(tmp_path / "client")
    listener = TlsListener(server_cert, server_key, client_ca=client_cert)
    try:
        base = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{listener.port}", "KAFKA_SECURITY_PROTOCOL": "SSL",
                "KAFKA_SSL_CAFILE": server_cert, **FAST_FAIL}
        with pytest.raises(KafkaError):  # no client certificate: the listener refuses the handshake
            make_producer(kafka_settings(**base))
        assert listener.handshakes and not any(listener.handshakes)
        listener.handshakes.clear()
        with pytest.raises(KafkaError):  # handshake done, then no Kafka behind it
            make_producer(kafka_settings(**base, KAFKA_SSL_CERTFILE=client_cert, KAFKA_SSL_KEYFILE=client_key))
        assert True in listener.handshakes
    finally:
        listener.close()
