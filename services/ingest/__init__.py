"""Ingest service: validates, normalises, detects language and de-duplicates raw posts."""
