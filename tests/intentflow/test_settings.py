import pytest

from intentflow.settings import MatchSettings, describe, from_env


def test_defaults_and_overrides_from_environment():
    settings = from_env(MatchSettings, {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "MATCH_LEASE_SECONDS": "60",
                                        "TOPIC_LEADS_SALES": "custom.leads"})
    assert settings.kafka.bootstrap_servers == "k:9092"
    assert settings.kafka.topic_leads == "custom.leads"
    assert settings.lease_seconds == 60
    assert settings.kafka.topic_raw == "posts.raw"


def test_invalid_value_names_the_variable():
    with pytest.raises(ValueError, match="MATCH_LEASE_SECONDS"):
        from_env(MatchSettings, {"MATCH_LEASE_SECONDS": "soon"})


def test_every_setting_is_documented():
    rows = describe(MatchSettings)
    assert {"KAFKA_BOOTSTRAP_SERVERS", "INTENTFLOW_DATABASE_URL", "MATCH_ALERT_MULTIPLE"} <= {r[0] for r in rows}
    assert all(doc for _, _, doc in rows)
