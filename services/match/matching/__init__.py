"""Matching posts to product and vacancy profiles, and semantic search over job-seeking posts."""
