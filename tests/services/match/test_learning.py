"""A profile learns from acked outcomes without a redeploy (issue #14): wrong_profile corrections
become negative examples of the matched profile and positive examples of the right one, stored with the
profiles (so they survive a restart) and used by the next post matched. Real encoders, SQLite store."""
from __future__ import annotations

import pytest

from intentflow.v1 import match_pb2
from services.match import convert
from services.match.application import InvalidRequest
from services.match.store import PostRef, Product, QueueItem, queue_item_id
from services.match.store.models import KIND_LEAD, STATUS_WRONG_PROFILE
from tests.services.match.conftest import new_app

# A shop's own catalogue, English, no keywords. Posts about laptop repair are meant for the service
# desk, but "Laptops" is the closer text until someone says otherwise.
CATALOGUE = [
    Product(id="laptops", name="Laptops", description="New laptops for work, study and gaming, with delivery."),
    Product(id="repair", name="Service desk",
            description="We fix broken computers and phones: screens, batteries, keyboards, water damage."),
    Product(id="phones", name="Smartphones", description="New smartphones from budget models to flagships."),
]
WRONG = [("ru", "ноут не включается после того как залили чаем, что делать, кто поможет?"),
         ("uk", "ноутбук не вмикається після того, як на нього розлили каву, хто допоможе?")]
LATER = ("ru", "залил ноутбук водой, теперь не включается. куда нести?")


@pytest.fixture
def app(tmp_path, embedder):
    application = new_app(tmp_path, embedder)
    application.load()
    for product in CATALOGUE:
        application.upsert_product(product)
    yield application
    application.close()


def best(app, lang, text):
    found = app.products.best(app.embedder.encode([text])[0], text, lang)
    return found.profile_id if found else None


def lead(app, n, lang, text, profile_id):
    post = PostRef(post_id=f"tg:{n}", network="tg", author=f"a{n}", text=text, lang=lang)
    item = QueueItem(id=queue_item_id(KIND_LEAD, post.post_id, profile_id), kind=KIND_LEAD,
                     profile_id=profile_id, post=post)
    return app.store.add_queue_item(item)[1]


def test_two_corrections_send_a_previously_wrong_match_to_the_right_profile(app):
    # The service desk's own words are not enough: neither post goes there, and the Ukrainian one goes to
    # "laptops" (the wrong profile) ...
    before = [best(app, lang, text) for lang, text in WRONG]
    assert "repair" not in before and before[1] == "laptops"
    # ... until a rep corrects two of them.
    for n, (lang, text) in enumerate(WRONG):
        item = lead(app, n, lang, text, "laptops")
        acked = app.ack(KIND_LEAD, item.id, "rep", STATUS_WRONG_PROFILE, right_profile_id="repair")
        assert acked.status == STATUS_WRONG_PROFILE
    stored = {p.id: p for p in app.store.list_products()}
    assert stored["repair"].examples == [text for _, text in WRONG]
    assert stored["laptops"].negative_examples == [text for _, text in WRONG]
    # The previously wrong match now goes to the service desk ...
    assert best(app, *WRONG[1]) == "repair"
    # ... and so does the next such post, never seen, with an example post as its evidence.
    lang, text = LATER
    found = app.products.best(app.embedder.encode([text])[0], text, lang)
    assert found.profile_id == "repair"
    assert any(line.startswith("nearest: ") and "ноут" in line for line in found.evidence())
    # Ordinary laptop buyers still reach "laptops".
    assert best(app, "ru", "посоветуйте ноутбук для учебы до 40 тысяч") == "laptops"


def test_won_and_not_a_lead_teach_the_matched_profile(app):
    won = lead(app, 10, "en", "need a phone with a good camera under 400", "phones")
    app.ack(KIND_LEAD, won.id, "rep", "won")
    bad = lead(app, 11, "en", "selling my old phone, dm me", "phones")
    app.ack(KIND_LEAD, bad.id, "rep", "not_a_lead")
    phones = next(p for p in app.store.list_products() if p.id == "phones")
    assert phones.examples == ["need a phone with a good camera under 400"]
    assert phones.negative_examples == ["selling my old phone, dm me"]
    assert app.products.get("phones").examples == phones.examples   # the index has it, no reload


def test_right_profile_must_exist_and_go_with_wrong_profile(app):
    item = lead(app, 20, "en", "laptop for school", "laptops")
    with pytest.raises(InvalidRequest):
        app.ack(KIND_LEAD, item.id, "rep", "won", right_profile_id="repair")
    with pytest.raises(Exception, match="not found"):
        app.ack(KIND_LEAD, item.id, "rep", STATUS_WRONG_PROFILE, right_profile_id="nope")


def test_wrong_profile_is_on_the_wire():
    assert convert.OUTCOME_FROM_PROTO[match_pb2.OUTCOME_WRONG_PROFILE] == STATUS_WRONG_PROFILE
    assert match_pb2.AckRequest(right_profile_id="x").right_profile_id == "x"
    product = Product(id="p", name="P", examples=["a"], negative_examples=["b"])
    assert convert.product_from_proto(convert.product_to_proto(product)) == product


def test_a_catalogue_file_carries_example_posts():
    from services.match.matching.catalog import parse_catalog
    catalog = parse_catalog({"products": [{"id": "p", "name": "P", "examples": ["want one"],
                                           "negative_examples": ["selling one"]}],
                             "vacancies": [{"id": "v", "title": "V", "examples": ["hire me"]}]})
    assert catalog.products[0].examples == ["want one"] and catalog.products[0].negative_examples == ["selling one"]
    assert catalog.vacancies[0].examples == ["hire me"] and catalog.vacancies[0].negative_examples == []
