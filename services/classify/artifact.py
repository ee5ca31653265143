"""How classify's trained models are stored: PATH (.npz of arrays) beside PATH with .json (metadata).

The .npz is written with fixed zip timestamps (np.savez_compressed stamps the current time), so training
the same model twice gives byte-identical files.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np


def save_artifact(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def load_artifact(path: str | Path, what: str) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata) of a saved model; `what` names it in the error when it has not been trained."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} not found: run `make model` (or `intentflow train`)")
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    with np.load(path) as arrays:
        return {k: arrays[k] for k in arrays.files}, meta
