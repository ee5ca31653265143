"""Throughput of language detection and Linguistics on the project's ru/uk/en posts.

Run with `python -m tools.nlp_bench [--posts N] [--corpus GLOB]`.
Posts come from the hand-written corpus in data/classify, interleaved by language so
every batch is mixed; cold-cache speed depends on how many distinct tokens they hold,
so that number is printed too.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

from intentflow.nlp.linguistics import Linguistics
from intentflow.text.language import clear_language_cache, detect_language

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "data" / "classify"
LANGS = ("ru", "uk", "en")


def load_posts(corpus: Path, count: int) -> list[tuple[str, str]]:
    """Up to `count` (text, lang) pairs, taking ru, uk and en posts in turn."""
    by_lang: dict[str, list[str]] = {lang: [] for lang in LANGS}
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("lang") in by_lang:
                by_lang[row["lang"]].append(row["text"])
    interleaved = itertools.chain.from_iterable(itertools.zip_longest(*by_lang.values()))
    texts_langs = zip(interleaved, itertools.cycle(LANGS))
    return [(text, lang) for text, lang in texts_langs if text is not None][:count]


def _rate(count: int, prepare: Callable[[], Callable[[], object]], repeats: int = 3) -> float:
    """Best of `repeats` runs; prepare() is untimed and returns the work to time."""
    best = float("inf")
    for _ in range(repeats):
        work = prepare()
        gc.collect()  # leftovers of the previous run would otherwise be collected mid-run
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return count / best


def run(posts: list[tuple[str, str]]) -> None:
    count = len(posts)
    texts, langs = [t for t, _ in posts], [lang for _, lang in posts]
    groups = {lang: [t for t, post_lang in posts if post_lang == lang] for lang in LANGS}
    started = time.perf_counter()
    warm = Linguistics()
    built = time.perf_counter() - started
    tokens = [token.lower_ for text, lang in posts for token in warm.nlp(lang).make_doc(text)]
    print(f"{count} posts ({', '.join(f'{lang} {len(g)}' for lang, g in groups.items())}), "
          f"{len(tokens) / count:.1f} tokens/post, {len(set(tokens))} distinct lowercase tokens")
    print(f"Linguistics() construction: {built:.2f} s")

    def fresh_docs() -> Callable[[], object]:
        cold = Linguistics()
        return lambda: cold.docs(texts, langs)

    def fresh_detect() -> Callable[[], object]:
        clear_language_cache()
        return lambda: [detect_language(t) for t in texts]

    uncached = Linguistics(cache_size=0)
    rows = [
        ("detect_language, cold word cache", _rate(count, fresh_detect)),
        ("detect_language, warm", _rate(count, lambda: lambda: [detect_language(t) for t in texts])),
        ("tokenizer only, no lemmas", _rate(count, lambda: lambda: [
            list(warm.nlp(lang).tokenizer.pipe(group)) for lang, group in groups.items()])),
        ("docs(), cold lemma cache", _rate(count, fresh_docs)),
        ("docs(), cached", _rate(count, lambda: lambda: warm.docs(texts, langs))),
        ("doc() one post at a time, cached", _rate(count, lambda: lambda: [
            warm.doc(t, lang) for t, lang in posts])),
        ("docs() with cache_size=0", _rate(count, lambda: lambda: uncached.docs(texts, langs), 1)),
    ]
    for name, rate in rows:
        print(f"  {name:<36}{rate:>10,.0f} posts/s")
    for lang, info in warm.cache_info().items():
        print(f"  lemma cache {lang:<6} hits={info.hits} misses={info.misses} size={info.currsize}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2_000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="folder with classify-style *.jsonl files (text, lang)")
    args = parser.parse_args()
    posts = load_posts(args.corpus, args.posts)
    if not posts:
        parser.error(f"no ru/uk/en posts found in {args.corpus}")
    run(posts)


if __name__ == "__main__":
    main()
