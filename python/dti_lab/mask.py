"""The lab's attention mask rule (src/prompt/mask.ts; method doc section 3), rebuilt from per-token metadata.

`allowed` is written with elementwise tensor operations only, so the same function serves FlexAttention's `mask_mod`
(scalar index tensors) and builds the dense boolean mask (index tensors broadcast over [batch, head, query, key]).
"""

import torch

ROLE_ITEM, ROLE_SUM, ROLE_LABEL, ROLE_PAD = 0, 1, 2, 3
ISOLATION_LEVELS = ("full-causal", "window", "sum-isolated", "strict")


def allowed(iq, ip, rq, rp, q, p, n, level):
    """May query token q (interaction iq, role rq) attend key token p (ip, rp) under window n and this level?"""
    ok = (p <= q) & (rq != ROLE_PAD) & (rp != ROLE_PAD)
    if level == "full-causal":
        return ok
    same = iq == ip
    ok = ok & (same | (ip >= iq - n))
    if level == "window":
        return ok
    key_not_sum = rp != ROLE_SUM
    if level == "sum-isolated":
        return ok & (same | key_not_sum)
    if level == "strict":
        # A [SUM] reads its own interaction and the context's items and labels; other tokens read their own interaction.
        return ok & torch.where(rq == ROLE_SUM, same | key_not_sum, same & key_not_sum)
    raise ValueError(f"isolation level must be one of {', '.join(ISOLATION_LEVELS)} (got {level!r})")
