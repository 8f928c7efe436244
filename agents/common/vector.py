"""Vector-env plumbing shared by the deep learners: one autoreset convention, final
observations for bootstrapping, and per-env episode bookkeeping.

palaestra's learners use Gymnasium's ``SAME_STEP`` autoreset: when an env's episode ends,
``step`` already returns the first observation of the next episode and puts the last one in
``info["final_obs"]``. Every transition is then a real one (no dummy reset step to mask, as
``NEXT_STEP`` would need), and a truncated episode bootstraps from ``info["final_obs"]``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from agents.base import Callback, EpisodeStats


def as_vector_env(env: gym.Env | VectorEnv, n_envs: int = 1) -> VectorEnv:
    """``env`` as a SAME_STEP vector env.

    A vector env is used as it is (its own ``num_envs`` wins over ``n_envs``). A single env
    becomes the first of ``n_envs`` copies; the others are made from its ``spec`` (the id
    and keyword arguments it was made with), which is how a learner's ``n_envs`` setting
    works from one env handed over by the trainer or a script.
    """
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    if isinstance(env, VectorEnv):
        mode = env.metadata.get("autoreset_mode")
        if mode is not None and mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"vector env uses autoreset_mode={mode}; palaestra learners need SAME_STEP: "
                "gymnasium.make_vec(..., vector_kwargs={'autoreset_mode': "
                "gymnasium.vector.AutoresetMode.SAME_STEP})"
            )
        return env
    if n_envs > 1 and env.spec is None:
        raise ValueError(
            f"n_envs={n_envs} needs copies of the env, but it has no spec to make them from; "
            "create it with gymnasium.make or pass a vector env"
        )
    makers = [lambda: env] + [lambda: gym.make(env.spec) for _ in range(n_envs - 1)]
    return SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP)


def single_env(env: gym.Env | VectorEnv, purpose: str) -> gym.Env:
    """A single env for work done one episode at a time before vectorised learning (recording
    demonstrations, collecting pretraining frames): the env itself, or a synchronous vector
    env's first copy (its learner resets every copy afterwards). ``purpose`` names that work
    in the error raised for a vector env without copies."""
    if isinstance(env, VectorEnv):
        copies = getattr(env, "envs", None)
        if not copies:
            raise ValueError(
                f"{purpose} from a single env; pass one, or a synchronous vector env (its "
                "first copy is used)"
            )
        return copies[0]
    return env


def final_observations(next_obs: Any, info: dict[str, Any], done: np.ndarray) -> Any:
    """``next_obs`` with the rows of finished episodes replaced by their last observation."""
    if not done.any() or "final_obs" not in info:
        return next_obs
    idx = np.flatnonzero(done)
    final = info["final_obs"]
    if isinstance(next_obs, dict):
        out = {k: v.copy() for k, v in next_obs.items()}
        for i in idx:
            for k in out:
                out[k][i] = final[i][k]
        return out
    out = next_obs.clone() if hasattr(next_obs, "clone") else next_obs.copy()  # torch or numpy
    for i in idx:
        out[i] = final[i]
    return out


def successes(info: dict[str, Any], done: np.ndarray) -> np.ndarray:
    """Per env: did the episode that ended this step succeed (``is_success``, else False)."""
    out = np.zeros(len(done), dtype=bool)
    final = info.get("final_info")
    if final and "is_success" in final:
        out[done] = np.asarray(final["is_success"], dtype=bool)[done]
    return out


class EpisodeTracker:
    """Running returns and lengths per env; reports each finished episode to a callback."""

    def __init__(self, n_envs: int) -> None:
        self.returns = np.zeros(n_envs, dtype=np.float64)
        self.lengths = np.zeros(n_envs, dtype=np.int64)
        self.recent: list[float] = []  # returns of the episodes finished so far (bounded)

    def step(
        self,
        reward: np.ndarray,
        done: np.ndarray,
        info: dict[str, Any],
        num_steps: int,
        agent: Any,
        callback: Callback,
    ) -> None:
        self.returns += reward
        self.lengths += 1
        if not done.any():
            return
        success = successes(info, done)
        for i in np.flatnonzero(done):
            ret = float(self.returns[i])
            callback.on_episode_end(
                agent, EpisodeStats(num_steps, ret, int(self.lengths[i]), bool(success[i]))
            )
            self.recent.append(ret)
        del self.recent[:-100]
        self.returns[done] = 0.0
        self.lengths[done] = 0
