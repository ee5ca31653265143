"""The trained classifier artifact and the runtime that applies it.

Two stages, both trained by train.py on the labelled corpus only (a third opinion, the stream gate trained
on real chatter, confirms their verdicts: gate.py):

1. Kernel ridge regression, one output per signal and one per corpus `kind` (seller ad, hiring post, customer
   complaint, ...). The kernel adds an RBF kernel on the text embeddings to a linear kernel on everything else
   (parent embedding, rule features, shape cues, hashed n-grams). The RBF part keeps the training embeddings and
   dual coefficients; the linear part is stored as primal weights, so scoring a post costs one product with the
   training embeddings plus a sparse dot product.
2. Per signal, a small gradient-boosted tree ensemble over the stage-1 scores of the post and of its parent, the
   rule features and shape cues: it learns interactions a linear layer cannot ("talks about jobs" and "we are
   hiring" means not job seeking; "+1" under a job-search post means job seeking). Its output is Platt-calibrated
   and compared with a per-class threshold chosen on out-of-fold predictions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from intentflow.nlp.tokens import TokenArrays
from intentflow.signals import RULE_PREFIX, SIGNALS
from services.classify.artifact import load_artifact, save_artifact
from services.classify.classifier.features import ClassifyInput, FeatureBuilder, Features
from services.classify.classifier.gate import StreamGate, second_view
from services.classify.classifier.rules import Span

NEIGHBOURS = 2
FORMAT = 2
# Stage-1 kernel: EMBED_WEIGHT * exp(-GAMMA * |e - e'|^2) + <linear view, linear view'>; block weights of the
# linear view (chosen on out-of-fold scores of the training corpus).
GAMMA = 1.0
EMBED_WEIGHT = 1.0
PARENT_EMBED_WEIGHT = 0.5
RULE_WEIGHT = 1.0
PARENT_RULE_WEIGHT = 0.5
SHAPE_WEIGHT = 0.5
AGREE_GROUP = "context.agree"


def linear_view(features: Features) -> sp.csr_matrix:
    """The rows of the linear part of the stage-1 kernel."""
    dense = np.hstack([PARENT_EMBED_WEIGHT * features.parent_embeddings, RULE_WEIGHT * features.rules,
                       PARENT_RULE_WEIGHT * features.parent_rules, SHAPE_WEIGHT * features.shape])
    return sp.hstack([sp.csr_matrix(dense.astype(np.float32)), features.sparse], format="csr", dtype=np.float32)


def rbf(a: np.ndarray, b: np.ndarray, dots: np.ndarray | None = None) -> np.ndarray:
    """EMBED_WEIGHT * exp(-GAMMA * squared distance) for L2-normalised rows (`dots` = a @ b.T if known)."""
    dots = a @ b.T if dots is None else dots
    return EMBED_WEIGHT * np.exp(-GAMMA * np.maximum(2.0 - 2.0 * dots, 0.0))


def stage2_inputs(z: np.ndarray, features: Features, z_parent: np.ndarray, agree_index: int) -> np.ndarray:
    """Stage-2 design: own stage-1 scores, rule features, shape, and the parent's scores (zeros without one)."""
    agree = features.rules[:, agree_index:agree_index + 1]
    return np.hstack([z, features.rules, features.parent_rules, features.shape, features.has_parent[:, None],
                      z_parent, z_parent[:, :len(SIGNALS)] * agree]).astype(np.float64)


