"""On-policy rollout storage and generalised advantage estimation, written once for A2C and PPO.

A :class:`RolloutBuffer` holds ``n_steps`` vector-env steps as tensors preallocated on the
agent's device, so collection writes in place and the update reads without copies. The
layout is time-major, ``(n_steps, n_envs, ...)``, the order GAE runs in.

Episode ends follow palaestra's SAME_STEP autoreset convention (see
:mod:`agents.common.vector`): the observation after a finished step already belongs to the
next episode, so every episode end cuts the recursion, and a *truncated* step recovers the
bootstrap it lost by adding ``gamma * V(final_obs)`` to its reward. A *terminated* step
gets no bootstrap: nothing follows a terminal state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.masking import MASK_KEY


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    final_values: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) by GAE(gamma, lambda) over a ``(T, N)`` rollout.

    - ``rewards``, ``values``: per step; ``values[t] = V(obs[t])``.
    - ``terminated``, ``truncated``: bool, how the step ended its episode (both False when it
      did not). A step that is both counts as terminated.
    - ``final_values``: ``V(final_obs)`` of truncated steps; read only where truncated.
    - ``last_values``: ``(N,)`` values of the observations after the last step.

    Returns are ``advantages + values``, the value-function targets (SB3's convention).
    """
    continues = (~(terminated | truncated)).to(values.dtype)
    bootstrap = truncated & ~terminated
    rewards = rewards + gamma * torch.where(bootstrap, final_values, 0.0)
    next_values = torch.cat([values[1:], last_values.unsqueeze(0)])
    deltas = rewards + gamma * next_values * continues - values
    decay = (gamma * lam) * continues
    # A Python loop over T, vectorised over envs: the recursion is sequential in time. One
    # fused op per step (A_t = delta_t + decay_t * A_{t+1}) on views unbound once, then one
    # stack: indexing and writing rows one by one would cost four times as many torch calls.
    running = torch.zeros_like(last_values)
    out = []
    for delta, keep in zip(reversed(deltas.unbind(0)), reversed(decay.unbind(0)), strict=True):
        running = torch.addcmul(delta, keep, running)
        out.append(running)
    advantages = torch.stack(out[::-1])
    return advantages, advantages + values


