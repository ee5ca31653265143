"""`intentflow tokens create | list | revoke` and the admin token of the local stack."""
from __future__ import annotations

import json

import pytest

from intentflow import auth
from tools.cli import main
from tools.cli.stack import admin_token


def _run(capsys, *argv: str) -> tuple[str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    assert stop.value.code == 0
    captured = capsys.readouterr()
    return captured.out.strip(), captured.err


def test_create_list_revoke(tmp_path, capsys, monkeypatch):
    path = tmp_path / "tokens.json"
    monkeypatch.setenv("INTENTFLOW_TOKENS_FILE", str(path))
    token, note = _run(capsys, "tokens", "create", "--role", "recruiter", "--name", "olga")
    assert token.startswith(auth.TOKEN_PREFIX) and "only its hash is stored" in note
    assert token not in path.read_text() and token.split("_", 2)[2] not in path.read_text()
    [row] = [json.loads(line) for line in _run(capsys, "tokens", "list", "--json")[0].splitlines()]
    assert row["role"] == "recruiter" and row["name"] == "olga" and row["revoked"] == "" and "sha256" not in row
    assert auth.TokenStore(path).verify(token).role == "recruiter"
    _run(capsys, "tokens", "revoke", row["id"])
    assert auth.TokenStore(path).verify(token) is None
    table, _ = _run(capsys, "tokens", "list")
    assert row["id"] in table and "olga" in table


def test_without_a_tokens_file_the_cli_says_what_to_set(capsys, monkeypatch):
    monkeypatch.delenv("INTENTFLOW_TOKENS_FILE", raising=False)
    with pytest.raises(SystemExit) as stop:
        main(["tokens", "list"])
    assert stop.value.code == 2 and "INTENTFLOW_TOKENS_FILE" in capsys.readouterr().err


def test_the_local_stack_creates_an_admin_token_once(tmp_path, monkeypatch):
    monkeypatch.delenv("INTENTFLOW_TOKENS_FILE", raising=False)
    tokens_file, token_file = admin_token(tmp_path)
    assert tokens_file == tmp_path / "tokens.json" and token_file.stat().st_mode & 0o077 == 0
    identity = auth.TokenStore(tokens_file).verify(token_file.read_text().strip())
    assert identity is not None and identity.role == auth.ADMIN
    assert admin_token(tmp_path) == (tokens_file, token_file)
    assert len(auth.TokenStore(tokens_file).list()) == 1, "a valid admin token is reused"
