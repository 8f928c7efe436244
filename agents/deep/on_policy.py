"""What A2C and PPO share: the config fields, the rollout collection loop, GAE, the losses
they have in common, one gradient step, and the NaN/inf guard.

A learner subclasses :class:`OnPolicyAgent` and writes only :meth:`OnPolicyAgent.update`
(what it does with a full :class:`~agents.common.rollout.RolloutBuffer`) and its optimizer.

The collection loop is the hot path of small-network training on CPU, where each torch call
costs microseconds of Python and dispatch overhead and the networks themselves cost little.
So it acts under ``torch.inference_mode`` through :meth:`ActorCritic.heads` / ``sample``
(no ``torch.distributions`` objects), writes into preallocated tensors, converts numpy with
``torch.from_numpy``, and never calls ``.item()`` per step. Envs whose observations are
already torch tensors (a batched env on the GPU) get tensor actions back and their
observations are copied device to device only; rewards and done flags come to the host once
per step, for episode bookkeeping and the callbacks.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import nn

from agents.base import Callback
from agents.common.gnn import GNNConfig
from agents.common.masking import mask_from
from agents.common.rollout import RolloutBuffer
from agents.common.schedules import ConstantSchedule, LinearSchedule, Schedule
from agents.common.torch_utils import (
    FlatParameters,
    as_tensor,
    check_finite,
    check_parameters_finite,
    clip_grad_norm,
    set_learning_rate,
    torch_threads,
)
from agents.common.vector import EpisodeTracker, as_vector_env, final_observations
from agents.deep.base import TorchAgent
from agents.deep.policies import ActorCritic


@dataclass(frozen=True)
class OnPolicyConfig:
    """Settings every on-policy actor-critic learner has; subclasses set their own defaults."""

    n_envs: int = 8
    """Copies of the env stepped together when ``learn`` gets a single env (made from its
    spec); a vector env passed to ``learn`` keeps its own size. Each rollout holds
    ``n_envs * n_steps`` transitions."""
    n_steps: int = 5
    """Vector-env steps per rollout, i.e. the horizon of each env's GAE between updates."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    gae_lambda: float = 1.0
    """GAE's lambda in [0, 1]: 0 is the one-step TD advantage (low variance, biased by the
    critic), 1 the Monte-Carlo return minus the baseline over the rollout."""
    learning_rate: float = 7e-4
    """Optimizer step size at the start of training."""
    anneal_lr: bool = False
    """Decay the step size linearly to 0 over ``learn``'s ``total_steps`` (SB3's ``lin_``
    schedules, CleanRL's ``anneal_lr``); a resumed run continues the same line."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus; > 0 slows the collapse of exploration."""
    vf_coef: float = 0.5
    """Weight of the value loss (mean squared error, as in SB3) in the total loss."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global L2 norm to this (0 disables clipping)."""
    normalize_advantage: bool = False
    """Standardise advantages to mean 0 and std 1 per (mini)batch."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and critic MLPs (flat observations; image and grid
    observations get a shared CNN encoder with linear heads)."""
    gnn_hidden: int = 64
    """Width of the graph encoder (graph observations such as GraphNav's only; see
    ``agents.common.gnn``)."""
    gnn_rounds: int = 3
    """Message-passing rounds of the graph encoder: how many edges away each node sees."""
    device: str = "auto"
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    torch_threads: int | None = 1
    """CPU threads torch may use while learning (restored afterwards); None leaves torch's
    setting. One thread is the fastest for classic-control MLPs: measured on 2 cores,
    PPO on CartPole runs ~1.3x faster than with 2 threads, and far faster on a busy
    machine, where spinning worker threads fight the env for the cores."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        for name, ok, expected in self.checks():
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

    def checks(self) -> list[tuple[str, bool, str]]:
        """(field, valid?, what is expected) for every range check; subclasses extend it."""
        threads_ok = self.torch_threads is None or self.torch_threads >= 1
        return [
            ("n_envs", self.n_envs >= 1, ">= 1"),
            ("n_steps", self.n_steps >= 1, ">= 1"),
            ("gamma", 0.0 <= self.gamma <= 1.0, "in [0, 1]"),
            ("gae_lambda", 0.0 <= self.gae_lambda <= 1.0, "in [0, 1]"),
            ("learning_rate", 0 < self.learning_rate < math.inf, "a finite number > 0"),
            ("ent_coef", self.ent_coef >= 0, ">= 0"),
            ("vf_coef", self.vf_coef >= 0, ">= 0"),
            ("max_grad_norm", self.max_grad_norm >= 0, ">= 0 (0 disables clipping)"),
            ("hidden", all(w >= 1 for w in self.hidden), "positive widths"),
            ("gnn_hidden", self.gnn_hidden >= 1, ">= 1"),
            ("gnn_rounds", self.gnn_rounds >= 1, ">= 1"),
            ("torch_threads", threads_ok, ">= 1 or None"),
        ]

    def lr_schedule(self, total_steps: int) -> Schedule:
        """Step size by step count for a run that ends at ``total_steps``."""
        if self.anneal_lr:
            return LinearSchedule(self.learning_rate, 0.0, total_steps)
        return ConstantSchedule(self.learning_rate)


# ---------------------------------------------------------------------- shared losses


def normalize(advantages: torch.Tensor) -> torch.Tensor:
    """Advantages standardised to mean 0, std 1 (a single one is left as it is)."""
    if advantages.numel() < 2:
        return advantages
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor | None = None,
    clip_range: float | None = None,
) -> torch.Tensor:
    """Mean squared error of the values against the returns (SB3's value loss).

    With ``clip_range``, PPO2's pessimistic clipped form: the larger of the plain error and
    the error of ``old_values + clamp(values - old_values, -clip, clip)``, so the critic gains
    nothing from moving further than ``clip_range`` from the values it had when it acted.
    """
    if clip_range is None:
        return nn.functional.mse_loss(values, returns)
    error = (values - returns).pow(2)
    assert old_values is not None, "clipped value loss needs the rollout's values"
    clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)
    return torch.maximum(error, (clipped - returns).pow(2)).mean()


# ---------------------------------------------------------------------- the learner


class OnPolicyAgent(TorchAgent):
    """An actor-critic trained on fresh rollouts from a SAME_STEP vector env.

    ``learn`` collects ``n_steps`` vector steps, computes GAE (truncation bootstraps from
    the value of the final observation, termination does not), calls :meth:`update`, and
    stops with :class:`~agents.common.torch_utils.NonFiniteError` (naming the step and the
    quantity) as soon as a reward, observation, value, loss or parameter is NaN or inf.
    """

    config: OnPolicyConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: OnPolicyConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(self.config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, "
                f"got {type(self.config).__name__}"
            )
        # The network is drawn from the agent's seed without touching torch's global RNG.
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.policy = self.build_policy()
        self.policy.to(self.device)
        # One buffer for all parameters and one for their gradients (after ``.to``): the
        # optimizer, the clipping and the zeroing then cost one kernel each per step.
        self._flat = FlatParameters(self.policy.parameters())
        self._params = [self._flat.flat]
        self.optimizer = self.make_optimizer(self._params)
        self.generator = torch.Generator(device=self.device)
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()
        self.n_actions = (
            int(action_space.n) if isinstance(action_space, gym.spaces.Discrete) else None
        )
        if isinstance(action_space, gym.spaces.Box):
            self._low = torch.as_tensor(action_space.low, dtype=torch.float32, device=self.device)
            self._high = torch.as_tensor(action_space.high, dtype=torch.float32, device=self.device)
        self.num_updates = 0
        self.total_steps = 0  # ``total_steps`` of the current (or last) ``learn`` call
        self.rollout_start = 0  # ``num_steps`` when the current rollout began

    # ------------------------------------------------------------------ subclass API
    def build_policy(self) -> ActorCritic:
        """The actor-critic to train, built under the agent's seed: by default over
        ``observation_space``; learners whose networks read other inputs (a centralised
        critic over a global state) override it."""
        return ActorCritic(
            self.observation_space,
            self.action_space,
            self.config.hidden,
            fused=True,
            gnn=GNNConfig(self.config.gnn_hidden, self.config.gnn_rounds),
        )

    @abstractmethod
    def make_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        """The optimizer over ``params``: the policy's parameters as one flat tensor
        (:class:`~agents.common.torch_utils.FlatParameters`), so element-wise optimizers
        behave exactly as over the separate tensors."""

    @abstractmethod
    def update(self, buffer: RolloutBuffer) -> dict[str, torch.Tensor]:
        """Learn from a full rollout (advantages and returns filled in).

        Returns the update's diagnostics as 0-d tensors; the caller checks the ones whose
        name ends in ``loss`` for NaN/inf and reports them all with one host sync.
        """

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"policy": self.policy, "optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "num_updates": self.num_updates}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        self.generator.set_state(extra["generator"])
        self.num_updates = int(extra["num_updates"])

    def policy_action(
        self, obs: Any, mask: torch.Tensor | None, deterministic: bool
    ) -> torch.Tensor:
        out, _ = self.policy.heads(obs)
        actions, _ = self.policy.sample(out, mask, deterministic, self.generator)
        if self.policy.continuous:
            actions = torch.clamp(actions, self._low, self._high)
        return actions

    # ------------------------------------------------------------------ learning
    def learn(
        self, env: gym.Env | VectorEnv, total_steps: int, callback: Callback | None = None
    ) -> None:
        """Train until ``num_steps`` (all envs together) reaches ``total_steps``.

        A single env becomes a vector of ``config.n_envs`` copies: the env passed in is the
        first, the others are made from its spec and closed afterwards. Every call starts
        new episodes; the env is seeded with the agent's seed only on the first call of a
        fresh agent. The last rollout is completed even if it passes ``total_steps`` (as in
        SB3), so every step collected is learned from; a callback returning False stops at
        once, and the partial rollout is dropped.
        """
        if self.num_steps >= total_steps:
            return
        callback = callback if callback is not None else Callback()
        venv = as_vector_env(env, self.config.n_envs)
        try:
            self.check_env_spaces(venv)
            with torch_threads(self.config.torch_threads if self.device.type == "cpu" else None):
                self._learn(venv, total_steps, callback)
        finally:
            if venv is not env:  # close the copies made here, not the caller's env
                for copy in getattr(venv, "envs", [])[1:]:
                    copy.close()

    def _learn(self, venv: VectorEnv, total_steps: int, callback: Callback) -> None:
        cfg = self.config
        self.total_steps = total_steps  # the end point of this call's schedules
        lr_at = cfg.lr_schedule(total_steps)
        obs, info = venv.reset(seed=self.seed if self.num_steps == 0 else None)
        has_mask = mask_from(obs, info) is not None
        if has_mask and self.n_actions is None:
            raise ValueError("action masks need a Discrete action space")
        buffer = RolloutBuffer(
            self.observation_space,
            self.action_space,
            cfg.n_steps,
            venv.num_envs,
            self.device,
            self.n_actions if has_mask else None,
        )
        tracker = EpisodeTracker(venv.num_envs)
        while self.num_steps < total_steps:
            # Schedules read the step count at the start of the rollout (as CleanRL): read
            # after it, the last update of a run would get a step size of exactly 0.
            self.rollout_start = self.num_steps
            obs, info, complete = self._collect(venv, buffer, obs, info, tracker, callback)
            if not complete:
                return
            with torch.inference_mode():
                last_values = self.policy.value(as_tensor(obs, self.device))
            self.learn_from_rollout(buffer, last_values, lr_at(self.rollout_start), callback)

    def learn_from_rollout(
        self, buffer: RolloutBuffer, last_values: torch.Tensor, lr: float, callback: Callback
    ) -> None:
        """Everything after collection: GAE from ``last_values`` (the values of the
        observations after the rollout), the NaN/inf guard, one :meth:`update` at step size
        ``lr``, and the update's metrics to ``callback.on_update``."""
        cfg = self.config
        step = self.num_steps
        buffer.compute_returns(last_values, cfg.gamma, cfg.gae_lambda)
        self._check_rollout(step, buffer)
        set_learning_rate(self.optimizer, lr)
        stats = self.update(buffer)
        self.num_updates += 1
        check_finite(step, **{k: v for k, v in stats.items() if k.endswith("loss")})
        check_parameters_finite(step, self.policy)
        metrics = dict(zip(stats, torch.stack(list(stats.values())).tolist(), strict=True))
        metrics["learning_rate"] = lr
        callback.on_update(self, metrics)

    def _collect(
        self,
        venv: VectorEnv,
        buffer: RolloutBuffer,
        obs: Any,
        info: dict[str, Any],
        tracker: EpisodeTracker,
        callback: Callback,
    ) -> tuple[Any, dict[str, Any], bool]:
        """Fill ``buffer`` with ``n_steps`` vector steps from ``obs``; False: a callback
        stopped training. Returns the observation and info to continue from."""
        policy, generator, device = self.policy, self.generator, self.device
        n_envs = venv.num_envs
        tensor_env = _is_tensor(obs)
        box = self.policy.continuous
        for t in range(buffer.n_steps):
            obs_t = buffer.store_obs(t, obs)
            mask_t = None
            if buffer.masks is not None:
                mask = mask_from(obs, info)
                if mask is None:
                    raise ValueError(
                        f"the env stopped providing action_mask at step {self.num_steps}"
                    )
                mask_t = buffer.masks[t]
                mask_t.copy_(as_tensor(mask, device), non_blocking=True)
            with torch.inference_mode():
                out, values = policy.heads(obs_t)
                actions, log_probs = policy.sample(out, mask_t, generator=generator)
            buffer.store_action(t, actions, log_probs, values)
            if box:
                actions = torch.clamp(actions, self._low, self._high)
            obs, reward, terminated, truncated, info = venv.step(
                actions if tensor_env else actions.cpu().numpy()
            )
            buffer.store_outcome(t, reward, terminated, truncated)
            terminated, truncated = _host(terminated), _host(truncated)
            if truncated.any():
                buffer.final_values[t] = self._final_values(obs, info, truncated)
            self.num_steps += n_envs
            tracker.step(
                _host(reward), terminated | truncated, info, self.num_steps, self, callback
            )
            if not callback.on_step(self, self.num_steps):
                return obs, info, False
        return obs, info, True

    def _final_values(self, obs: Any, info: dict[str, Any], truncated: np.ndarray) -> torch.Tensor:
        """V(final observation) per env; only the truncated rows are meaningful."""
        final = final_observations(obs, info, truncated)
        with torch.inference_mode():
            return self.policy.value(as_tensor(final, self.device))

    def _check_rollout(self, step: int, buffer: RolloutBuffer) -> None:
        """NonFiniteError naming the first non-finite quantity of a collected rollout.

        Rewards and observations point at the env; values and advantages at the critic.
        One fused check (one host sync) covers the common, all-finite case.
        """
        parts = {
            "rewards": buffer.rewards,
            "values": buffer.values,
            "advantages": buffer.advantages,
        }
        obs = buffer.obs if isinstance(buffer.obs, dict) else {"": buffer.obs}
        for key, tensor in obs.items():
            if tensor.is_floating_point():
                parts["observations" + (f"[{key!r}]" if key else "")] = tensor
        if bool(torch.stack([torch.isfinite(p).all() for p in parts.values()]).all()):
            return
        check_finite(step, **parts)

    # ------------------------------------------------------------------ update helpers
    def gradient_step(self, loss: torch.Tensor) -> torch.Tensor | None:
        """Backpropagate ``loss``, clip the gradient norm, step. Returns the norm before
        clipping as a tensor (reading it would sync), None when clipping is off."""
        self._flat.zero_grad()
        loss.backward()
        norm = None
        if self.config.max_grad_norm > 0:
            norm = clip_grad_norm(self._params, self.config.max_grad_norm)
        self.optimizer.step()
        return norm

    def total_loss(
        self, policy_loss: torch.Tensor, value_loss: torch.Tensor, entropy: torch.Tensor | None
    ) -> torch.Tensor:
        """Policy loss + ``vf_coef`` * value loss - ``ent_coef`` * mean entropy."""
        cfg = self.config
        loss = torch.add(policy_loss, value_loss, alpha=cfg.vf_coef)  # one op, not two
        if cfg.ent_coef:
            assert entropy is not None, "an entropy bonus needs the entropies"
            loss = loss - cfg.ent_coef * entropy
        return loss


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """1 - Var[returns - values] / Var[returns]: 1 is a perfect critic, <= 0 a useless one."""
    var = returns.var()
    return torch.where(var > 0, 1 - (returns - values).var() / var, torch.zeros_like(var))


def _is_tensor(obs: Any) -> bool:
    if isinstance(obs, dict):
        return any(isinstance(v, torch.Tensor) for v in obs.values())
    return isinstance(obs, torch.Tensor)


def _host(x: Any) -> np.ndarray:
    """A small per-env array (rewards, flags) on the host, for the episode bookkeeping."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
