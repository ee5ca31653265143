"""Shared fixtures. The integration fixtures start the real broker (tansu) and the real services."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # tests read the shipped data/ and models/ by relative path
