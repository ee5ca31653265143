"""The audit log: who (token id and role) read or changed queue items, complaints and profiles, and how many."""
from __future__ import annotations

from dataclasses import dataclass

from .db import StoreBase, now_or


@dataclass(frozen=True)
class AuditEntry:
    token_id: str   # "" with auth off
    role: str       # "" with auth off
    method: str     # the RPC, e.g. "PullLeads"
    count: int      # items returned or changed
    at: float


class AuditMixin(StoreBase):
    def record_audit(self, token_id: str, role: str, method: str, count: int, at: float | None = None) -> None:
        if not method:
            raise ValueError("audit entry needs a method")
        with self._tx(write=True) as cur:
            cur.execute("INSERT INTO audit_log (token_id, role, method, count, at) VALUES (?, ?, ?, ?, ?)",
                        (token_id, role, method, int(count), now_or(at)))

    def audit_entries(self, token_id: str | None = None, method: str | None = None, since: float | None = None,
                      limit: int = 1000) -> list[AuditEntry]:
        """Newest first; None = no restriction."""
        clauses, params = ["1 = 1"], []
        for clause, value in (("token_id = ?", token_id), ("method = ?", method), ("at >= ?", since)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        with self._tx() as cur:
            rows = cur.all(f"SELECT token_id, role, method, count, at FROM audit_log WHERE {' AND '.join(clauses)}"
                           " ORDER BY at DESC, id DESC LIMIT ?", params + [limit])
        return [AuditEntry(r["token_id"], r["role"], r["method"], int(r["count"]), float(r["at"])) for r in rows]
