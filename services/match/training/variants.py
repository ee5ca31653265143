"""Catalogue variants: the same profiles written the way different users write catalogues.

data/match/domains.json holds profiles of several domains (products: tech, realestate, clinics; vacancies:
office, bluecollar, medical), each with a hand-written name and description in en, ru and uk. A variant
renders one domain as a catalogue:

* `{lang}`: names and full descriptions in one language, with the profile's keywords (mixed languages);
* `{lang}-nokw`: the same without keywords;
* `{lang}-short`: name and the first description sentence, no keywords;
* `{lang}-names`: names only;
* `original`: data/profiles/catalog.json as shipped (tech and office only: multilingual descriptions,
  keywords in three languages).

Posts: data/match/train_*.jsonl (written for the tech/office catalogue; those with a null gold want
something outside it, sometimes in another domain here, so they are used only against tech/office) and
data/match/domains_posts.jsonl (posts for the new domains and off-catalogue posts for every domain).
A post whose gold profile is not in the catalogue being rendered has gold None: the right answer is none.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from services.match.matching.catalog import load_catalog
from services.match.store.models import Product, Vacancy
from services.match.training.evaluate import MatchCase, load_cases

DOMAINS_PATH = "data/match/domains.json"
DOMAIN_POSTS = "data/match/domains_posts.jsonl"
CATALOG_PATH = "data/profiles/catalog.json"
LANGS = ("en", "ru", "uk")
STYLES = ("", "-nokw", "-short", "-names")
VARIANTS = tuple(f"{lang}{style}" for lang in LANGS for style in STYLES) + ("original",)
LEGACY = {"product": "tech", "vacancy": "office"}     # the domain of data/profiles/catalog.json


@dataclass
class DomainProfile:
    id: str
    kind: str
    domain: str
    name: dict[str, str]
    description: dict[str, str]
    keywords: list[str] = field(default_factory=list)


def load_domains(path: str = DOMAINS_PATH, catalog_path: str = CATALOG_PATH) -> list[DomainProfile]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    catalog = load_catalog(catalog_path)
    shipped = {p.id: p.keywords for p in catalog.products} | {v.id: v.keywords for v in catalog.vacancies}
    out = []
    for section, kind, title in (("products", "product", "name"), ("vacancies", "vacancy", "title")):
        for row in data[section]:
            out.append(DomainProfile(row["id"], kind, row["domain"], row[title], row["description"],
                                     list(row.get("keywords") or shipped.get(row["id"], []))))
    return out


def first_sentence(text: str) -> str:
    for end in (". ", "! ", "? "):
        if end in text:
            return text.split(end, 1)[0] + end.strip()
    return text


def render(profiles: list[DomainProfile], variant: str) -> list[Product | Vacancy]:
    """The profiles (of one kind and domain) as a catalogue in the given variant (not `original`)."""
    lang, _, style = variant.partition("-")
    out = []
    for p in profiles:
        name = p.name[lang]
        description = {"": p.description[lang], "nokw": p.description[lang],
                       "short": first_sentence(p.description[lang]), "names": ""}[style]
        keywords = list(p.keywords) if style == "" else []
        if p.kind == "product":
            out.append(Product(id=p.id, name=name, description=description, keywords=keywords))
        else:
            out.append(Vacancy(id=p.id, title=name, description=description, keywords=keywords))
    return out


def variant_lang(variant: str) -> str:
    return "mixed" if variant == "original" else variant.split("-")[0]


@dataclass
class Setting:
    """One catalogue (a domain in a variant) and the posts scored against it."""
    kind: str
    domain: str
    variant: str
    profiles: list[Product | Vacancy]
    cases: list[MatchCase]          # gold None when the post's profile is not in this catalogue


def settings(kind: str, domains: list[DomainProfile], legacy: list[MatchCase], new: list[MatchCase],
             catalog_path: str = CATALOG_PATH, variants: tuple[str, ...] = VARIANTS) -> list[Setting]:
    """Every (domain, variant) catalogue of one kind with its posts. `legacy`: the train_* posts,
    `new`: domains_posts.jsonl; both of every kind (filtered here)."""
    by_domain: dict[str, list[DomainProfile]] = {}
    for p in domains:
        if p.kind == kind:
            by_domain.setdefault(p.domain, []).append(p)
    catalog = load_catalog(catalog_path)
    shipped = catalog.products if kind == "product" else catalog.vacancies
    out = []
    for domain, profiles in by_domain.items():
        ids = {p.id for p in profiles}
        pool = [c for c in new if c.kind == kind]
        pool += [c for c in legacy if c.kind == kind and (c.gold is not None or domain == LEGACY[kind])]
        cases = [MatchCase(c.text, c.lang, c.kind, c.gold if c.gold in ids else None, c.id) for c in pool]
        for variant in variants:
            if variant == "original":
                if domain == LEGACY[kind]:
                    out.append(Setting(kind, domain, variant, list(shipped), cases))
                continue
            out.append(Setting(kind, domain, variant, render(profiles, variant), cases))
    return out


def load_posts(train_paths: list[str], domain_posts: str = DOMAIN_POSTS) -> tuple[list[MatchCase], list[MatchCase]]:
    from intentflow.text.language import detect_language
    legacy = [c for p in train_paths for c in load_cases(p)]
    new = load_cases(domain_posts)
    for case in legacy + new:
        case.lang = case.lang or detect_language(case.text)
    return legacy, new


def write_catalogue(variant: str, out: str, domains_path: str = DOMAINS_PATH, only: tuple[str, ...] = (),
                    vacancy_variant: str = "") -> None:
    """The domains of data/match/domains.json (all, or those named in `only`) rendered in one variant (the
    vacancies in `vacancy_variant` when given), as a catalogue file that `intentflow eval match --profiles`
    reads."""
    import dataclasses
    profiles = [p for p in load_domains(domains_path) if not only or p.domain in only]
    rendered = {"products": render([p for p in profiles if p.kind == "product"], variant),
                "vacancies": render([p for p in profiles if p.kind == "vacancy"], vacancy_variant or variant)}
    data = {section: [{k: v for k, v in dataclasses.asdict(p).items() if v not in ("", [], 0.0)} for p in items]
            for section, items in rendered.items()}
    Path(out).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m services.match.training.variants",
                                     description="write data/match/domains.json as one catalogue variant")
    parser.add_argument("--variant", required=True, choices=[v for v in VARIANTS if v != "original"])
    parser.add_argument("--vacancy-variant", default="", choices=["", *(v for v in VARIANTS if v != "original")],
                        help="render the vacancies in this variant instead")
    parser.add_argument("--domain", action="append", default=[], help="only this domain (repeatable)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    write_catalogue(args.variant, args.out, only=tuple(args.domain), vacancy_variant=args.vacancy_variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
