"""Scoring a split the lab's way: every target's logit from its prompt, batched by length, in the split's order."""

import torch

from .metrics import ctr_metrics

EVAL_BATCH_PROMPTS = 64


@torch.no_grad()
def score_split(model, split, n, level, attention="dense", batch_prompts=EVAL_BATCH_PROMPTS, rows=None):
    """Logits and labels of every target of `split` (or of the prompts `rows`), in target order."""
    model.eval()
    rows = list(range(len(split))) if rows is None else list(rows)
    rows.sort(key=lambda row: int(split.lengths[row]))
    logits = torch.zeros(split.targets, dtype=torch.float64)
    chosen = torch.zeros(split.targets, dtype=torch.bool)
    for start in range(0, len(rows), batch_prompts):
        batch = split.batch(rows[start : start + batch_prompts])
        z = model(batch["tokens"], batch["positions"], batch["interaction"], batch["role"], batch["target_prompt"], batch["target_pos"], n, level, attention)
        logits[batch["target_index"]] = z.double()
        chosen[batch["target_index"]] = True
    return logits[chosen], split.target_label[chosen]


def evaluate(model, split, n, level, attention="dense"):
    logits, labels = score_split(model, split, n, level, attention)
    return {**ctr_metrics(logits, labels), "logits": logits.tolist()}
