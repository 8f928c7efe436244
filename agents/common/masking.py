"""Action masking: envs put a boolean ``action_mask`` (True = allowed) in their observation
(a Dict key) or in ``info``; masked logits and Q-values make disallowed actions impossible
to sample and never the argmax."""

from __future__ import annotations

from typing import Any

import torch

MASK_KEY = "action_mask"


def mask_from(obs: Any, info: dict[str, Any] | None = None) -> Any:
    """The action mask carried by an observation dict, else by ``info``, else None."""
    if isinstance(obs, dict) and MASK_KEY in obs:
        return obs[MASK_KEY]
    if info is not None and MASK_KEY in info:
        return info[MASK_KEY]
    return None


def apply_mask(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``scores`` (logits or Q-values) with disallowed actions set to the lowest float.

    A row with no allowed action is a bug in the env; it raises instead of silently
    choosing a forbidden action.
    """
    if mask is None:
        return scores
    mask = mask.to(device=scores.device, dtype=torch.bool).reshape(scores.shape)
    if not bool(mask.any(dim=-1).all()):
        raise ValueError("action_mask allows no action in some state; at least one must be True")
    return scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
