"""`intentflow train`, `eval classify` and `eval match`: in-process, no services needed."""
from __future__ import annotations

import sys
import time

import numpy as np

from intentflow.classifier import build_features, load_classifier
from intentflow.classifier.baseline import KeywordBaseline
from intentflow.classifier.corpus import load_examples
from intentflow.classifier.evaluate import evaluate, print_evaluation, print_reliability
from intentflow.classifier.labels import SIGNALS
from intentflow.classifier.train import default_paths, train
from intentflow.matching.evaluate import run as run_match_evaluation
from intentflow.prefilter import Prefilter, train_prefilter
from intentflow.settings import ModelSettings, from_env
from intentflow.text.language import detect_language

BATCH = 128


def train_command(args) -> int:
    settings = from_env(ModelSettings)
    paths = args.data or default_paths()
    out = args.out or settings.classifier_path
    print(f"training on {len(paths)} files with {settings.embedder} → {out}", file=sys.stderr)
    model = train(build_features(settings), paths, out)
    for signal, row in model.report["per_signal"].items():
        print(f"{signal} C={row['C']} threshold={row['threshold']:.2f} oof_f1={row['oof_f1']:.3f} "
              f"positives={row['positives']}")
    print(f"examples={model.report['examples']} seconds={model.report['seconds']}")
    prefilter = train_prefilter(load_examples(paths))
    prefilter.save(settings.prefilter_path)
    print(f"prefilter threshold={prefilter.threshold:.3f} oof_recall={prefilter.oof_recall:.3f} "
          f"oof_pass_rate={prefilter.oof_pass_rate:.3f} → {settings.prefilter_path}")
    return 0


def eval_prefilter(args) -> int:
    """How much of the dev data the first stage lets through, and how many positives it loses."""
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
