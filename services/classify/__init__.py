"""Classify service: spaCy rules + sentence embeddings + calibrated classifier → posts.classified."""
