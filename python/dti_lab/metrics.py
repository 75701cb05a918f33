"""The lab's metrics (src/train/metrics.ts): ROC AUC with tied scores at their average rank, clipped LogLoss."""

import torch

PROBABILITY_CLIP = 1e-7


def roc_auc(scores, labels):
    scores = torch.as_tensor(scores, dtype=torch.float64)
    positive = torch.as_tensor(labels) > 0.5
    positives = int(positive.sum())
    negatives = len(scores) - positives
    if positives == 0 or negatives == 0 or not torch.isfinite(scores).all():
        return float("nan")
    sorted_scores, order = torch.sort(scores, stable=True)
    # Tied scores share the average of their ranks (1-based).
    _, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).to(torch.float64)
    average = ends - (counts.to(torch.float64) - 1) / 2
    ranks = average[inverse]
    rank_sum = float(ranks[positive[order]].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def log_loss(probs, labels):
    p = torch.as_tensor(probs, dtype=torch.float64).clamp(PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    y = torch.as_tensor(labels) > 0.5
    return float(-(torch.where(y, p.log(), (1 - p).log())).mean()) if len(p) else float("nan")


def ctr_metrics(logits, labels):
    probs = torch.sigmoid(torch.as_tensor(logits, dtype=torch.float64))
    labels = torch.as_tensor(labels)
    return {
        "auc": roc_auc(probs, labels),
        "logLoss": log_loss(probs, labels),
        "count": len(probs),
        "meanPrediction": float(probs.mean()) if len(probs) else float("nan"),
        "clickRate": float((labels > 0.5).double().mean()) if len(labels) else float("nan"),
    }
