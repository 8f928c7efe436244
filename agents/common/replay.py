"""Experience replay for off-policy learners (DQN): a preallocated ring of transitions.

What is stored, and why:

- ``next_obs`` is the observation the transition really led to. With SAME_STEP autoreset
  that is ``final_observations(...)`` for envs whose episode just ended, never the first
  observation of the next episode, so a truncated transition bootstraps from the right
  state.
- ``terminated`` (not ``done``) decides whether the target bootstraps: a time limit is not
  the end of the task, so a truncated transition keeps its bootstrap term.
- ``discount`` is ``gamma**k`` for a transition that spans ``k`` steps. With ``n_step > 1``
  the buffer folds ``k <= n`` rewards of one env into one transition. ``k`` is shorter than
  ``n`` only when the episode ended first; such a transition bootstraps from the last
  observation (truncation) or not at all (termination), and never reaches into the next
  episode.
- Observations keep their dtype: ``uint8`` pixels and one-hot planes stay one byte each;
  the encoder turns them into floats on the device, batch by batch.

Storage is numpy in host memory. Measured on CPU (one thread): writing one CartPole row
costs 0.4 us into a numpy array and 2.7 us into a torch tensor; gathering 8,192 rows is
83 us with numpy and 32 us with ``index_select``. Every env step writes six fields while an
update gathers once per 128 gradient steps, so numpy wins by about 3 ms per update cycle.
On a GPU the DQN samples all the batches of an update at once, so the host-to-device copy
also happens once per update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

Obs = np.ndarray | dict[str, np.ndarray]
TensorObs = torch.Tensor | dict[str, torch.Tensor]


@dataclass(frozen=True)
class ReplayBatch:
    """Sampled transitions as tensors on the learner's device, one row per transition."""

    obs: TensorObs
    actions: torch.Tensor  # (B, 1) int64, shaped for ``gather``
    rewards: torch.Tensor  # (B,) float32: the (n-step) discounted reward sum
    next_obs: TensorObs
    terminated: torch.Tensor  # (B,) float32, 1.0 where the episode terminated (no bootstrap)
    discounts: torch.Tensor  # (B,) float32, gamma ** (steps spanned)
    next_masks: torch.Tensor | None  # (B, n_actions) bool, allowed actions in next_obs

    def split(self, size: int) -> list[ReplayBatch]:
        """Consecutive batches of ``size`` rows (views, no copies)."""
        pieces = {
            name: _split(getattr(self, name), size)
            for name in ("obs", "actions", "rewards", "next_obs", "terminated", "discounts")
        }
        n = len(pieces["actions"])
        masks = _split(self.next_masks, size) if self.next_masks is not None else [None] * n
        return [
            ReplayBatch(**{name: rows[i] for name, rows in pieces.items()}, next_masks=masks[i])
            for i in range(n)
        ]


def _split(x: Any, size: int) -> list[Any]:
    if isinstance(x, dict):
        per_key = {k: v.split(size) for k, v in x.items()}
        n = len(next(iter(per_key.values())))
        return [{k: v[i] for k, v in per_key.items()} for i in range(n)]
    return list(x.split(size))


def _map_obs(fn: Callable[[np.ndarray], Any], obs: Any) -> Any:
    """``fn`` applied to an observation array, or to each array of a Dict observation."""
    if isinstance(obs, dict):
        return {k: fn(v) for k, v in obs.items()}
    return fn(obs)


def _obs_storage(space: gym.Space, shape_prefix: tuple[int, ...]) -> Obs:
    """Zeroed arrays for observations of ``space`` with leading dimensions ``shape_prefix``."""
    if isinstance(space, gym.spaces.Dict):
        return {k: _obs_storage(s, shape_prefix) for k, s in space.spaces.items()}
    if space.shape is None or space.dtype is None:
        raise ValueError(f"replay buffer cannot store observations of {space}")
    return np.zeros(shape_prefix + tuple(space.shape), dtype=space.dtype)


