"""`intentflow train`, `eval classify` and `eval match`: in-process, no services needed."""
from __future__ import annotations

import dataclasses
import sys
import time
from contextlib import nullcontext

import numpy as np

from intentflow.settings import ModelSettings, from_env
from intentflow.signals import SIGNALS
from intentflow.text.language import detect_language
from services.classify.classifier import load_classifier
from services.classify.prefilter import Prefilter
from services.classify.training.baseline import KeywordBaseline
from services.classify.training.corpus import load_examples
from services.classify.training.evaluate import evaluate, print_evaluation, print_reliability
from services.classify.training.train import train_all
from services.match.training.evaluate import run as run_match_evaluation

BATCH = 128


def train_command(args) -> int:
    train_all(args.data, args.out, args.with_feedback)
    return 0


def eval_stream(args) -> int:
    import glob
    import json

    from intentflow.e5 import load_e5
    from services.classify.training.gate import real_paths
    from services.classify.training.stream_eval import evaluate_stream
    from services.classify.training.train import default_paths
    settings = from_env(ModelSettings)
    chatter = args.chatter or sorted(glob.glob("data/real/chatter/*.jsonl"))
    positives = args.positives or sorted(glob.glob("data/classify/dev_*.jsonl")
                                         + glob.glob("data/real/signals/*.jsonl"))
    classifier = load_classifier(dataclasses.replace(settings, stream_gate=False))
    second_encoder = None if args.no_second_view else load_e5(settings.encoder_threads)
    with open(args.queue_dump, "w", encoding="utf-8") if args.queue_dump else nullcontext() as dump:
        report = evaluate_stream(classifier, default_paths(), real_paths(), chatter, positives, args.prevalence,
                                 queue_dump=dump, second_encoder=second_encoder)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
    return 0


def eval_prefilter(args) -> int:
    """How much of the data the first stage lets through and how many positives it loses (`--data`, with the
    trained model), or leave-one-source-out over the real chatter sources (`--loso`, retraining each time)."""
    if not args.loso and not args.data and not args.sweep_c:
        print("eval prefilter: give --data JSONL, --loso and/or --sweep-c", file=sys.stderr)
        return 2
    if args.sweep_c:
        from services.classify.training.gate import gate_rows, real_paths
        from services.classify.training.prefilter import regularisation_sweep
        from services.classify.training.train import default_paths
        for row in regularisation_sweep(gate_rows(default_paths(), real_paths()), args.sweep_c, folds=args.folds):
            print(f"C={row['C']:g} " + " ".join(f"pass@recall{t}={v:.3f}" for t, v in row["pass_rate"].items()),
                  flush=True)
        if not args.loso and not args.data:
            return 0
    if args.loso:
        import json

        from services.classify.training.gate import real_paths
        from services.classify.training.prefilter import leave_one_source_out, loso_markdown
        from services.classify.training.train import default_paths
        report = leave_one_source_out(default_paths(), real_paths(), args.chatter, args.dev, folds=args.folds,
                                      progress=lambda line: print(line, file=sys.stderr, flush=True))
        print(loso_markdown(report))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(report, fh, indent=1)
        if not args.data:
            return 0
    prefilter = Prefilter.load(from_env(ModelSettings).prefilter_path)
    examples = load_examples([args.data])
    passed = prefilter.passes([e.text for e in examples], [e.parent_text for e in examples])
    positive = np.array([bool(e.labels) for e in examples])
    print(f"prefilter threshold={prefilter.threshold:.3f} posts={len(examples)} pass_rate={passed.mean():.3f} "
          f"negatives_passed={passed[~positive].mean() if (~positive).any() else 0:.3f} "
          f"recall={passed[positive].mean() if positive.any() else 0:.3f}")
    return 0


def eval_classify(args) -> int:
    examples = load_examples([args.data])
    langs = [e.lang or detect_language(e.text) for e in examples]
    if args.baseline == "keywords":
        baseline = KeywordBaseline()
        predictions = [baseline.predict(e.text) for e in examples]
    else:
        classifier = load_classifier(from_env(ModelSettings))
        predictions, probabilities = [], []
        started = time.perf_counter()
        for start in range(0, len(examples), BATCH):
            for result in classifier.classify([e.as_input() for e in examples[start:start + BATCH]]):
                predictions.append({v.signal for v in result.verdicts if v.positive})
                probabilities.append([result.probability(s) for s in SIGNALS])
        print(f"# classified {len(examples)} posts in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        if args.reliability:
            print_reliability(np.array(probabilities), examples, sys.stdout)
    print_evaluation(evaluate(examples, predictions, langs), sys.stdout, confusion=args.confusion)
    return 0


def eval_match(args) -> int:
    run_match_evaluation(args.profiles, args.data, "all", sys.stdout)
    return 0
