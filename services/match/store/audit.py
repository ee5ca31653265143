"""The audit log: who (token id and role) read or changed queue items, complaints and profiles, and how many.

An erasure is logged too, with its subject as a hash only (`subject_hash`): the log shows that and when a
person's data was erased without keeping who they are."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .db import StoreBase, now_or


@dataclass(frozen=True)
class AuditEntry:
    token_id: str   # "" with auth off
    role: str       # "" with auth off; "cli" for commands that use the store directly
    method: str     # the RPC, e.g. "PullLeads", or the command, e.g. "Erase"
    count: int      # items returned or changed
    at: float
    subject: str = ""  # whose data, as `subject_hash` (erasures only)


def subject_hash(author: str, network: str = "") -> str:
    """SHA-256 of `network` U+001F `author`: whoever knows the author can check the log, the log alone names
    nobody."""
    return hashlib.sha256(f"{network}\x1f{author}".encode()).hexdigest()


class AuditMixin(StoreBase):
    def record_audit(self, token_id: str, role: str, method: str, count: int, at: float | None = None,
                     subject: str = "") -> None:
        if not method:
            raise ValueError("audit entry needs a method")
        with self._tx(write=True) as cur:
            cur.execute("INSERT INTO audit_log (token_id, role, method, count, at, subject) VALUES (?, ?, ?, ?, ?, ?)",
                        (token_id, role, method, int(count), now_or(at), subject))

    def audit_entries(self, token_id: str | None = None, method: str | None = None, since: float | None = None,
                      limit: int = 1000) -> list[AuditEntry]:
        """Newest first; None = no restriction."""
        clauses, params = ["1 = 1"], []
        for clause, value in (("token_id = ?", token_id), ("method = ?", method), ("at >= ?", since)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        with self._tx() as cur:
            rows = cur.all("SELECT token_id, role, method, count, at, subject FROM audit_log"
                           f" WHERE {' AND '.join(clauses)} ORDER BY at DESC, id DESC LIMIT ?", params + [limit])
        return [AuditEntry(r["token_id"], r["role"], r["method"], int(r["count"]), float(r["at"]), r["subject"])
                for r in rows]