def torch_dtype(dtype: np.dtype) -> torch.dtype:
    """The dtype a rollout stores an observation in: float64 shrinks to float32 (networks
    run in float32), uint8 images stay uint8 (4x less memory; encoders scale them)."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating):
        return torch.float32
    if dtype == np.bool_:
        return torch.bool
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def obs_shape_dtype(space: gym.Space) -> tuple[tuple[int, ...], torch.dtype]:
    """Per-env shape and storage dtype of one (non-Dict) observation space."""
    if isinstance(space, gym.spaces.Discrete):
        return (), torch.int64
    if isinstance(space, (gym.spaces.Box, gym.spaces.MultiBinary, gym.spaces.MultiDiscrete)):
        return tuple(space.shape), torch_dtype(space.dtype)
    raise ValueError(f"cannot store observations of space {space}")


def action_shape_dtype(space: gym.Space) -> tuple[tuple[int, ...], torch.dtype]:
    """Per-env shape and dtype of one stored action (indices for Discrete, floats for Box)."""
    if isinstance(space, gym.spaces.Discrete):
        return (), torch.int64
    if isinstance(space, gym.spaces.Box):
        return tuple(space.shape), torch.float32
    raise ValueError(f"cannot store actions of space {space}")


@dataclass
class Batch:
    """A minibatch (or the whole rollout) flattened to ``(B, ...)`` for the update."""

    obs: Any  # tensor, or dict of tensors for Dict observations
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    masks: torch.Tensor | None

    def __len__(self) -> int:
        return self.actions.shape[0]

    def minibatches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """One epoch of shuffled minibatches of ``batch_size`` rows (the last may be smaller).

        When one minibatch covers everything the shuffle is skipped: the gradient of a full
        batch does not depend on its order, and the gather would be pure overhead.
        """
        n = len(self)
        if batch_size >= n:
            yield self
            return
        perm = torch.randperm(n, generator=generator, device=self.actions.device)
        for start in range(0, n, batch_size):
            yield self.index(perm[start : start + batch_size])

    def index(self, idx: torch.Tensor) -> Batch:
        """The rows ``idx`` of every field."""
        obs = (
            {k: v[idx] for k, v in self.obs.items()}
            if isinstance(self.obs, dict)
            else self.obs[idx]
        )
        return Batch(
            obs,
            self.actions[idx],
            self.log_probs[idx],
            self.values[idx],
            self.advantages[idx],
            self.returns[idx],
            None if self.masks is None else self.masks[idx],
        )


class RolloutBuffer:
    """``n_steps`` x ``n_envs`` transitions on ``device``, plus their advantages and returns.

    Dict observations are stored per key; the ``action_mask`` key is kept apart as
    :attr:`masks` (when ``n_actions`` is given), since masks constrain actions and are not
    network inputs.

    With ``track_live``, :attr:`live` marks the rows that hold a real transition, and
    :meth:`flat` keeps only those: a multi-agent rollout has a row per agent, and an agent
    that finished before its team has nothing to learn from until the episode restarts.
    Its rows cannot corrupt GAE: its last real step ended an episode, which cuts the
    recursion there.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        n_steps: int,
        n_envs: int,
        device: torch.device,
        n_actions: int | None = None,
        track_live: bool = False,
    ) -> None:
        self.n_steps, self.n_envs, self.device = n_steps, n_envs, device
        lead = (n_steps, n_envs)

        def zeros(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
            return torch.zeros(lead + shape, dtype=dtype, device=device)

        if isinstance(observation_space, gym.spaces.Dict):
            self.obs: Any = {
                key: zeros(*obs_shape_dtype(space))
                for key, space in observation_space.spaces.items()
                if key != MASK_KEY
            }
        else:
            self.obs = zeros(*obs_shape_dtype(observation_space))
        self.actions = zeros(*action_shape_dtype(action_space))
        self.log_probs = zeros((), torch.float32)
        self.values = zeros((), torch.float32)
        self.rewards = zeros((), torch.float32)
        self.terminated = zeros((), torch.bool)
        self.truncated = zeros((), torch.bool)
        self.final_values = zeros((), torch.float32)  # V(final_obs) where truncated
        self.masks = None if n_actions is None else zeros((n_actions,), torch.bool)
        self.live = zeros((), torch.bool) if track_live else None  # rows with a transition
        self.advantages = zeros((), torch.float32)
        self.returns = zeros((), torch.float32)
        # Writers for the per-step fields, made once: they hold each field's rows as views
        # (indexing a tensor is a torch call) and, on the CPU, write numpy arrays through
        # numpy (a tenth of the cost of from_numpy + copy_). A vector step stores 8 arrays.
        obs_writers = (
            {key: _RowWriter(row) for key, row in self.obs.items()}
            if isinstance(self.obs, dict)
            else _RowWriter(self.obs)
        )
        self._obs_writers: Any = obs_writers
        self._action_writers = tuple(
            _RowWriter(x) for x in (self.actions, self.log_probs, self.values)
        )
        self._outcome_writers = tuple(
            _RowWriter(x) for x in (self.rewards, self.terminated, self.truncated)
        )
        self._live_writer = None if self.live is None else _RowWriter(self.live)

    def store_obs(self, t: int, obs: Any) -> Any:
        """Copy one vector step's observations into row ``t``; returns that row (on device).

        Numpy arrays are written in place (through numpy on the CPU, ``torch.from_numpy``
        otherwise); tensors already on the device are copied device to device, never
        through the host.
        """
        if isinstance(self._obs_writers, dict):
            return {key: write(t, obs[key]) for key, write in self._obs_writers.items()}
        return self._obs_writers(t, obs)

    def store_action(
        self, t: int, actions: torch.Tensor, log_probs: torch.Tensor, values: torch.Tensor
    ) -> None:
        """Row ``t``'s actions, their log-probabilities and the values of its observations."""
        write_actions, write_log_probs, write_values = self._action_writers
        write_actions(t, actions)
        write_log_probs(t, log_probs)
        write_values(t, values)

    def store_live(self, t: int, live: Any) -> None:
        """Row ``t``'s live flags (buffers made with ``track_live``): False where a row holds
        no transition."""
        assert self._live_writer is not None, "store_live needs a buffer made with track_live"
        self._live_writer(t, live)

    def store_outcome(self, t: int, rewards: Any, terminated: Any, truncated: Any) -> None:
        """Row ``t``'s rewards and episode ends, from numpy arrays or device tensors."""
        write_rewards, write_terminated, write_truncated = self._outcome_writers
        write_rewards(t, rewards)
        write_terminated(t, terminated)
        write_truncated(t, truncated)

    def compute_returns(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        """Fill :attr:`advantages` and :attr:`returns` from the stored rollout."""
        self.advantages, self.returns = compute_gae(
            self.rewards,
            self.values,
            self.terminated,
            self.truncated,
            self.final_values,
            last_values,
            gamma,
            lam,
        )

    def flat(self) -> Batch:
        """The whole rollout as one batch of ``n_steps * n_envs`` rows (views, no copies);
        with :attr:`live`, only the live rows (a gathered copy)."""

        def f(x: torch.Tensor) -> torch.Tensor:
            return x.flatten(0, 1)

        obs = {k: f(v) for k, v in self.obs.items()} if isinstance(self.obs, dict) else f(self.obs)
        batch = Batch(
            obs,
            f(self.actions),
            f(self.log_probs),
            f(self.values),
            f(self.advantages),
            f(self.returns),
            None if self.masks is None else f(self.masks),
        )
        if self.live is None:
            return batch
        return batch.index(f(self.live).nonzero().squeeze(1))


class _RowWriter:
    """``write(t, src)``: ``field[t] = src`` for one preallocated ``(n_steps, ...)`` field,
    returning the row ``field[t]`` (a view made once, not per call)."""

    def __init__(self, field: torch.Tensor) -> None:
        self.rows = field.unbind(0)
        self.host = _numpy_view(field) if field.device.type == "cpu" else None
        self.row_shape = tuple(field.shape[1:])

    def __call__(self, t: int, src: Any) -> torch.Tensor:
        row = self.rows[t]
        if self.host is not None and isinstance(src, np.ndarray):
            # numpy casts as torch's copy_ does (float64 -> float32 rounds to nearest)
            self.host[t] = src if src.shape == self.row_shape else src.reshape(self.row_shape)
        else:
            _copy_into(row, src)
        return row


def _numpy_view(x: torch.Tensor) -> np.ndarray | None:
    """``x``'s memory as a numpy array, None for a dtype numpy lacks (bfloat16)."""
    try:
        return x.numpy()
    except TypeError:
        return None


def _copy_into(dst: torch.Tensor, src: Any) -> None:
    """``dst[...] = src`` for numpy arrays (shared through ``from_numpy``, no extra copy)
    and tensors alike; the copy casts to ``dst``'s dtype and device."""
    if isinstance(src, np.ndarray):
        src = torch.from_numpy(src)
    elif not isinstance(src, torch.Tensor):
        src = torch.as_tensor(np.asarray(src))
    if src.shape != dst.shape:
        src = src.reshape(dst.shape)
    dst.copy_(src, non_blocking=True)
