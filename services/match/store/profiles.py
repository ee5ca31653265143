"""Products, vacancies and employers: the profiles that posts are matched against."""
from __future__ import annotations

import dataclasses
from typing import TypeVar

from .db import StoreBase, insert_sql, now_or
from .models import Employer, Product, Vacancy
from .rows import columns, from_row, to_row

P = TypeVar("P", Product, Vacancy, Employer)

_TABLES: dict[type, str] = {Product: "products", Vacancy: "vacancies", Employer: "employers"}


class ProfilesMixin(StoreBase):
    def _upsert_profile(self, profile: P, now: float | None) -> P:
        if not profile.id:
            raise ValueError(f"{type(profile).__name__} needs an id")
        if not profile.updated_at:
            profile = dataclasses.replace(profile, updated_at=now_or(now))
        table, cols = _TABLES[type(profile)], columns(type(profile))
        row = to_row(profile, self._dialect)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
        with self._tx(write=True) as cur:
            cur.execute(insert_sql(table, cols, f" ON CONFLICT (id) DO UPDATE SET {updates}"),
                        [row[c] for c in cols])
        return profile

    def _get_profile(self, cls: type[P], profile_id: str) -> P | None:
        with self._tx() as cur:
            row = cur.one(f"SELECT * FROM {_TABLES[cls]} WHERE id = ?", (profile_id,))
        return None if row is None else from_row(cls, row, self._dialect)

    def _delete_profile(self, cls: type, profile_id: str) -> bool:
        with self._tx(write=True) as cur:
            row = cur.one(f"DELETE FROM {_TABLES[cls]} WHERE id = ? RETURNING id", (profile_id,))
        return row is not None

    def _list_profiles(self, cls: type[P]) -> list[P]:
        with self._tx() as cur:
            rows = cur.all(f"SELECT * FROM {_TABLES[cls]} ORDER BY id")
        return [from_row(cls, r, self._dialect) for r in rows]

    def profiles_stamp(self) -> tuple[tuple[int, int], ...]:
        """Changes whenever a product, vacancy or employer is added, changed or deleted: one cheap query tells
        a match process whether another one changed profiles since it last looked."""
        # Whole milliseconds: an integer sum does not depend on the order the rows are added in.
        with self._tx() as cur:
            rows = [cur.one(f"SELECT COUNT(*) AS n, COALESCE(SUM(CAST(updated_at * 1000 AS BIGINT)), 0) AS ms"
                            f" FROM {table}") for table in _TABLES.values()]
        return tuple((int(row["n"]), int(row["ms"])) for row in rows)

    # Public API: thin typed wrappers, one set per profile type.

    def upsert_product(self, product: Product, now: float | None = None) -> Product:
        """Insert or replace; updated_at defaults to now when left at 0. Returns what was stored."""
        return self._upsert_profile(product, now)

    def get_product(self, product_id: str) -> Product | None:
        return self._get_profile(Product, product_id)

    def delete_product(self, product_id: str) -> bool:
        return self._delete_profile(Product, product_id)

    def list_products(self) -> list[Product]:
        return self._list_profiles(Product)

    def upsert_vacancy(self, vacancy: Vacancy, now: float | None = None) -> Vacancy:
        return self._upsert_profile(vacancy, now)

    def get_vacancy(self, vacancy_id: str) -> Vacancy | None:
        return self._get_profile(Vacancy, vacancy_id)

    def delete_vacancy(self, vacancy_id: str) -> bool:
        return self._delete_profile(Vacancy, vacancy_id)

    def list_vacancies(self) -> list[Vacancy]:
        return self._list_profiles(Vacancy)

    def upsert_employer(self, employer: Employer, now: float | None = None) -> Employer:
        return self._upsert_profile(employer, now)

    def get_employer(self, employer_id: str) -> Employer | None:
        return self._get_profile(Employer, employer_id)

    def delete_employer(self, employer_id: str) -> bool:
        return self._delete_profile(Employer, employer_id)

    def list_employers(self) -> list[Employer]:
        return self._list_profiles(Employer)
