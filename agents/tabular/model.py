"""A known MDP as dense arrays, for planning (value iteration) and exact test answers.

Outcomes are stored padded to a fixed count ``K`` per state-action so that a Bellman backup
over the whole MDP is a handful of numpy operations instead of a Python loop over states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import gymnasium as gym
import numpy as np

# Transition probabilities come from floats such as 1/3; a sum off by more than this is a
# malformed model, not rounding.
_PROB_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class TabularModel:
    """Outcome ``k`` of action ``a`` in state ``s`` has probability ``prob[s, a, k]``.

    It leads to ``next_state[s, a, k]`` with ``reward[s, a, k]``, and ``terminated`` says
    whether the episode ends there (no bootstrapping). Padded outcomes have probability 0.
    """

    next_state: np.ndarray  # (S, A, K) int64
    prob: np.ndarray  # (S, A, K) float64
    reward: np.ndarray  # (S, A, K) float64
    terminated: np.ndarray  # (S, A, K) bool

    def __post_init__(self) -> None:
        shape = self.prob.shape
        if len(shape) != 3:
            raise ValueError(f"TabularModel arrays must be (S, A, K), got prob shape {shape}")
        for field in ("next_state", "reward", "terminated"):
            if getattr(self, field).shape != shape:
                raise ValueError(
                    f"TabularModel.{field} has shape {getattr(self, field).shape}, "
                    f"prob has {shape}; all four arrays must match"
                )
        if np.any(self.prob < 0):
            raise ValueError("TabularModel.prob has negative entries")
        totals = self.prob.sum(axis=2)
        bad = np.argwhere(np.abs(totals - 1.0) > _PROB_TOLERANCE)
        if len(bad):
            s, a = bad[0]
            raise ValueError(
                f"TabularModel probabilities for state {s}, action {a} sum to "
                f"{totals[s, a]:.6g}, not 1"
            )
        reached = self.next_state[self.prob > 0]
        if reached.size and (reached.min() < 0 or reached.max() >= shape[0]):
            raise ValueError(
                f"TabularModel.next_state has indices outside [0, {shape[0]}) "
                "on outcomes with nonzero probability"
            )

    @property
    def n_states(self) -> int:
        return self.prob.shape[0]

    @property
    def n_actions(self) -> int:
        return self.prob.shape[1]

    @cached_property
    def expected_reward(self) -> np.ndarray:
        """(S, A) mean immediate reward; it does not depend on V, so it is computed once."""
        return np.einsum("sak,sak->sa", self.prob, self.reward)

    @cached_property
    def _continue_prob(self) -> np.ndarray:
        # Probability mass that bootstraps: terminating outcomes contribute reward only.
        return self.prob * ~self.terminated

    def bellman_backup(self, values: np.ndarray, gamma: float) -> np.ndarray:
        """Q(s, a) = E[r + gamma * (1 - terminated) * V(s')] for every state-action at once.

        With ``values = Q.max(1)`` this is one sweep of value iteration; with the values of a
        fixed policy it is one sweep of policy evaluation.
        """
        return self.expected_reward + gamma * np.einsum(
            "sak,sak->sa", self._continue_prob, values[self.next_state]
        )

    def policy_return(self, policy: np.ndarray, horizon: int, gamma: float = 1.0) -> np.ndarray:
        """(S,) exact expected return of a deterministic ``policy`` within ``horizon`` steps.

        Matches what episodes under a ``max_episode_steps = horizon`` time limit average to,
        so learned policies on stochastic envs can be scored without sampling noise.
        """
        rows = np.arange(self.n_states)
        values = np.zeros(self.n_states)
        for _ in range(horizon):
            values = self.bellman_backup(values, gamma)[rows, policy]
        return values

    @classmethod
    def from_env(cls, env: gym.Env) -> TabularModel:
        """The model of ``env``: ``transition_arrays()`` if offered, else a FrozenLake ``P``.

        palaestra gridworlds provide dense arrays directly; Gymnasium's toy-text envs
        (FrozenLake, CliffWalking, Taxi) expose the ``P[s][a]`` dict of outcome lists.
        """
        inner = env.unwrapped
        if callable(getattr(inner, "transition_arrays", None)):
            table = inner.transition_arrays()
            return cls(
                next_state=np.asarray(table.next_state, dtype=np.int64),
                prob=np.asarray(table.prob, dtype=np.float64),
                reward=np.asarray(table.reward, dtype=np.float64),
                terminated=np.asarray(table.terminated, dtype=bool),
            )
        transitions = getattr(inner, "P", None)
        if isinstance(transitions, Mapping):
            spaces = (env.observation_space, env.action_space)
            if not all(isinstance(space, gym.spaces.Discrete) for space in spaces):
                raise ValueError(
                    f"{_env_name(env)} has a transition dict P but its spaces are "
                    f"{spaces[0]} and {spaces[1]}; a tabular model needs Discrete ones"
                )
            return cls.from_transition_dict(
                transitions, int(spaces[0].n), int(spaces[1].n), source=_env_name(env)
            )
        raise ValueError(
            f"{_env_name(env)} exposes no transition model: planning needs "
            "env.unwrapped.transition_arrays() (palaestra gridworlds) or a FrozenLake-style "
            "env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated), ...]"
        )

    @classmethod
    def from_transition_dict(
        cls,
        transitions: Mapping[int, Mapping[int, Sequence[tuple[float, int, float, bool]]]],
        n_states: int,
        n_actions: int,
        source: str = "transition dict",
    ) -> TabularModel:
        """Pack ``P[s][a] = [(prob, next_state, reward, terminated), ...]`` into arrays."""
        try:
            outcomes = [
                [list(transitions[s][a]) for a in range(n_actions)] for s in range(n_states)
            ]
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(
                f"{source}: P must list every state 0..{n_states - 1} and action "
                f"0..{n_actions - 1} (missing {exc})"
            ) from None
        k = max(len(per_action) for per_state in outcomes for per_action in per_state)
        shape = (n_states, n_actions, k)
        next_state = np.zeros(shape, dtype=np.int64)
        prob = np.zeros(shape, dtype=np.float64)
        reward = np.zeros(shape, dtype=np.float64)
        terminated = np.zeros(shape, dtype=bool)
        for s, per_state in enumerate(outcomes):
            for a, per_action in enumerate(per_state):
                for i, (p, s2, r, done) in enumerate(per_action):
                    prob[s, a, i] = p
                    next_state[s, a, i] = s2
                    reward[s, a, i] = r
                    terminated[s, a, i] = done
        return cls(next_state=next_state, prob=prob, reward=reward, terminated=terminated)


def _env_name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return f"environment {spec.id!r}"
    return f"environment {type(getattr(env, 'unwrapped', env)).__name__}"
