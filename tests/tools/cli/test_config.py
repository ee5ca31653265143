"""`intentflow config` prints the README's configuration and topic tables."""
from __future__ import annotations

from pathlib import Path

import pytest

from intentflow import topology
from tools.cli import main

README = Path(__file__).resolve().parents[3] / "README.md"


def _config(capsys, *flags: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main(["config", *flags])
    assert stop.value.code == 0
    return capsys.readouterr().out.strip()


def test_topics_prints_the_topology_table(capsys):
    assert _config(capsys, "--topics") == topology.markdown_table()


def test_readme_configuration_table_is_current(capsys, monkeypatch):
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "INTENTFLOW_REP"):
        monkeypatch.delenv(name, raising=False)
    table = _config(capsys, "--markdown")
    assert table.startswith("| variable | default | meaning |")
    assert table in README.read_text("utf-8"), \
        "README's configuration table is stale: paste the output of `intentflow config --markdown`"
