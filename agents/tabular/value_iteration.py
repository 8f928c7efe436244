"""Value iteration: Q* computed from a known model, the exact answer TD agents aim for."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agents.base import Callback
from agents.tabular.base import TabularAgent, epsilon_greedy_values
from agents.tabular.model import TabularModel


@dataclass(frozen=True)
class ValueIterationConfig:
    """Value iteration settings."""

    gamma: float = 0.99
    """Discount factor in [0, 1]; with 1, every policy must reach a terminal state."""
    theta: float = 1e-10
    """Stop once no state value changes by more than this in a sweep."""
    max_iterations: int = 100_000
    """Sweep limit, for undiscounted models whose values never settle."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}")
        if self.theta <= 0:
            raise ValueError(f"theta must be > 0, got {self.theta!r}")
        if self.max_iterations < 1:
            raise ValueError(f"max_iterations must be >= 1, got {self.max_iterations!r}")


@dataclass(frozen=True)
class ValueIterationResult:
    """Outcome of :func:`value_iteration`."""

    q: np.ndarray  # (S, A) action values, one backup of ``values``
    values: np.ndarray  # (S,) state values
    iterations: int
    residual: float  # max |V_k - V_{k-1}| of the last sweep
    converged: bool


def value_iteration(
    model: TabularModel,
    gamma: float,
    theta: float = 1e-10,
    max_iterations: int = 100_000,
    epsilon: float = 0.0,
) -> ValueIterationResult:
    """Sweep V <- E_pi[backup(V)] from V = 0 until the largest change is below ``theta``.

    With ``epsilon = 0`` pi is greedy and this is classic value iteration (Q*). With
    ``epsilon > 0`` pi is epsilon-greedy, which gives the best epsilon-greedy policy: the
    fixed point SARSA and Expected SARSA reach when they keep exploring at that rate, and
    the exact answer to test them against.
    """
    values = np.zeros(model.n_states)
    residual = float("inf")
    iterations = 0
    while iterations < max_iterations and residual >= theta:
        new_values = epsilon_greedy_values(model.bellman_backup(values, gamma), epsilon)
        residual = float(np.max(np.abs(new_values - values)))
        values = new_values
        iterations += 1
    return ValueIterationResult(
        q=model.bellman_backup(values, gamma),
        values=values,
        iterations=iterations,
        residual=residual,
        converged=residual < theta,
    )


class ValueIteration(TabularAgent):
    """Plans instead of learning: ``learn`` reads the env's model and takes no steps.

    ``num_steps`` stays unchanged because no experience is consumed; ``total_steps`` is
    accepted only to honour the :class:`~agents.base.Agent` interface.
    """

    name = "value_iteration"
    config_class = ValueIterationConfig
    config: ValueIterationConfig

    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        self._check_env(env)
        result = self.plan(TabularModel.from_env(env))
        if callback is not None:
            callback.on_update(
                self, {"iterations": float(result.iterations), "residual": result.residual}
            )

    def plan(self, model: TabularModel) -> ValueIterationResult:
        """Set the Q table to the optimum of ``model`` and return the solver's report."""
        if (model.n_states, model.n_actions) != (self.n_states, self.n_actions):
            raise ValueError(
                f"model has {model.n_states} states and {model.n_actions} actions but this "
                f"agent was built for {self.n_states} and {self.n_actions}"
            )
        cfg = self.config
        result = value_iteration(model, cfg.gamma, cfg.theta, cfg.max_iterations)
        if not result.converged:
            warnings.warn(
                f"value iteration stopped after {result.iterations} sweeps with residual "
                f"{result.residual:.3g} > theta {cfg.theta:g}; raise max_iterations or "
                "lower gamma",
                RuntimeWarning,
                stacklevel=2,
            )
        self.q[...] = result.q
        return result