@dataclass
class Trees:
    """Gradient-boosted trees exported from scikit-learn as flat arrays: all trees of all signals in one table."""
    feature: np.ndarray     # (nodes,) int32
    threshold: np.ndarray   # (nodes,) float64; go left when x <= threshold (NaN never occurs here)
    left: np.ndarray        # (nodes,) int32, absolute node index
    right: np.ndarray       # (nodes,) int32
    value: np.ndarray       # (nodes,) float64 leaf values
    roots: np.ndarray       # (trees,) int32
    owner: np.ndarray       # (trees,) int32 signal index
    baseline: np.ndarray    # (signals,) float64
    depth: int

    @classmethod
    def from_sklearn(cls, models: list) -> Trees:
        feature, threshold, left, right, value, roots, owner = [], [], [], [], [], [], []
        offset, depth = 0, 0
        for k, model in enumerate(models):
            for (predictor,) in model._predictors:
                nodes = predictor.nodes
                leaf = nodes["is_leaf"].astype(bool)
                roots.append(offset)
                owner.append(k)
                feature.append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32))
                threshold.append(np.where(leaf, np.inf, nodes["num_threshold"]).astype(np.float64))
                idx = np.arange(len(nodes), dtype=np.int32) + offset
                left.append(np.where(leaf, idx, nodes["left"] + offset).astype(np.int32))
                right.append(np.where(leaf, idx, nodes["right"] + offset).astype(np.int32))
                value.append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
                depth = max(depth, int(nodes["depth"].max()))
                offset += len(nodes)
        baseline = np.array([float(np.ravel(m._baseline_prediction)[0]) for m in models])
        return cls(np.concatenate(feature), np.concatenate(threshold), np.concatenate(left), np.concatenate(right),
                   np.concatenate(value), np.array(roots, dtype=np.int32), np.array(owner, dtype=np.int32),
                   baseline, depth)

    def decision(self, x: np.ndarray) -> np.ndarray:
        """(n, signals) raw scores (log-odds before calibration)."""
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            go_left = x[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        leaves = self.value[node]
        out = np.zeros((len(x), len(self.baseline)))
        for k in range(len(self.baseline)):
            out[:, k] = self.baseline[k] + leaves[:, self.owner == k].sum(axis=1)
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{name}": getattr(self, name) for name in
                ("feature", "threshold", "left", "right", "value", "roots", "owner", "baseline")} | {
            f"{prefix}depth": np.array(self.depth)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> Trees:
        names = ("feature", "threshold", "left", "right", "value", "roots", "owner", "baseline")
        return cls(*(arrays[f"{prefix}{n}"] for n in names), depth=int(np.ravel(arrays[f"{prefix}depth"])[0]))


@dataclass
class TrainedModel:
    version: str
    embedder: str
    rule_features: list[str]
    rules_version: str
    targets: list[str]                 # stage-1 outputs: the signals, then the corpus kinds
    train_embeddings: np.ndarray       # (examples, dim) float32; RBF part of stage 1 and nearest examples
    alpha: np.ndarray                  # (examples, targets) dual coefficients of the RBF part
    linear_weights: sp.csr_matrix      # (linear view dim, targets) primal weights of the linear part
    offset: np.ndarray                 # (targets,)
    trees: Trees
    platt: np.ndarray                  # (signals, 2): a, b in sigmoid(a * raw + b)
    thresholds: np.ndarray             # (signals,)
    example_labels: np.ndarray         # (examples, signals) 0/1
    example_texts: list[str]
    report: dict = field(default_factory=dict)

    def stage1(self, features: Features, dots: np.ndarray | None = None) -> np.ndarray:
        """(n, targets) stage-1 scores; `dots` = similarities with the training embeddings if known."""
        if not len(features):
            return np.zeros((0, len(self.targets)))
        kernel = rbf(features.embeddings, self.train_embeddings, dots)
        linear = linear_view(features) @ self.linear_weights
        return np.asarray(kernel @ self.alpha + linear.toarray() + self.offset, dtype=np.float64)

    def parent_scores(self, features: Features) -> np.ndarray:
        scores = np.zeros((len(features), len(self.targets)))
        if features.parent is not None and len(features.parent_rows):
            scores[features.parent_rows] = self.stage1(features.parent)
        return scores

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.platt[:, 0] * raw + self.platt[:, 1])))

    def save(self, path: str | Path) -> None:
        """Writes PATH (.npz, byte-identical for identical models) and PATH with .json (metadata)."""
        w = self.linear_weights.tocsr()
        arrays = {"train_embeddings": self.train_embeddings.astype(np.float32), "alpha": self.alpha.astype(np.float32),
                  "w_data": w.data.astype(np.float32), "w_indices": w.indices.astype(np.int32),
                  "w_indptr": w.indptr.astype(np.int64), "w_shape": np.array(w.shape, dtype=np.int64),
                  "offset": self.offset.astype(np.float64), "platt": self.platt.astype(np.float64),
                  "thresholds": self.thresholds.astype(np.float64),
                  "example_labels": self.example_labels.astype(np.uint8)} | self.trees.arrays("tree_")
        meta = {"format": FORMAT, "version": self.version, "embedder": self.embedder,
                "rule_features": self.rule_features, "rules_version": self.rules_version, "targets": self.targets,
                "example_texts": self.example_texts,
                "report": {k: v for k, v in self.report.items() if k != "seconds"}}
        save_artifact(path, arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> TrainedModel:
        a, meta = load_artifact(path, "classifier model")
        if meta.get("format") != FORMAT:
            raise ValueError(f"classifier model {path} has an old format: retrain with `intentflow train`")
        weights = sp.csr_matrix((a["w_data"], a["w_indices"], a["w_indptr"]), shape=tuple(a["w_shape"]))
        return cls(version=meta["version"], embedder=meta["embedder"], rule_features=meta["rule_features"],
                   rules_version=meta["rules_version"], targets=meta["targets"],
                   train_embeddings=a["train_embeddings"], alpha=a["alpha"], linear_weights=weights,
                   offset=a["offset"], trees=Trees.from_arrays(a, "tree_"), platt=a["platt"],
                   thresholds=a["thresholds"], example_labels=a["example_labels"],
                   example_texts=meta["example_texts"], report=meta.get("report", {}))


@dataclass
class Decision:
    positive: np.ndarray                            # (n, signals) bool: the verdicts
    probability: np.ndarray                         # (n, signals) the score a queue is ranked by
    classifier_positive: np.ndarray | None = None   # the classifier's own verdicts, when a gate confirmed them
    gate: np.ndarray | None = None                  # the gate's probabilities
    gate_thresholds: np.ndarray | None = None
    second_view: np.ndarray | None = None           # e5 vectors of the flagged posts (zeros elsewhere)


@dataclass
class Verdict:
    signal: str
    probability: float
    positive: bool
    evidence: list[Span]
    reason: str


@dataclass
class Result:
    lang: str
    verdicts: list[Verdict]
    embedding: np.ndarray
    tokens: TokenArrays | None = None   # the text's tokens and lemmas (for ClassifiedPost.tokens)
    second_view: np.ndarray | None = None   # the gate's e5 vector of the text, when it computed one

    def positive(self, signal: str) -> bool:
        return any(v.positive for v in self.verdicts if v.signal == signal)

    def probability(self, signal: str) -> float:
        return next(v.probability for v in self.verdicts if v.signal == signal)


class SignalClassifier:
    def __init__(self, features: FeatureBuilder, model: TrainedModel, thresholds: dict[str, float] | None = None,
                 gate: StreamGate | None = None, second_encoder=None):
        """second_encoder: the e5 encoder (intentflow/e5.py) when the gate has a second view."""
        if model.embedder != features.embedder.name:
            raise ValueError(f"classifier was trained with embedder {model.embedder!r} but "
                             f"{features.embedder.name!r} is configured: retrain with `intentflow train`")
        if (model.rule_features != features.rules.feature_names()
                or model.rules_version != features.rules.version):
            raise ValueError("rules changed since the classifier was trained: retrain with `intentflow train`")
        self.features = features
        self.model = model
        self.gate = gate
        if gate is not None and gate.second_view_weight and second_encoder is None:
            raise ValueError("the stream gate has an e5 second view: give the classifier an e5 encoder")
        self.second_encoder = second_encoder
        self.agree_index = features.rules.groups.index(AGREE_GROUP)
        self._positives = [np.flatnonzero(model.example_labels[:, k]) for k in range(len(SIGNALS))]
        self.thresholds = model.thresholds.copy()
        for k, signal in enumerate(SIGNALS):
            if thresholds and thresholds.get(signal, -1) >= 0:
                self.thresholds[k] = thresholds[signal]

    @property
    def embedder(self):
        return self.features.embedder

    def scores(self, features: Features, dots: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities (n, signals) of the classifier and the parents' stage-1 scores (n, targets)."""
        z_parent = self.model.parent_scores(features)
        x = stage2_inputs(self.model.stage1(features, dots), features, z_parent, self.agree_index)
        return self.model.calibrated(self.model.trees.decision(x)), z_parent

    def decide(self, features: Features, probs: np.ndarray) -> Decision:
        """The classifier's verdicts, confirmed by the stream gate when there is one; the probability is then
        the geometric mean of the two opinions, so a queue ranked by it puts posts first that both find likely."""
        positive = probs >= self.thresholds
        if self.gate is None:
            return Decision(positive, probs)
        screen = self.gate.screen(features)
        asked = positive if screen is None else positive & screen[1]
        view = None
        if self.gate.second_view_weight:
            view = second_view(self.second_encoder, features.texts, asked.any(axis=1))
        gate = self.gate.probabilities(features, view)
        thresholds = self.gate.threshold_matrix(features.langs)
        if screen is not None:   # a verdict the screen turned down is judged by the screen's own opinion
            gate = np.where(screen[1], gate, screen[0])
            thresholds = np.where(screen[1], thresholds, self.gate.screen_bounds)
        return Decision(asked & (gate >= thresholds), np.sqrt(probs * gate), positive, gate, thresholds, view)

    def classify(self, inputs: list[ClassifyInput], embeddings: np.ndarray | None = None) -> list[Result]:
        if not inputs:
            return []
        feats = self.features.build(inputs, embeddings)
        dots = feats.embeddings @ self.model.train_embeddings.T  # shared by stage 1 and the nearest examples
        probs, z_parent = self.scores(feats, dots)
        decision = self.decide(feats, probs)
        probs = decision.probability
        results = []
        for n in range(len(inputs)):
            verdicts = []
            for k, signal in enumerate(SIGNALS):
                positive = bool(decision.positive[n, k])
                evidence = [s for s in feats.hits[n].spans if s.rule.startswith(RULE_PREFIX[signal])]
                from_thread = positive and z_parent[n, k] >= 0.5
                if from_thread:  # "+1, тоже ищу": the words that tie the reply to its parent
                    evidence += [s for s in feats.hits[n].spans if s.rule == AGREE_GROUP]
                reason = ""
                if positive:
                    reason = self._reason(signal, k, evidence, dots[n], z_parent[n, k], inputs[n].parent_text)
                elif decision.classifier_positive is not None and decision.classifier_positive[n, k]:
                    reason = (f"the classifier said yes, the stream gate says chatter "
                              f"({decision.gate[n, k]:.2f} < {decision.gate_thresholds[n, k]:.2f})")
                verdicts.append(Verdict(signal, float(probs[n, k]), positive, evidence, reason))
            view = decision.second_view
            results.append(Result(feats.langs[n], verdicts, feats.embeddings[n],
                                  feats.tokens[n] if feats.tokens is not None else None,
                                  view[n] if view is not None and view[n].any() else None))
        return results

    def _reason(self, signal: str, k: int, evidence: list[Span], dots: np.ndarray, parent_score: float,
                parent_text: str) -> str:
        parts = []
        if evidence:
            parts.append("rules: " + ", ".join(f"{s.rule} «{s.text}»" for s in evidence[:4]))
        if parent_text and parent_score >= 0.5:
            parts.append(f"thread: the parent post reads as {signal} («{_clip(parent_text, 60)}»)")
        positives = self._positives[k]
        if len(positives):
            sims = dots[positives]
            if len(sims) > NEIGHBOURS:
                top = np.argpartition(-sims, NEIGHBOURS - 1)[:NEIGHBOURS]
            else:
                top = np.arange(len(sims))
            order = top[np.argsort(-sims[top], kind="stable")]
            similar = "; ".join(f"«{_clip(self.model.example_texts[positives[j]])}» ({sims[j]:.2f})" for j in order)
            parts.append(f"similar {signal} examples: {similar}")
        return " | ".join(parts)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
