"""Deep Q-Network (Mnih et al., 2015) with the usual refinements.

Double DQN (van Hasselt et al., 2016), an optional dueling head (Wang et al., 2016), n-step
returns, hard or Polyak target updates, Huber loss, gradient-norm clipping and a linear
epsilon schedule. Hyperparameters mean what they mean in Stable-Baselines3: ``train_freq``
counts vector steps, ``target_update_interval`` counts environment transitions, and the
defaults are RL Baselines3 Zoo's tuned CartPole-v1 values, so an SB3 user's intuition and
configs carry over.

The hot loop is shaped by where time goes on a CPU. The arithmetic of a small network
on batches of 64 takes tens of microseconds per call, so torch's per-call overhead is a
large share of it, and the loop makes as few calls as it can:

- an update samples all its batches with one index array and one copy per field, and
  runs the target network once over all of them (the target network cannot change inside
  an update: it is refreshed between environment steps, as in SB3);
- acting skips the network when every env explores, and runs under ``inference_mode``;
- the NaN/inf guard and the logged metrics read back one tensor per update, not one
  value per gradient step;
- Adam uses the fused kernel, and the update runs with ``torch_threads`` intra-op threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import nn
from torch.nn import functional as F

from agents.base import Callback
from agents.common.gnn import GNNConfig
from agents.common.masking import MASK_KEY, apply_mask, final_masks, mask_from
from agents.common.networks import layer_init, make_encoder, mlp
from agents.common.replay import ReplayBatch, ReplayBuffer
from agents.common.schedules import LinearSchedule
from agents.common.torch_utils import (
    adam,
    as_tensor,
    check_finite,
    check_parameters_finite,
    clip_grad_norm,
    torch_threads,
)
from agents.common.vector import EpisodeTracker, as_vector_env, final_observations
from agents.deep.base import TorchAgent

# One sample copies at most this much; larger updates (pixels) are sampled in pieces.
SAMPLE_BYTES = 32 * 2**20


@dataclass(frozen=True)
class DQNConfig:
    """DQN settings. Defaults: RL Baselines3 Zoo's CartPole-v1 DQN, plus Double DQN and
    3-step returns (see ``n_step``). ``ENV_PRESETS`` holds the settings ``palaestra train``
    starts from instead for a family of envs (values in the run's config still win)."""

    ENV_PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # RL Baselines3 Zoo's Atari DQN (the Nature paper's schedule at 1/10 of its replay):
        # 100k transitions (about 5.6 GB of 4x84x84 frames, observation and next
        # observation), 100k random steps first, one gradient step of 32 every 4 steps,
        # the target copied every 1000 steps, epsilon to 0.01 over the first 10%.
        "atari": {
            "learning_rate": 1e-4,
            "buffer_size": 100_000,
            "learning_starts": 100_000,
            "batch_size": 32,
            "train_freq": 4,
            "gradient_steps": 1,
            "target_update_interval": 1000,
            "exploration_fraction": 0.1,
            "exploration_final_eps": 0.01,
            "n_step": 1,
            "net_arch": (),
            "torch_threads": None,
        },
    }

    learning_rate: float = 2.3e-3
    """Adam step size."""
    buffer_size: int = 100_000
    """Replay capacity in transitions (all envs together); the oldest are overwritten."""
    learning_starts: int = 1_000
    """Environment steps of uniformly random actions before the first update, so the first
    batches are not drawn from a handful of near-identical transitions."""
    batch_size: int = 64
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    train_freq: int = 256
    """Vector steps between updates (SB3's ``train_freq``)."""
    gradient_steps: int = 128
    """Gradient steps per update. Together with ``train_freq`` it sets the replay ratio."""
    target_update_interval: int = 10
    """Environment transitions between target-network updates, counted over all envs as
    SB3 does (with ``n_envs`` envs: every ``max(interval // n_envs, 1)`` vector steps)."""
    tau: float = 1.0
    """Target update rate: 1 copies the online network (hard update); below 1, Polyak
    averaging ``target <- tau * online + (1 - tau) * target``."""
    double_q: bool = True
    """Double DQN: the online network picks the next action, the target network values it,
    which removes most of the max operator's overestimation."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A), learning a state value shared by all actions."""
    n_step: int = 3
    """Rewards summed per transition before bootstrapping (never across an episode end).
    3, not SB3's 1: on CartPole-v1 it halves the median steps to solve (measured over 5
    seeds: 15k against 30k-45k with 1-step returns), at no cost per gradient step."""
    exploration_fraction: float = 0.16
    """Fraction of ``total_steps`` (as passed to ``learn``) over which epsilon decays."""
    exploration_initial_eps: float = 1.0
    """Epsilon at step 0."""
    exploration_final_eps: float = 0.04
    """Epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Gradients are rescaled so their global L2 norm is at most this."""
    net_arch: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the MLP head (ReLU), after the observation encoder."""
    gnn_hidden: int = 64
    """Width of the graph encoder (graph observations such as GraphNav's only; see
    ``agents.common.gnn``)."""
    gnn_rounds: int = 3
    """Message-passing rounds of the graph encoder: how many edges away each node sees."""
    n_envs: int = 1
    """Environments stepped together; a single env is copied from its spec."""
    torch_threads: int | None = 1
    """Intra-op CPU threads while learning (None: torch's default). One thread is fastest
    for networks this size (measured: see benchmarks/RESULTS.md); the previous setting is
    restored when ``learn`` returns."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "net_arch", tuple(self.net_arch))  # lists from YAML/JSON
        for name in (
            "buffer_size",
            "batch_size",
            "train_freq",
            "gradient_steps",
            "target_update_interval",
            "n_step",
            "n_envs",
            "gnn_hidden",
            "gnn_rounds",
        ):
            value = getattr(self, name)
            _require(name, value, isinstance(value, int) and value >= 1, "an int >= 1")
        _require("learning_starts", self.learning_starts, self.learning_starts >= 0, ">= 0")
        _require("learning_rate", self.learning_rate, self.learning_rate > 0, "> 0")
        _require("gamma", self.gamma, 0.0 <= self.gamma <= 1.0, "in [0, 1]")
        _require("tau", self.tau, 0.0 < self.tau <= 1.0, "in (0, 1]")
        _require("max_grad_norm", self.max_grad_norm, self.max_grad_norm > 0, "> 0")
        for name in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
            value = getattr(self, name)
            _require(name, value, 0.0 <= value <= 1.0, "in [0, 1]")
        _require("net_arch", self.net_arch, all(w >= 1 for w in self.net_arch), "widths >= 1")
        if self.torch_threads is not None:
            _require("torch_threads", self.torch_threads, self.torch_threads >= 1, ">= 1")

    def epsilon_schedule(self, total_steps: int) -> LinearSchedule:
        """Epsilon by environment step for a run that ends at ``total_steps``."""
        return LinearSchedule.over_fraction(
            self.exploration_initial_eps,
            self.exploration_final_eps,
            self.exploration_fraction,
            total_steps,
        )


def _require(name: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


class QNetwork(nn.Module):
    """Observation encoder, ReLU MLP, and a linear or dueling head giving one Q per action.

    An encoder that embeds each action (``scores_actions``, the graph encoder) gets the MLP
    and a one-unit advantage head applied to every action's vector with the same weights,
    so Q(s, k) is the same function of neighbour k whichever k the env lists it under; the
    dueling value then reads the encoder's state vector through an MLP of its own, and the
    mean advantage it subtracts is taken over the allowed actions only (the observation's
    ``action_mask``), so vectors of absent neighbours never move the allowed Q-values.
    ``gnn`` sizes that graph encoder (other spaces ignore it).
    """

    def __init__(
        self,
        observation_space: gym.Space,
        n_actions: int,
        hidden: Sequence[int],
        dueling: bool = False,
        gnn: GNNConfig | None = None,
    ) -> None:
        super().__init__()
        self.encoder = make_encoder(observation_space, gnn)
        self.scores_actions = self.encoder.scores_actions
        if self.scores_actions:
            if n_actions != self.encoder.n_actions:
                raise ValueError(
                    f"{type(self.encoder).__name__} embeds {self.encoder.n_actions} actions, "
                    f"the action space has {n_actions}"
                )
            self.trunk = mlp(self.encoder.action_dim, hidden, None, nn.ReLU)
            width = hidden[-1] if hidden else self.encoder.action_dim
            self.advantage = layer_init(nn.Linear(width, 1), gain=1.0)
            self.value = mlp(self.encoder.out_dim, hidden, 1, nn.ReLU) if dueling else None
            return
        self.trunk = mlp(self.encoder.out_dim, hidden, None, nn.ReLU)
        width = hidden[-1] if hidden else self.encoder.out_dim
        self.advantage = layer_init(nn.Linear(width, n_actions), gain=1.0)
        self.value = layer_init(nn.Linear(width, 1), gain=1.0) if dueling else None

    def forward(self, obs: Any) -> torch.Tensor:
        if self.scores_actions:
            return self._per_action_q(obs)
        features = self.trunk(self.encoder(obs))
        q = self.advantage(features)
        if self.value is None:
            return q
        # Subtracting the mean advantage makes V and A identifiable (Wang et al., eq. 9).
        return self.value(features) + q - q.mean(dim=-1, keepdim=True)

    def _per_action_q(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        state, per_action = self.encoder.encode_actions(obs)
        q = self.advantage(self.trunk(per_action)).squeeze(-1)
        if self.value is None:
            return q
        allowed = obs[MASK_KEY].to(q.dtype)
        mean = (q * allowed).sum(-1, keepdim=True) / allowed.sum(-1, keepdim=True).clamp(min=1.0)
        return self.value(state) + q - mean


def td_targets(
    rewards: torch.Tensor,
    bootstrap: torch.Tensor,
    next_q_target: torch.Tensor,
    next_q_online: torch.Tensor | None,
) -> torch.Tensor:
    """``r + bootstrap * Q_target(s', a')`` with the next action a' chosen by DQN or Double DQN.

    ``bootstrap`` is ``discount * (1 - terminated)``. Plain DQN takes
    ``a' = argmax Q_target(s')``; Double DQN (``next_q_online`` given) takes
    ``a' = argmax Q_online(s')``. Both Q tables must already be action-masked.
    """
    if next_q_online is None:
        next_values = next_q_target.max(dim=1).values
    else:
        next_actions = next_q_online.argmax(dim=1, keepdim=True)
        next_values = next_q_target.gather(1, next_actions).squeeze(1)
    return rewards + bootstrap * next_values


class DQN(TorchAgent):
    """Deep Q-learning for Discrete action spaces; any observation ``make_encoder`` accepts.

    Action masks (an ``action_mask`` in the observation dict or in ``info``) restrict the
    greedy action, the random exploration and the target's max/argmax to allowed actions.
    """

    name = "dqn"
    config_class = DQNConfig
    config: DQNConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DQNConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"DQN needs a Discrete action space, got {action_space}")
        self.n_actions = int(action_space.n)
        self.action_start = int(action_space.start)
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            if seed is not None:  # a seeded agent's weights do not depend on global state
                torch.manual_seed(seed)
            gnn = GNNConfig(cfg.gnn_hidden, cfg.gnn_rounds)
            self.q_net = QNetwork(observation_space, self.n_actions, cfg.net_arch, cfg.dueling, gnn)
            self.target_net = QNetwork(
                observation_space, self.n_actions, cfg.net_arch, cfg.dueling, gnn
            )
        self.q_net.to(self.device)
        self.target_net.to(self.device).requires_grad_(False)
        self.target_net.load_state_dict(self.q_net.state_dict())
        self._params = list(self.q_net.parameters())  # walking the module tree costs per step
        self.optimizer = adam(self._params, cfg.learning_rate)
        self.exploration_rate = cfg.exploration_initial_eps
        self.vector_steps = 0  # env.step calls so far: the clock of train_freq
        self.buffer: ReplayBuffer | None = None  # made by learn(), sized for its env
        self._target_stale = False  # online network changed since the last hard update

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"q_net": self.q_net, "target_net": self.target_net, "optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        return {"vector_steps": self.vector_steps, "exploration_rate": self.exploration_rate}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        self.vector_steps = int(extra["vector_steps"])
        self.exploration_rate = float(extra["exploration_rate"])

    def policy_action(
        self, obs: Any, mask: torch.Tensor | None, deterministic: bool
    ) -> torch.Tensor:
        """Greedy actions; with ``deterministic=False`` epsilon-greedy at the current rate."""
        if deterministic:
            return self._greedy(obs, mask) + self.action_start
        masks = None if mask is None else mask.bool().cpu().numpy()
        actions = self._explore(obs, masks, self.exploration_rate)
        return torch.as_tensor(actions + self.action_start, device=self.device)

    # ------------------------------------------------------------------ acting
    def _greedy(self, obs: Any, mask: torch.Tensor | None) -> torch.Tensor:
        """Action indices of the largest allowed Q-values."""
        return apply_mask(self.q_net(obs), mask).argmax(dim=-1)

    def _random_actions(self, n: int, masks: np.ndarray | None) -> np.ndarray:
        """Uniform random actions, among the allowed ones where masks are given."""
        if masks is None:
            return self.rng.integers(0, self.n_actions, size=n)
        # The argmax of uniform noise over the allowed entries is uniform over them.
        return np.where(masks, self.rng.random((n, self.n_actions)), -1.0).argmax(axis=1)

    def _explore(self, obs: Any, masks: np.ndarray | None, epsilon: float) -> np.ndarray:
        """Epsilon-greedy action indices, one per env (each env draws its own coin)."""
        n = len(masks) if masks is not None else _batch_size(obs)
        explore = self.rng.random(n) < epsilon
        if explore.all():  # no need to run the network at all
            return self._random_actions(n, masks)
        with torch.inference_mode():
            mask = None if masks is None else torch.from_numpy(masks).to(self.device)
            actions = self._greedy(as_tensor(obs, self.device), mask).cpu().numpy()
        if explore.any():
            actions = np.where(explore, self._random_actions(n, masks), actions)
        return actions

    # ------------------------------------------------------------------ learning
    def learn(
        self,
        env: gym.Env | VectorEnv,
        total_steps: int,
        callback: Callback | None = None,
    ) -> None:
        """Collect with epsilon-greedy actions and update from replay until ``total_steps``.

        ``env`` is a Gymnasium env (copied to ``n_envs`` envs) or a SAME_STEP vector env.
        Every call resets the envs (seeded with ``self.seed`` only on a fresh agent); the
        replay buffer lives as long as the agent object and is not saved in checkpoints.
        ``on_update`` reports once per update: loss (mean over its gradient steps), q_mean
        (mean Q(s, a) of its last batch) and epsilon.
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
            if venv is not env:  # copies made here are closed here
                venv.close()

    def _learn(self, venv: VectorEnv, total_steps: int, callback: Callback) -> None:
        cfg = self.config
        n_envs = venv.num_envs
        epsilon_at = cfg.epsilon_schedule(total_steps)
        target_every = max(cfg.target_update_interval // n_envs, 1)
        tracker = EpisodeTracker(n_envs)
        obs, info = venv.reset(seed=self.seed if self.num_steps == 0 else None)
        masks = _current_masks(mask_from(obs, info))
        buffer = self._buffer_for(venv, masked=masks is not None)
        while self.num_steps < total_steps:
            self.exploration_rate = epsilon_at(self.num_steps)
            if self.num_steps < cfg.learning_starts:
                actions = self._random_actions(n_envs, masks)
            else:
                actions = self._explore(obs, masks, self.exploration_rate)
            next_obs, rewards, terminated, truncated, info = venv.step(actions + self.action_start)
            done = terminated | truncated
            final_obs = final_observations(next_obs, info, done)
            next_masks = _next_masks(final_masks(final_obs, info, done))
            buffer.add(obs, actions, rewards, final_obs, terminated, truncated, next_masks)
            self.num_steps += n_envs
            self.vector_steps += 1
            self.after_env_step(obs, actions, rewards, final_obs, terminated, callback)
            tracker.step(rewards, done, info, self.num_steps, self, callback)
            if self.vector_steps % target_every == 0:
                self._update_target()
            if (
                self.vector_steps % cfg.train_freq == 0
                and self.num_steps > cfg.learning_starts
                and len(buffer) >= cfg.batch_size
            ):
                callback.on_update(self, self._update(buffer))
            obs = next_obs
            masks = _current_masks(mask_from(obs, info))
            if not callback.on_step(self, self.num_steps):
                break

    def after_env_step(
        self,
        obs: Any,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: Any,
        terminated: np.ndarray,
        callback: Callback,
    ) -> None:
        """Called after every vector step has entered the replay and been counted, before
        any update: the step's action indices (``action_start`` subtracted) and its
        ``next_obs`` with final observations where episodes ended. A hook for learners
        built on DQN (:class:`~agents.models.dyna_dqn.DynaDQN` learns its model here);
        DQN itself does nothing."""

    def sample_replay(self, buffer: ReplayBuffer, n: int) -> ReplayBatch:
        """``n`` transitions for an update (``n`` is a multiple of ``batch_size``; the
        update cuts them into consecutive batches): uniform from ``buffer``. Learners built
        on DQN mix in other data here."""
        return buffer.sample(n, self.rng, self.device)

    def _buffer_for(self, venv: VectorEnv, masked: bool) -> ReplayBuffer:
        """The agent's buffer, made on first use (or when the number of envs changed)."""
        cfg = self.config
        if self.buffer is None or self.buffer.n_envs != venv.num_envs:
            self.buffer = ReplayBuffer(
                cfg.buffer_size,
                venv.single_observation_space,
                n_envs=venv.num_envs,
                n_step=cfg.n_step,
                gamma=cfg.gamma,
                n_actions=self.n_actions if masked else None,
            )
        else:  # the envs restart: windows of the cut-off episodes can never complete
            self.buffer.discard_pending()
        return self.buffer

    def _update_target(self) -> None:
        """Hard copy (``tau = 1``, skipped while the online network is unchanged) or Polyak."""
        tau = self.config.tau
        if tau >= 1.0:
            if self._target_stale:
                self.target_net.load_state_dict(self.q_net.state_dict())
                self._target_stale = False
            return
        with torch.no_grad():
            for target, online in zip(
                self.target_net.parameters(), self.q_net.parameters(), strict=True
            ):
                target.lerp_(online, tau)

    def _update(self, buffer: ReplayBuffer) -> dict[str, float]:
        """``gradient_steps`` Huber-loss steps on replayed batches; returns the metrics."""
        cfg = self.config
        per_sample = max(1, SAMPLE_BYTES // (cfg.batch_size * buffer.bytes_per_transition))
        losses: list[torch.Tensor] = []
        q_taken = torch.zeros(())
        remaining = cfg.gradient_steps
        while remaining > 0:
            steps = min(per_sample, remaining)
            remaining -= steps
            data = self.sample_replay(buffer, steps * cfg.batch_size)
            for batch, target in self.batches_with_targets(data):
                loss, q_taken = self.td_loss(batch, target())
                for p in self._params:  # zero_grad(set_to_none=True) without its overhead
                    p.grad = None
                loss.backward()
                clip_grad_norm(self._params, cfg.max_grad_norm)
                self.optimizer.step()
                losses.append(loss.detach())
        self._target_stale = True
        loss_per_step = torch.stack(losses)
        self._check_finite(loss_per_step)
        return {
            "loss": float(loss_per_step.mean()),
            "q_mean": float(q_taken.detach().mean()),
            "epsilon": self.exploration_rate,
        }

    def td_loss(
        self, batch: ReplayBatch, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Huber loss between Q(s, a) and ``targets``, and Q(s, a) itself.

        Huber (smooth L1 with threshold 1, as in SB3 and the Nature DQN's error clipping)
        keeps the gradient of a large TD error at norm 1 instead of growing with it.
        """
        q_taken = self.q_net(batch.obs).gather(1, batch.actions).squeeze(1)
        return F.smooth_l1_loss(q_taken, targets), q_taken

    def batches_with_targets(
        self, data: ReplayBatch
    ) -> list[tuple[ReplayBatch, Callable[[], torch.Tensor]]]:
        """``data`` cut into batches, each with a function giving its TD targets.

        The target network is fixed during an update, so it runs once over all batches,
        and plain DQN's targets are computed here in one go. Double DQN's also need the
        online network as it is at each gradient step, so theirs are computed on call.
        """
        size = self.config.batch_size
        with torch.no_grad():
            next_q_target = apply_mask(self.target_net(data.next_obs), data.next_masks)
            bootstrap = data.discounts * (1.0 - data.terminated)
            if not self.config.double_q:
                targets = td_targets(data.rewards, bootstrap, next_q_target, None).split(size)
                return [
                    (batch, lambda t=t: t)
                    for batch, t in zip(data.split(size), targets, strict=True)
                ]

        def double_target(batch: ReplayBatch, boot: torch.Tensor, q_target: torch.Tensor):
            with torch.no_grad():
                q_online = apply_mask(self.q_net(batch.next_obs), batch.next_masks)
                return td_targets(batch.rewards, boot, q_target, q_online)

        return [
            (batch, lambda b=batch, boot=boot, q=q: double_target(b, boot, q))
            for batch, boot, q in zip(
                data.split(size), bootstrap.split(size), next_q_target.split(size), strict=True
            )
        ]

    def _check_finite(self, loss_per_step: torch.Tensor) -> None:
        """NonFiniteError naming the step, the gradient step and the quantity that broke."""
        finite = torch.isfinite(loss_per_step)
        if not bool(finite.all()):
            first = int((~finite).nonzero()[0, 0])
            what = f"loss (gradient step {first + 1} of {len(loss_per_step)} in this update)"
            check_finite(self.num_steps, **{what: loss_per_step[first]})
        check_parameters_finite(self.num_steps, self.q_net, "Q-network parameter")


def _batch_size(obs: Any) -> int:
    if isinstance(obs, dict):
        return len(next(iter(obs.values())))
    return len(obs)


def _current_masks(masks: Any) -> np.ndarray | None:
    """The envs' current action masks as a bool array; every env must allow some action."""
    if masks is None:
        return None
    masks = np.asarray(masks, dtype=bool)
    if not masks.any(axis=1).all():
        raise ValueError("action_mask allows no action in some state; at least one must be True")
    return masks


def _next_masks(masks: np.ndarray | None) -> np.ndarray | None:
    """Next-state masks for the target, where a state allowing nothing allows everything.

    Such states are terminal in practice (a game over), so their bootstrap term is zero
    and any value will do; the masked max of a row with no allowed action would be the
    lowest float instead, an overflow waiting to happen.
    """
    if masks is None or masks.any(axis=1).all():
        return masks
    masks = masks.copy()
    masks[~masks.any(axis=1)] = True
    return masks
