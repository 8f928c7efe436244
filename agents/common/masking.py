"""Action masking: envs put a boolean ``action_mask`` (True = allowed) in their observation
(a Dict key) or in ``info``; masked logits and Q-values make disallowed actions impossible
to sample and never the argmax."""

from __future__ import annotations

from typing import Any

import numpy as np
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


def final_masks(final_obs: Any, info: dict[str, Any], done: np.ndarray) -> np.ndarray | None:
    """Per env, the action mask of the observation a vector step led to (None: no masks).

    With SAME_STEP autoreset, the rows of envs whose episode ended must come from the last
    observation of that episode: ``final_obs`` already holds it (see
    ``agents.common.vector.final_observations``); an ``info`` mask's final rows are in
    ``info["final_info"]``. Off-policy targets need these to take the max over the actions
    that were really allowed there.
    """
    if isinstance(final_obs, dict) and MASK_KEY in final_obs:
        return np.asarray(final_obs[MASK_KEY], dtype=bool)
    if MASK_KEY not in info:
        return None
    masks = np.array(info[MASK_KEY], dtype=bool)  # a copy: the env's array is not ours to edit
    final = info.get("final_info") or {}
    if done.any() and MASK_KEY in final:
        masks[done] = np.asarray(final[MASK_KEY], dtype=bool)[done]
    return masks
