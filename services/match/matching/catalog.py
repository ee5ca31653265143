"""Profiles files (JSON or YAML): {"products": [...], "vacancies": [...], "employers": [...]}."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from services.match.store.models import Employer, Product, Vacancy


class CatalogError(ValueError):
    pass


@dataclass
class Catalog:
    products: list[Product] = field(default_factory=list)
    vacancies: list[Vacancy] = field(default_factory=list)
    employers: list[Employer] = field(default_factory=list)


def _build(cls, row: object, where: str):
    if not isinstance(row, dict):
        raise CatalogError(f"{where}: expected an object, got {type(row).__name__}")
    allowed = {f.name for f in fields(cls)} - {"updated_at"}
    required = {"id", "name"} if cls is Product else {"id", "title"} if cls is Vacancy else {"id"}
    missing = sorted(k for k in required if not str(row.get(k) or "").strip())
    if missing:
        raise CatalogError(f"{where}: missing required field(s) {missing}")
    try:
        return cls(**{k: v for k, v in row.items() if k in allowed})
    except TypeError as exc:
        raise CatalogError(f"{where}: {exc}") from None


def parse_catalog(data: object, source: str = "profiles") -> Catalog:
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: expected an object with products/vacancies/employers")
    unknown = set(data) - {"products", "vacancies", "employers"}
    if unknown:
        raise CatalogError(f"{source}: unknown sections {sorted(unknown)}")
    catalog = Catalog(
        products=[_build(Product, r, f"{source}: products[{n}]") for n, r in enumerate(data.get("products") or [])],
        vacancies=[_build(Vacancy, r, f"{source}: vacancies[{n}]") for n, r in enumerate(data.get("vacancies") or [])],
        employers=[_build(Employer, r, f"{source}: employers[{n}]") for n, r in enumerate(data.get("employers") or [])])
    for name in ("products", "vacancies", "employers"):
        ids = [p.id for p in getattr(catalog, name)]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise CatalogError(f"{source}: duplicate {name} ids {duplicated}")
    return catalog


def load_catalog(path: str | Path) -> Catalog:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read profiles file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
    return parse_catalog(data, str(path))
