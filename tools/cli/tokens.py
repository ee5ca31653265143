"""`intentflow tokens create | list | revoke`: API tokens with roles, stored hashed in INTENTFLOW_TOKENS_FILE."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from intentflow import auth
from intentflow.settings import ClientSettings
from tools.cli.tables import print_table

ROLES = auth.ROLES


def _store(args, settings: ClientSettings) -> auth.TokenStore:
    path = args.file or settings.tokens_file
    if not path:
        raise ValueError("no tokens file: set INTENTFLOW_TOKENS_FILE or pass --file")
    return auth.TokenStore(path)


def create(args, settings: ClientSettings) -> int:
    store = _store(args, settings)
    record, token = store.create(args.role, args.name)
    print(f"created token {record.id} (role {record.role}, {record.name}) in {store.path}; "
          "it is shown once, only its hash is stored:", file=sys.stderr)
    print(token)
    return 0


def list_tokens(args, settings: ClientSettings) -> int:
    records = _store(args, settings).list()
    if args.json:
        for record in records:
            row = asdict(record)
            row.pop("sha256")
            print(json.dumps(row))
        return 0
    print_table(("id", "role", "name", "created", "revoked"),
                [(r.id, r.role, r.name, r.created, r.revoked or "-") for r in records], out=sys.stdout)
    return 0


def revoke(args, settings: ClientSettings) -> int:
    record = _store(args, settings).revoke(args.id)
    print(f"revoked token {record.id} (role {record.role}, {record.name}) at {record.revoked}", file=sys.stderr)
    return 0
