import json

import pytest

from services.match.matching.catalog import CatalogError, load_catalog

SHIPPED = "data/profiles/catalog.json"


def test_shipped_catalog_loads():
    catalog = load_catalog(SHIPPED)
    assert len(catalog.products) >= 8 and len(catalog.vacancies) >= 8 and catalog.employers


def test_yaml_and_json_are_equivalent(tmp_path):
    data = {"products": [{"id": "p1", "name": "Laptops", "keywords": ["ноутбук"]}],
            "vacancies": [{"id": "v1", "title": "Courier"}], "employers": [{"id": "e1", "names": ["МегаМарт"]}]}
    (tmp_path / "c.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "c.yaml").write_text("products:\n  - {id: p1, name: Laptops, keywords: [ноутбук]}\n"
                                     "vacancies:\n  - {id: v1, title: Courier}\n"
                                     "employers:\n  - {id: e1, names: [МегаМарт]}\n", encoding="utf-8")
    assert load_catalog(tmp_path / "c.json") == load_catalog(tmp_path / "c.yaml")


@pytest.mark.parametrize("content, message", [
    ('{"products": [{"name": "x"}]}', "products\\[0\\]: missing required field"),
    ('{"products": [{"id": "a", "name": "x"}, {"id": "a", "name": "y"}]}', "duplicate products ids"),
    ('{"gadgets": []}', "unknown sections"),
    ('{"products": [{"id": "a", "name": "x", "colour": "red"}]}', None),
    ("{broken", "not valid JSON"),
])
def test_bad_catalogs_explain_themselves(tmp_path, content, message):
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")
    if message is None:  # unknown fields inside a profile are ignored, like proto3 JSON does
        assert load_catalog(path).products[0].id == "a"
    else:
        with pytest.raises(CatalogError, match=message):
            load_catalog(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "nope.yaml")
