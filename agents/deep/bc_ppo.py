"""Behaviour cloning, then PPO: a policy pretrained on an expert's demonstrations
(supervised), then fine-tuned on the env's reward with :class:`~agents.deep.ppo.PPO`.

Stage 1 runs once, at the start of the first ``learn``: ``bc_episodes`` episodes of the
env's own expert (``env.expert_action()``, reached through wrappers: the structured
tool-use env follows its generator's solution plan) are recorded, and the policy's masked
logits are fitted to the expert's actions by cross-entropy for ``bc_epochs`` passes, while
the critic regresses the episodes' discounted returns, so PPO starts with a critic that
already knows what states are worth. Stage 2 is PPO unchanged, with defaults for
fine-tuning a pretrained policy: a small step size, no entropy bonus and a KL limit per
update, so the first noisy advantages cannot undo what cloning taught.

Clone to convergence (``bc_stats``: loss near 0, training accuracy 1.0). An underfit
clone picks the expert's action greedily but with little probability to spare, so the
episodes PPO samples from it mostly fail (measured on two-hop tasks: 78 % greedy success,
46 % sampled), and PPO spends its steps sharpening the policy instead of fixing its
mistakes; a converged clone from 100 episodes (300 epochs) starts PPO at 94 % / 87 % and
PPO lifts it to 97 % / 99 % (``benchmarks/RESULTS.md``). About 800 gradient steps are
enough here: 1500 episodes x 20 epochs (the default) or 100 x 300.

Demonstration steps are not counted in ``num_steps`` (which counts the learner's own env
steps, as for every learner); they are in :attr:`BCPPO.bc_stats`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import nn

from agents.base import Callback
from agents.common.masking import apply_mask, mask_from
from agents.common.torch_utils import as_tensor, torch_threads
from agents.common.transformer import TransformerConfig
from agents.common.vector import single_env
from agents.deep.policies import ActorCritic
from agents.deep.ppo import PPO, PPOConfig

EXPERT_METHOD = "expert_action"
"""The env method (found through wrappers) that gives the expert's action for the current
state."""


@dataclass(frozen=True)
class BCPPOConfig(PPOConfig):
    """Behaviour cloning settings, then PPO's (defaults for fine-tuning a cloned policy)."""

    bc_episodes: int = 1500
    """Expert episodes recorded for stage 1 (0 skips cloning: plain PPO)."""
    bc_epochs: int = 20
    """Passes over the demonstrations (fewer episodes need more passes to converge)."""
    bc_batch_size: int = 128
    """Minibatch size of the cloning stage, in transitions."""
    bc_learning_rate: float = 1e-3
    """Adam step size of the cloning stage (its own optimizer; PPO's starts fresh)."""
    bc_value_coef: float = 0.5
    """Weight of the critic's regression on the demonstrations' discounted returns."""
    d_model: int = 32
    """Width of the transformer encoder (token observations; see ``agents.common.transformer``)."""
    layers: int = 2
    """Transformer layers."""
    heads: int = 4
    """Attention heads (must divide ``d_model``)."""
    n_envs: int = 8
    n_steps: int = 64
    batch_size: int = 256
    n_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    learning_rate: float = 2e-4
    """PPO's step size: small, so fine-tuning refines the cloned policy instead of
    replacing it."""
    anneal_clip_range: bool = False
    ent_coef: float = 0.0
    target_kl: float | None = 0.02
    """Stop an update's epochs once its approximate KL passes ``1.5 * target_kl``."""

    def checks(self) -> list[tuple[str, bool, str]]:
        lr_ok = 0 < self.bc_learning_rate < math.inf
        return [
            *super().checks(),
            ("bc_episodes", self.bc_episodes >= 0, ">= 0"),
            ("bc_epochs", self.bc_epochs >= 1, ">= 1"),
            ("bc_batch_size", self.bc_batch_size >= 1, ">= 1"),
            ("bc_learning_rate", lr_ok, "a finite number > 0"),
            ("bc_value_coef", self.bc_value_coef >= 0, ">= 0"),
            ("d_model", self.d_model >= 1, ">= 1"),
            ("layers", self.layers >= 1, ">= 1"),
            ("heads", self.heads >= 1 and self.d_model % self.heads == 0, "a divisor of d_model"),
        ]


