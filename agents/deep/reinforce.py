"""REINFORCE with a learned value baseline (Williams, 1992; Sutton & Barto 2018, section 13.4).

The policy gradient of whole episodes: every step of a finished episode is weighted by its
Monte-Carlo return minus the critic's estimate of that return, so the policy needs no
bootstrapped targets. A time-limit (truncated) episode is the one exception: its unseen
tail is worth the critic's value of the final observation, because cutting it to zero would
teach the policy that the time limit is a cliff. A terminated episode's tail is worth 0.

The returns come from :func:`agents.common.rollout.compute_gae` with lambda = 1 and zero
values: GAE then sums discounted rewards up to each episode's end and adds the truncation
bootstrap, which is exactly the Monte-Carlo return; one function serves A2C, PPO and this.

Experience comes from a SAME_STEP-autoreset vector env (see :mod:`agents.common.vector`).
Each env contributes whole episodes; once ``episodes_per_update`` of them have finished,
one gradient step is taken on all their steps. With several envs, an episode still running
at an update keeps the steps it took under the previous policy and is learned from when it
ends: a lag of at most one update, which lets every env keep stepping instead of waiting
for the slowest episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import nn

from agents.base import Callback
from agents.common.gnn import GNNConfig
from agents.common.masking import mask_from
from agents.common.rollout import compute_gae
from agents.common.schedules import ConstantSchedule, LinearSchedule, Schedule
from agents.common.torch_utils import (
    adam,
    as_tensor,
    check_finite,
    check_parameters_finite,
    set_learning_rate,
    torch_threads,
)
from agents.common.vector import EpisodeTracker, as_vector_env
from agents.deep.base import TorchAgent
from agents.deep.on_policy import normalize, value_loss
from agents.deep.policies import ActorCritic, clip_actions


@dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE settings; the defaults solve CartPole-v1 (see ``tests/agents``)."""

    learning_rate: float = 1e-3
    """Adam step size at the start of training."""
    anneal_lr: bool = True
    """Decay the step size linearly to 0 over ``learn``'s ``total_steps``. Late updates then
    only polish the policy, so single noisy Monte-Carlo batches cannot knock a good greedy
    (evaluation) policy off; a resumed run continues the same line."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    episodes_per_update: int = 2
    """Finished episodes (over all envs) per gradient step: more average out the noise of
    single Monte-Carlo returns, fewer give more updates per env step. Measured (5 seeds):
    1 solves CartPole fastest but lost GridWorld in one seed of 3; 2 and 4 solved both
    every time, 2 in fewer steps (CartPole 10k-30k, GridWorld ``grid`` 10k-17k)."""
    n_envs: int = 1
    """Copies of the env stepped together when ``learn`` gets a single env (made from its
    spec); a vector env passed to ``learn`` keeps its own size."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and critic MLPs (flat observations; image and grid
    observations get a shared CNN encoder with linear heads)."""
    gnn_hidden: int = 64
    """Width of the graph encoder (graph observations such as GraphNav's only; see
    ``agents.common.gnn``)."""
    gnn_rounds: int = 3
    """Message-passing rounds of the graph encoder: how many edges away each node sees."""
    normalize_returns: bool = True
    """Learn values in units of a running standard deviation of the returns seen so far
    (as SB3's ``VecNormalize`` scales rewards), so the critic's targets stay near 1 whatever
    the reward scale; on CartPole (returns up to 100) it about halved the steps to solve."""
    normalize_advantages: bool = True
    """Standardise each update's advantages to mean 0 and std 1, so the policy's step size
    depends neither on the reward scale nor on how good the baseline is yet."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus; > 0 slows the collapse of exploration."""
    vf_coef: float = 0.5
    """Weight of the value loss (mean squared error, as in SB3) in the total loss."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global L2 norm to this (0 disables clipping)."""
    device: str = "auto"
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    torch_threads: int | None = 1
    """CPU threads torch may use while learning (restored afterwards); None leaves torch's
    setting. Acting on one observation at a time is dominated by per-call overhead, which
    extra threads only add to."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        threads_ok = self.torch_threads is None or self.torch_threads >= 1
        checks = [
            ("learning_rate", 0 < self.learning_rate < np.inf, "a finite number > 0"),
            ("gamma", 0.0 <= self.gamma <= 1.0, "in [0, 1]"),
            ("episodes_per_update", self.episodes_per_update >= 1, ">= 1"),
            ("n_envs", self.n_envs >= 1, ">= 1"),
            ("hidden", all(w >= 1 for w in self.hidden), "positive widths"),
            ("gnn_hidden", self.gnn_hidden >= 1, ">= 1"),
            ("gnn_rounds", self.gnn_rounds >= 1, ">= 1"),
            ("ent_coef", self.ent_coef >= 0, ">= 0"),
            ("vf_coef", self.vf_coef >= 0, ">= 0"),
            ("max_grad_norm", self.max_grad_norm >= 0, ">= 0 (0 disables clipping)"),
            ("torch_threads", threads_ok, ">= 1 or None"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

    def lr_schedule(self, total_steps: int) -> Schedule:
        """Step size by step count for a run that ends at ``total_steps``."""
        if self.anneal_lr:
            return LinearSchedule(self.learning_rate, 0.0, total_steps)
        return ConstantSchedule(self.learning_rate)


def policy_gradient_losses(
    log_probs: torch.Tensor,
    entropy: torch.Tensor,
    values: torch.Tensor,
    targets: torch.Tensor,
    normalize_advantages: bool,
) -> dict[str, torch.Tensor]:
    """Policy-gradient, value and entropy terms of one batch of steps.

    The advantage ``targets - values`` uses detached values: the baseline lowers the
    variance of the policy gradient without biasing it, and the critic learns only from its
    own squared error.
    """
    advantages = targets - values.detach()
    if normalize_advantages:
        advantages = normalize(advantages)
    return {
        "policy_loss": -(log_probs * advantages).mean(),
        "value_loss": value_loss(values, targets),
        "entropy": entropy.mean(),
    }


class RunningStd:
    """Standard deviation of every value seen so far (Chan et al.'s parallel update)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean

    def update(self, values: np.ndarray) -> None:
        n = int(values.size)
        if n == 0:
            return
        batch_mean = float(values.mean())
        batch_m2 = float(((values - batch_mean) ** 2).sum())
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta**2 * self.count * n / total
        self.count = total

    @property
    def std(self) -> float:
        """1 until there is a spread to measure, so the first values pass unchanged."""
        if self.count < 2 or self.m2 <= 0:
            return 1.0
        return max(float(np.sqrt(self.m2 / self.count)), 1e-8)

    def state(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state(self, state: dict[str, float]) -> None:
        self.count, self.mean, self.m2 = int(state["count"]), state["mean"], state["m2"]


@dataclass
class Episode:
    """Where one finished episode lies in an :class:`EpisodeBuffer`."""

    env: int
    start: int  # buffer row of the episode's first step
    end: int  # buffer row of its last step (inclusive)
    final_obs: Any  # the observation to bootstrap from when truncated; None when terminated

    def __len__(self) -> int:
        return self.end - self.start + 1


@dataclass
class EpisodeBuffer:
    """Vector-env steps, one row per step (time-major, as GAE runs), cut into episodes.

    Rows are kept from the start of the oldest episode still running, so an episode that
    spans an update is learned from whole when it ends.
    """

    n_envs: int
    obs: list[Any] = field(default_factory=list)  # per row: (n_envs, ...) tensors on device
    actions: list[torch.Tensor] = field(default_factory=list)
    masks: list[torch.Tensor | None] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)
    terminated: list[np.ndarray] = field(default_factory=list)
    truncated: list[np.ndarray] = field(default_factory=list)
    finished: list[Episode] = field(default_factory=list)
    starts: np.ndarray = field(init=False)  # row where each env's running episode began

    def __post_init__(self) -> None:
        self.starts = np.zeros(self.n_envs, dtype=np.int64)

    def add(
        self,
        obs: Any,
        actions: torch.Tensor,
        mask: torch.Tensor | None,
        step: tuple[Any, Any, Any, dict[str, Any]],
    ) -> None:
        """Append one vector step: what was seen and done, then ``(reward, terminated,
        truncated, info)`` as the env returned them; closes the episodes that ended."""
        reward, terminated, truncated, info = step
        terminated = np.array(terminated, dtype=bool)  # copies: vector envs may reuse arrays
        truncated = np.array(truncated, dtype=bool)
        self.obs.append(obs)
        self.actions.append(actions)
        self.masks.append(mask)
        self.rewards.append(np.array(reward, dtype=np.float32))
        self.terminated.append(terminated)
        self.truncated.append(truncated)
        row = len(self.obs) - 1
        for i in np.flatnonzero(terminated | truncated):
            final = None if terminated[i] else info["final_obs"][i]
            self.finished.append(Episode(int(i), int(self.starts[i]), row, final))
            self.starts[i] = row + 1

    def rows(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Rewards and episode-end flags of every row, ``(rows, n_envs)`` on ``device``."""
        return {
            name: torch.as_tensor(np.stack(getattr(self, name)), device=device)
            for name in ("rewards", "terminated", "truncated")
        }

    def finished_steps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(row, env) indices of every step of the finished episodes, episode by episode."""
        rows = np.concatenate([np.arange(e.start, e.end + 1) for e in self.finished])
        envs = np.concatenate([np.full(len(e), e.env) for e in self.finished])
        return torch.as_tensor(rows), torch.as_tensor(envs)

    def gather(self, rows: torch.Tensor, envs: torch.Tensor) -> tuple[Any, Any, Any]:
        """Observations, actions and masks (None without masks) at ``(rows, envs)``."""
        device = self.actions[0].device
        rows, envs = rows.to(device), envs.to(device)
        if isinstance(self.obs[0], dict):
            obs: Any = {k: torch.stack([o[k] for o in self.obs])[rows, envs] for k in self.obs[0]}
        else:
            obs = torch.stack(self.obs)[rows, envs]
        actions = torch.stack(self.actions)[rows, envs]
        masks = None if self.masks[0] is None else torch.stack(self.masks)[rows, envs]
        return obs, actions, masks

    def drop_finished(self) -> None:
        """Forget the finished episodes and every row no running episode needs."""
        keep = int(self.starts.min())
        for rows in (
            self.obs,
            self.actions,
            self.masks,
            self.rewards,
            self.terminated,
            self.truncated,
        ):
            del rows[:keep]
        self.starts -= keep
        self.finished = []


class Reinforce(TorchAgent):
    """Monte-Carlo policy gradient with a learned value baseline."""

    name = "reinforce"
    config_class = ReinforceConfig
    config: ReinforceConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: ReinforceConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(self.config, ReinforceConfig):
            raise TypeError(
                f"Reinforce expects a ReinforceConfig, got {type(self.config).__name__}"
            )
        # The network is drawn from the agent's seed without touching torch's global RNG.
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            gnn = GNNConfig(self.config.gnn_hidden, self.config.gnn_rounds)
            self.policy = ActorCritic(observation_space, action_space, self.config.hidden, gnn=gnn)
        self.policy.to(self.device)
        self.optimizer = adam(self.policy.parameters(), lr=self.config.learning_rate, eps=1e-5)
        self.generator = torch.Generator(device=self.device)
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()
        self.return_scale = RunningStd()
        self.num_updates = 0

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"policy": self.policy, "optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "return_scale": self.return_scale.state(),
            "num_updates": self.num_updates,
        }

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        self.generator.set_state(extra["generator"])
        self.return_scale.load_state(extra["return_scale"])
        self.num_updates = int(extra["num_updates"])

    def policy_action(
        self, obs: Any, mask: torch.Tensor | None, deterministic: bool
    ) -> torch.Tensor:
        """Actions as sampled or chosen greedily (Box actions unclipped: they are what the
        log-probabilities are of; :func:`clip_actions` clips what goes to the env)."""
        out = self.policy.actor_output(obs)
        actions, _ = self.policy.sample(out, mask, deterministic, self.generator)
        return actions

    def act(self, obs: Any, deterministic: bool = True, action_mask: Any = None) -> Any:
        return clip_actions(super().act(obs, deterministic, action_mask), self.action_space)

    # ------------------------------------------------------------------ learning
    def learn(
        self, env: gym.Env | VectorEnv, total_steps: int, callback: Callback | None = None
    ) -> None:
        """Train until ``num_steps`` (all envs together) reaches ``total_steps``.

        A single env becomes a vector of ``config.n_envs`` copies (closed afterwards; the
        env passed in is the first of them). Every call starts new episodes; the env is
        seeded with the agent's seed only on the first call of a fresh agent, so a resumed
        run does not replay its first episodes. A callback returning False stops at once.
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
            if venv is not env:
                venv.close()

    def _learn(self, venv: VectorEnv, total_steps: int, callback: Callback) -> None:
        lr_at = self.config.lr_schedule(total_steps)
        buffer = EpisodeBuffer(venv.num_envs)
        tracker = EpisodeTracker(venv.num_envs)
        obs, info = venv.reset(seed=self.seed if self.num_steps == 0 else None)
        while self.num_steps < total_steps:
            obs_t = _owned(as_tensor(obs, self.device))
            mask = mask_from(obs, info)
            mask_t = None if mask is None else as_tensor(mask, self.device, torch.bool)
            with torch.inference_mode():
                actions = self.policy_action(obs_t, mask_t, deterministic=False)
            obs, reward, terminated, truncated, info = venv.step(
                clip_actions(actions.cpu().numpy(), self.action_space)
            )
            self.num_steps += venv.num_envs
            buffer.add(obs_t, actions, mask_t, (reward, terminated, truncated, info))
            done = np.asarray(terminated) | np.asarray(truncated)
            tracker.step(np.asarray(reward), done, info, self.num_steps, self, callback)
            if len(buffer.finished) >= self.config.episodes_per_update:
                set_learning_rate(self.optimizer, lr_at(self.num_steps))
                callback.on_update(self, self.update(buffer))
            if not callback.on_step(self, self.num_steps):
                return

    def monte_carlo_returns(self, buffer: EpisodeBuffer) -> torch.Tensor:
        """Discounted return of every buffered step, ``(rows, n_envs)``; exact for the steps
        of finished episodes (later rows of running episodes are cut off, so not theirs).

        GAE with lambda = 1 over zero values is the Monte-Carlo return; the truncated
        episodes' tails are worth the learned value of their final observations.
        """
        rows = buffer.rows(self.device)
        final_values = torch.zeros_like(rows["rewards"])
        truncated = [e for e in buffer.finished if e.final_obs is not None]
        if truncated:
            finals = [as_tensor(e.final_obs, self.device) for e in truncated]
            batch = (
                {k: torch.stack([f[k] for f in finals]) for k in finals[0]}
                if isinstance(finals[0], dict)
                else torch.stack(finals)
            )
            with torch.no_grad():
                values = self.policy.value(batch) * self.return_scale.std
            ends = torch.as_tensor([e.end for e in truncated], device=self.device)
            envs = torch.as_tensor([e.env for e in truncated], device=self.device)
            final_values[ends, envs] = values
        zeros = torch.zeros_like(rows["rewards"])
        _, returns = compute_gae(
            rows["rewards"],
            zeros,
            rows["terminated"],
            rows["truncated"],
            final_values,
            zeros[0],
            self.config.gamma,
            1.0,
        )
        return returns

    def update(self, buffer: EpisodeBuffer) -> dict[str, float]:
        """One gradient step on the finished episodes in ``buffer``; returns diagnostics.

        NonFiniteError (naming this step and the quantity) when a return, loss, gradient
        or parameter is NaN or inf.
        """
        cfg, step = self.config, self.num_steps
        rows, envs = buffer.finished_steps()
        returns = self.monte_carlo_returns(buffer)[rows.to(self.device), envs.to(self.device)]
        check_finite(step, returns=returns)
        obs, actions, masks = buffer.gather(rows, envs)
        n_episodes = len(buffer.finished)
        buffer.drop_finished()

        if cfg.normalize_returns:
            self.return_scale.update(returns.double().cpu().numpy())
        targets = returns / self.return_scale.std
        values, log_probs, entropy = self.policy.evaluate_actions(obs, actions, masks)
        losses = policy_gradient_losses(
            log_probs, entropy, values, targets, cfg.normalize_advantages
        )
        loss = losses["policy_loss"] + cfg.vf_coef * losses["value_loss"]
        if cfg.ent_coef:
            loss = loss - cfg.ent_coef * losses["entropy"]
        check_finite(step, **losses, loss=loss)

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")
        grad_norm = nn.utils.clip_grad_norm_(self.policy.parameters(), max_norm, foreach=True)
        check_finite(step, gradient_norm=grad_norm)
        self.optimizer.step()
        check_parameters_finite(step, self.policy)
        self.num_updates += 1

        scalars = {**losses, "loss": loss, "grad_norm": grad_norm}
        numbers = torch.stack([v.detach() for v in scalars.values()]).tolist()  # one sync
        metrics = dict(zip(scalars, numbers, strict=True))
        metrics.update(
            learning_rate=float(self.optimizer.param_groups[0]["lr"]),
            episodes=float(n_episodes),
            batch_steps=float(len(returns)),
            return_scale=self.return_scale.std,
        )
        return metrics


def _owned(obs: Any) -> Any:
    """Observations the buffer can keep: ``torch.as_tensor`` shares numpy memory on the CPU,
    and a vector env may write its next observations into the same arrays."""
    if isinstance(obs, dict):
        return {k: _owned(v) for k, v in obs.items()}
    return obs.clone() if obs.device.type == "cpu" else obs
