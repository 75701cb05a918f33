"""The lab's metrics (src/train/metrics.ts): ROC AUC with tied scores at their average rank, clipped LogLoss,
accuracy at 0.5, and the calibration slope (b of the logistic fit label ~ a + b * logit(P), Newton with halving)."""

import math

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


def calibration_slope(probs, labels):
    """NaN when the fit does not exist: one class only, all predictions equal, or classes separated perfectly."""
    p = torch.as_tensor(probs, dtype=torch.float64).clamp(PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    x = (p / (1 - p)).log()
    y = (torch.as_tensor(labels) > 0.5).double()
    positives = float(y.sum())
    if positives == 0 or positives == len(y):
        return float("nan")

    def log_likelihood(a, b):
        eta = a + b * x
        return float((y * eta - torch.nn.functional.softplus(eta)).sum())

    a, b = math.log(positives / (len(y) - positives)), 0.0
    current = log_likelihood(a, b)
    for _ in range(100):
        mu = torch.sigmoid(a + b * x)
        w = mu * (1 - mu)
        g0, g1 = float((y - mu).sum()), float(((y - mu) * x).sum())
        h00, h01, h11 = float(w.sum()), float((w * x).sum()), float((w * x * x).sum())
        det = h00 * h11 - h01 * h01
        if not det > 1e-12 * h00 * h11:
            return float("nan")
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        step = 1.0
        following = log_likelihood(a + da, b + db)
        while following < current and step > 1e-6:
            step /= 2
            following = log_likelihood(a + step * da, b + step * db)
        a, b, current = a + step * da, b + step * db, following
        if not (math.isfinite(a) and math.isfinite(b)) or abs(b) > 1e6:
            return float("nan")
        if abs(step * da) < 1e-10 * (1 + abs(a)) and abs(step * db) < 1e-10 * (1 + abs(b)):
            return b
    return float("nan")


def ctr_metrics(logits, labels):
    probs = torch.sigmoid(torch.as_tensor(logits, dtype=torch.float64))
    labels = torch.as_tensor(labels)
    clicked = labels > 0.5
    return {
        "auc": roc_auc(probs, labels),
        "logLoss": log_loss(probs, labels),
        "accuracy": float(((probs >= 0.5) == clicked).double().mean()) if len(probs) else float("nan"),
        "count": len(probs),
        "meanPrediction": float(probs.mean()) if len(probs) else float("nan"),
        "clickRate": float(clicked.double().mean()) if len(labels) else float("nan"),
        "calibrationSlope": calibration_slope(probs, labels),
    }