class BCPPO(PPO):
    """Behaviour cloning from the env's expert, then PPO (see the module docstring)."""

    name = "bc_ppo"
    config_class = BCPPOConfig
    config: BCPPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bc_done = False
        self.bc_stats: dict[str, float] = {}

    def build_policy(self) -> ActorCritic:
        cfg = self.config
        return ActorCritic(
            self.observation_space,
            self.action_space,
            cfg.hidden,
            fused=True,
            transformer=TransformerConfig(cfg.d_model, cfg.layers, cfg.heads),
        )

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "bc_done": self.bc_done, "bc_stats": self.bc_stats}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        super().load_extra_state(extra)
        self.bc_done = bool(extra["bc_done"])
        self.bc_stats = dict(extra["bc_stats"])

    def learn(
        self, env: gym.Env | VectorEnv, total_steps: int, callback: Callback | None = None
    ) -> None:
        """Clone the expert (first call only, unless ``bc_episodes`` is 0), then PPO until
        ``num_steps`` reaches ``total_steps``."""
        callback = callback if callback is not None else Callback()
        if self.config.bc_episodes and not self.bc_done:
            with torch_threads(self.config.torch_threads if self.device.type == "cpu" else None):
                demo_env = single_env(env, "behaviour cloning records demonstrations")
                self.bc_stats = self.behaviour_clone(demo_env)
            self.bc_done = True
            callback.on_update(self, {f"bc_{k}": v for k, v in self.bc_stats.items()})
        super().learn(env, total_steps, callback)

    # ------------------------------------------------------------------ stage 1
    def behaviour_clone(self, env: gym.Env) -> dict[str, float]:
        """Record ``bc_episodes`` expert episodes from ``env`` and fit the policy to them;
        returns the stage's statistics (expert success, final loss, training accuracy)."""
        started = time.perf_counter()
        demos = record_demonstrations(env, self.config.bc_episodes, self.config.gamma, self.seed)
        stats = self._fit(demos)
        stats.update(
            demo_episodes=float(self.config.bc_episodes),
            demo_steps=float(len(demos["actions"])),
            expert_success=demos["success"],
            seconds=time.perf_counter() - started,
        )
        return stats

    def _fit(self, demos: dict[str, Any]) -> dict[str, float]:
        cfg = self.config
        obs = as_tensor(demos["obs"], self.device)
        actions = torch.as_tensor(demos["actions"], device=self.device)
        masks = torch.as_tensor(demos["masks"], device=self.device)
        returns = torch.as_tensor(demos["returns"], dtype=torch.float32, device=self.device)
        optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.bc_learning_rate)
        n = len(actions)
        loss = accuracy = torch.zeros(())
        for _ in range(cfg.bc_epochs):
            order = torch.randperm(n, generator=self.generator, device=self.device)
            correct = torch.zeros((), device=self.device)
            for start in range(0, n, cfg.bc_batch_size):
                idx = order[start : start + cfg.bc_batch_size]
                batch = _index(obs, idx)
                logits, values = self.policy.heads(batch)
                log_probs = torch.log_softmax(apply_mask(logits, masks[idx]), dim=-1)
                policy_loss = nn.functional.nll_loss(log_probs, actions[idx])
                value_loss = nn.functional.mse_loss(values, returns[idx])
                loss = policy_loss + cfg.bc_value_coef * value_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                optimizer.step()
                with torch.no_grad():
                    correct += (log_probs.argmax(-1) == actions[idx]).sum()
            accuracy = correct / n
        return {"loss": float(loss.detach()), "train_accuracy": float(accuracy)}


def record_demonstrations(
    env: gym.Env, episodes: int, gamma: float, seed: int | None
) -> dict[str, Any]:
    """``episodes`` episodes of ``env``'s expert: stacked observations (dict of arrays or an
    array), actions, action masks, discounted returns-to-go and the expert's success rate.
    The first reset is seeded with ``seed``; later ones continue the env's random stream."""
    try:
        expert = env.get_wrapper_attr(EXPERT_METHOD)
    except AttributeError:
        raise ValueError(
            f"behaviour cloning needs an env with an {EXPERT_METHOD}() method (such as "
            f"palaestra/ToolUseStructured-v0); {env.spec.id if env.spec else env} has none. "
            "Set agent.bc_episodes=0 to train with PPO alone."
        ) from None
    observations: list[Any] = []
    actions: list[int] = []
    masks: list[np.ndarray] = []
    returns: list[float] = []
    successes = 0
    for episode in range(episodes):
        obs, info = env.reset(seed=seed if episode == 0 else None)
        rewards: list[float] = []
        done = False
        while not done:
            action = int(expert())
            mask = mask_from(obs, info)
            if mask is None:
                raise ValueError("behaviour cloning needs an action_mask in the observations")
            observations.append(obs)
            actions.append(action)
            masks.append(np.asarray(mask, dtype=bool))
            obs, reward, terminated, truncated, info = env.step(action)
            rewards.append(float(reward))
            done = terminated or truncated
        successes += bool(info.get("is_success", False))
        to_go = 0.0
        tail: list[float] = []
        for reward in reversed(rewards):
            to_go = reward + gamma * to_go
            tail.append(to_go)
        returns.extend(reversed(tail))
    if isinstance(observations[0], dict):
        stacked: Any = {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    else:
        stacked = np.stack(observations)
    return {
        "obs": stacked,
        "actions": np.asarray(actions, dtype=np.int64),
        "masks": np.stack(masks),
        "returns": np.asarray(returns, dtype=np.float32),
        "success": successes / max(episodes, 1),
    }


def _index(obs: Any, idx: torch.Tensor) -> Any:
    if isinstance(obs, dict):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]