class ReplayBuffer:
    """A ring of the last ``capacity`` transitions from ``n_envs`` envs stepped together.

    ``add`` takes one vector step (arrays with a leading ``n_envs`` dimension); with
    ``n_step > 1`` it keeps each env's last ``n_step`` steps pending and stores a
    transition once its n-step return is complete or its episode has ended. ``sample``
    draws uniformly with the caller's numpy generator, so the learner's seed alone fixes
    which transitions are replayed.
    """

    def __init__(
        self,
        capacity: int,
        observation_space: gym.Space,
        n_envs: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        n_actions: int | None = None,
    ) -> None:
        """``n_actions`` reserves storage for next-state action masks (masked envs only)."""
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        self.capacity = capacity
        self.n_envs = n_envs
        self.n_step = n_step
        self.gamma = gamma
        self.pos = 0  # next row to write
        self.size = 0
        self.obs = _obs_storage(observation_space, (capacity,))
        self.next_obs = _obs_storage(observation_space, (capacity,))
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32)
        self.next_masks = (
            np.zeros((capacity, n_actions), dtype=bool) if n_actions is not None else None
        )
        # n-step window per env: slot t % n_step holds vector step t.
        self._pending_obs = _obs_storage(observation_space, (n_step, n_envs))
        self._pending_actions = np.zeros((n_step, n_envs), dtype=np.int64)
        self._pending_returns = np.zeros((n_step, n_envs), dtype=np.float64)
        self._pending_count = np.zeros(n_envs, dtype=np.int64)  # steps in each env's window
        self._gamma_powers = gamma ** np.arange(n_step + 1, dtype=np.float64)
        # Per write slot: the age of every slot's entry (0 = the one just written), its
        # reward's discount, and which entry is the oldest. Tables, to keep add() short.
        self._ages = (np.arange(n_step)[:, None] - np.arange(n_step)[None, :]) % n_step
        self._age_discounts = self._gamma_powers[self._ages][:, :, None]
        self._is_oldest = (self._ages == n_step - 1)[:, :, None]
        self._t = 0  # vector steps added

    def __len__(self) -> int:
        return self.size

    @property
    def bytes_per_transition(self) -> int:
        """Memory one stored transition takes (used to bound how much one sample copies)."""
        obs_bytes = sum(a.itemsize * a[0].size for a in _leaves(self.obs))
        mask_bytes = 0 if self.next_masks is None else self.next_masks.shape[1]
        return 2 * obs_bytes + 8 + 4 * 3 + mask_bytes

    # ------------------------------------------------------------------ adding
    def discard_pending(self) -> None:
        """Forget the unfinished n-step windows (the envs are about to be reset).

        Their episodes were cut off by the caller, not ended by the env, so they have no
        final observation to bootstrap from and can never be completed.
        """
        self._pending_count[:] = 0

    def add(
        self,
        obs: Obs,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: Obs,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_masks: np.ndarray | None = None,
    ) -> None:
        """One vector step. ``next_obs`` must hold final observations where episodes ended."""
        if self.n_step == 1:
            self._store(obs, actions, rewards, next_obs, terminated, self.gamma, next_masks)
            return
        self._add_n_step(obs, actions, rewards, next_obs, terminated, truncated, next_masks)

    def add_transitions(
        self,
        obs: Obs,
        actions: np.ndarray,
        returns: np.ndarray,
        next_obs: Obs,
        terminated: np.ndarray,
        discounts: np.ndarray,
    ) -> None:
        """Store complete transitions as they are (k rows: ``returns`` already summed over
        the steps each spans, ``discounts`` its ``gamma ** steps``), bypassing the n-step
        windows: for transitions made elsewhere, such as a model's imagined rollouts."""
        self._store(obs, actions, returns, next_obs, terminated, discounts, None)

    def _add_n_step(
        self,
        obs: Obs,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: Obs,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_masks: np.ndarray | None,
    ) -> None:
        """Push the step into every env's window, then store the transitions it completes.

        A window entry of age ``a`` (0 = this step) has collected ``a + 1`` rewards. The
        oldest entry is complete at age ``n - 1``; when an episode ends, every entry of its
        window is complete, with ``a + 1`` steps and this step's final observation.
        """
        n = self.n_step
        slot = self._t % n
        self._t += 1
        ages = self._ages[slot]
        for pending, value in zip(_leaves(self._pending_obs), _leaves(obs), strict=True):
            pending[slot] = value
        self._pending_actions[slot] = actions
        self._pending_returns[slot] = 0.0
        self._pending_returns += self._age_discounts[slot] * rewards
        count = self._pending_count
        count += 1  # at most n: a full window gives up its oldest entry every step

        done = np.logical_or(terminated, truncated)
        complete = (ages[:, None] < count) & (done | self._is_oldest[slot])
        slots, envs = np.nonzero(complete)
        if len(envs):
            self._store(
                _map_obs(lambda a: a[slots, envs], self._pending_obs),
                self._pending_actions[slots, envs],
                self._pending_returns[slots, envs],
                _map_obs(lambda a: a[envs], next_obs),
                np.asarray(terminated)[envs],
                self._gamma_powers[ages[slots] + 1],
                None if next_masks is None else next_masks[envs],
            )
        count[done] = 0
        np.minimum(count, n - 1, out=count)

    def _store(
        self,
        obs: Obs,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: Obs,
        terminated: np.ndarray,
        discounts: np.ndarray | float,
        next_masks: np.ndarray | None,
    ) -> None:
        """Write complete transitions (leading dimension k) at the ring's write position."""
        k = len(actions)
        if k > self.capacity:  # only the newest ``capacity`` rows survive a single write
            self._store(
                _map_obs(lambda a: a[-self.capacity :], obs),
                actions[-self.capacity :],
                rewards[-self.capacity :],
                _map_obs(lambda a: a[-self.capacity :], next_obs),
                terminated[-self.capacity :],
                discounts if np.isscalar(discounts) else discounts[-self.capacity :],
                None if next_masks is None else next_masks[-self.capacity :],
            )
            return
        if (self.next_masks is None) != (next_masks is None):
            raise ValueError(
                "next action masks must be given exactly when the buffer was made with n_actions"
            )
        first = min(k, self.capacity - self.pos)  # rows before the ring wraps
        pairs = [
            *zip(_leaves(self.obs), _leaves(obs), strict=True),
            *zip(_leaves(self.next_obs), _leaves(next_obs), strict=True),
            (self.actions, actions),
            (self.rewards, rewards),
            (self.terminated, terminated),
            (self.discounts, discounts),
        ]
        if self.next_masks is not None:
            pairs.append((self.next_masks, next_masks))
        for store, values in pairs:
            _write_rows(store, self.pos, k, first, values)
        self.pos = (self.pos + k) % self.capacity
        self.size = min(self.size + k, self.capacity)

    # ------------------------------------------------------------------ sampling
    def sample(
        self, batch_size: int, rng: np.random.Generator, device: torch.device
    ) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly (with replacement) as device tensors."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, size=batch_size)

        def take(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a[idx]).to(device, non_blocking=True)

        return ReplayBatch(
            obs=_map_obs(take, self.obs),
            actions=take(self.actions)[:, None],
            rewards=take(self.rewards),
            next_obs=_map_obs(take, self.next_obs),
            terminated=take(self.terminated),
            discounts=take(self.discounts),
            next_masks=None if self.next_masks is None else take(self.next_masks),
        )


def _leaves(obs: Any) -> list[np.ndarray]:
    """The arrays of an observation, in a fixed order (one, or one per Dict key)."""
    if isinstance(obs, dict):
        return [obs[k] for k in sorted(obs)]
    return [obs]


def _write_rows(store: np.ndarray, pos: int, k: int, first: int, values: Any) -> None:
    """``store[pos:pos+k] = values`` on a ring: ``first`` rows at ``pos``, the rest at row 0.

    Slices, not index arrays: a slice assignment is several times cheaper per call, and
    the buffer is written on every environment step. ``values`` may be a scalar.
    """
    scalar = np.isscalar(values)
    store[pos : pos + first] = values if scalar else values[:first]
    if k > first:
        store[: k - first] = values if scalar else values[first:]
