"""normalize_text, fingerprint and validate_text."""

from __future__ import annotations

import pytest

from intentflow.text import fingerprint, normalize_text, remove_links, validate_text
from intentflow.text.normalize import fingerprint_of_normalized, validate_normalized


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ку\u200bплю\u200c но\u200dут\u2060бук\ufeff", "куплю ноутбук"),
        ("по\u00adсо\u00adве\u00adтуй\u00adте", "посоветуйте"),
        ("\u202bשלום\u202c \u200eok\u200f \u2066x\u2069", "שלום ok x"),
        ("bell\x07 null\x00 esc\x1b del\x7f c1\x9b", "bell null esc del c1"),
        ("a\u00a0b\u2009c\u202fd\u3000e\u2007f", "a b c d e f"),
        ("too   many \t\t spaces", "too many spaces"),
        ("one\r\ntwo\rthree\u2028four\x0bfive", "one\ntwo\nthree\nfour\nfive"),
        ("para\n\n\n\n\nnext", "para\n\nnext"),
        ("para \n \n \n \n next", "para\n\nnext"),
        ("  \n\t padded \n\n ", "padded"),
        ("\u0438\u0306\u0434\u0443", "йду"),  # decomposed й -> NFC
        ("i\u0308", "ï"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_keeps_single_and_double_newlines() -> None:
    assert normalize_text("line 1\nline 2\n\nline 3") == "line 1\nline 2\n\nline 3"


def test_normalize_replaces_lone_surrogates() -> None:
    broken = b"caf\xe9".decode("utf-8", errors="surrogateescape")
    assert normalize_text(broken) == "caf\ufffd"


@pytest.mark.parametrize(
    "raw", ["Пр\u200bивет ,  мир!\n\n\n\nПока", "x\u00a0\u00a0y\r\n\r\n\r\nz", "\ufeff\u00ad"]
)
def test_normalize_is_idempotent(raw: str) -> None:
    once = normalize_text(raw)
    assert normalize_text(once) == once


def test_remove_links_drops_urls_emails_domains_and_mentions() -> None:
    text = "пишите @ivan_petrov или ivan@mail.ru, резюме https://hh.ru/r/1 и t.me/jobs, www.site.com"
    assert remove_links(text).split() == ["пишите", "или", ",", "резюме", "и"]


def test_remove_links_leaves_ordinary_text_alone() -> None:
    text = "Ищу работу. Опыт 5 лет, т.д. и т.п."
    assert remove_links(text) == text


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Куплю ноутбук, срочно!!! 🔥🔥", "куплю ноутбук срочно 🙏"),
        ("Ищу работу — опыт есть.", "ищу работу опыт есть"),
        ("Ещё ищу ёлку", "еще ищу елку"),
        ("Repost: need a plumber https://t.co/abc", "repost need a plumber https://t.co/xyz"),
        ("@anna @bob need a plumber", "need a plumber @carl"),
        ("#ищуработу в Москве", "ищуработу в москве"),
        ("line one\n\nline two", "line one line two"),
        ("за\u0301мок продаю", "замок продаю"),  # stress mark
        ("ку\u200bплю", "куплю"),
        ("STRASSE", "strasse"),
    ],
)
def test_reposts_collide(a: str, b: str) -> None:
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Куплю ноутбук до 60к", "Куплю ноутбук до 80к"),
        ("Ищу работу водителем", "Ищу работу курьером"),
        ("не плачу", "плачу"),
        ("buy a laptop", "buy laptops"),
        ("куплю", "купля"),
    ],
)
def test_different_texts_do_not_collide(a: str, b: str) -> None:
    assert fingerprint(a) != fingerprint(b)


def test_fingerprint_is_pinned() -> None:
    """Stored fingerprints must stay valid across releases and processes."""
    assert fingerprint("Куплю ноутбук, срочно! 🔥") == "df5b7a5b128189cc35c418638d76184a"


def test_validate_accepts_ordinary_posts() -> None:
    assert validate_text("Посоветуйте ноутбук 🙏", max_chars=100) is None
    assert validate_text("x" * 100, max_chars=100) is None


@pytest.mark.parametrize("text", ["", "   ", "\n\t\u200b\ufeff\u00ad", "\x00\x01"])
def test_validate_rejects_empty(text: str) -> None:
    assert validate_text(text, max_chars=100) == "text is empty after normalisation"


def test_validate_rejects_too_long_after_normalisation() -> None:
    assert validate_text("a" + " " * 500 + "b", max_chars=3) is None
    reason = validate_text("x" * 101, max_chars=100)
    assert reason == "text is too long: 101 characters, the limit is 100"


@pytest.mark.parametrize(
    "text",
    [
        "\ufffd\ufffd\ufffd\ufffd ok",
        "\ufffd",
        b"\xcf\xf0\xe8\xe2\xe5\xf2".decode("utf-8", errors="replace"),  # cp1251 read as UTF-8
        b"\xcf\xf0\xe8\xe2\xe5\xf2 ok".decode("utf-8", errors="surrogateescape"),
    ],
)
def test_validate_rejects_undecodable(text: str) -> None:
    reason = validate_text(text, max_chars=100)
    assert reason is not None and reason.startswith("text is mostly undecodable")


def test_validate_tolerates_a_few_replacement_characters() -> None:
    assert validate_text("Прив\ufffdт, ищу работу", max_chars=100) is None


def test_validate_reports_wrong_type_and_rejects_bad_limit() -> None:
    assert validate_text(b"bytes", max_chars=10) == "text must be a string, got bytes"  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        validate_text("ok", max_chars=0)


def test_the_normalised_variants_agree_with_the_plain_ones_on_normalised_text():
    raw = "  Куплю\u200b ноутбук,\r\n\r\n\r\nсрочно!  🔥 "
    text = normalize_text(raw)
    assert fingerprint_of_normalized(text) == fingerprint(raw)
    assert validate_normalized(text, max_chars=100) is None and validate_text(raw, max_chars=100) is None
    assert validate_normalized(normalize_text("\u200b \u200b"), max_chars=100) == "text is empty after normalisation"
    assert validate_normalized(text, max_chars=5) == validate_text(raw, max_chars=5)


def test_the_mention_only_path_removes_what_the_full_link_pattern_removes():
    from intentflow.text.normalize import _LINK_RE
    for text in ("@user: so true", "mail a.b+c@mail.co.uk now", "x@y and @юзер, привіт", "@@@ @_ @", "a@b.c",
                 "ping @bob_1 at bob@corp.io", "no links at all"):
        assert remove_links(text) == _LINK_RE.sub(" ", text), text
    assert remove_links("@anna see shop.com.ua/x") == "  see  "   # a web address: the full pattern runs
