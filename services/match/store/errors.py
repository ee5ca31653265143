"""Exceptions raised by the store; the gRPC layer maps them to status codes."""


class StoreError(Exception):
    """Base class for every error the store raises on purpose."""


class NotFound(StoreError):
    """The item does not exist (or belongs to another kind)."""


class LeaseConflict(StoreError):
    """The caller does not hold the lease it tries to use."""


class InvalidTransition(StoreError):
    """The requested status change is not allowed from the item's current status."""
