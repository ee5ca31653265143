"""Persistence layer of the match service: `open_store(url)` returns a thread-safe Store."""
from .errors import InvalidTransition, LeaseConflict, NotFound, StoreError
from .models import (
                     KIND_CANDIDATE,
                     KIND_LEAD,
                     OUTCOMES,
                     STATUSES,
                     AddResult,
                     Claim,
                     Complaint,
                     Employer,
                     PostRef,
                     Product,
                     QueueItem,
                     Vacancy,
                     complaint_id,
                     queue_item_id,
)
from .store import AuditEntry, Store, open_store

__all__ = [
                     "KIND_CANDIDATE",
                     "KIND_LEAD",
                     "OUTCOMES",
                     "STATUSES",
                     "AddResult",
                     "AuditEntry",
                     "Claim",
                     "Complaint",
                     "Employer",
                     "InvalidTransition",
                     "LeaseConflict",
                     "NotFound",
                     "PostRef",
                     "Product",
                     "QueueItem",
                     "Store",
                     "StoreError",
                     "Vacancy",
                     "complaint_id",
                     "open_store",
                     "queue_item_id",
]
