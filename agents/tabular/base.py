"""Q-table agents: acting, saving and the one temporal-difference training loop.

:class:`TabularAgent` owns what every table-based agent shares (the Q table, an
epsilon-greedy policy drawn from the agent's own random generator, ``.npz`` checkpoints).
:class:`TDAgent` adds the shared online loop; a TD method only says what its target is.
"""

from __future__ import annotations

import json
import zipfile
from abc import abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np

from agents.base import Agent, Callback, EpisodeStats
from agents.common.io import atomic_write
from agents.common.schedules import ConstantSchedule, LinearSchedule, Schedule
from agents.evaluation import episode_success

FORMAT_VERSION = 1
_REQUIRED_KEYS = (
    "format_version",
    "agent",
    "config",
    "q",
    "num_steps",
    "seed",
    "rng_state",
    "epsilon",
)

AgentT = TypeVar("AgentT", bound="TabularAgent")


def discrete_size(space: gym.Space, role: str) -> int:
    """Number of values of a ``Discrete`` space that starts at 0; ValueError otherwise."""
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(
            f"tabular agents need a Discrete {role} space, got {space}; "
            'for palaestra gridworlds pass observation_mode="index"'
        )
    if int(space.start) != 0:
        raise ValueError(f"tabular agents need a {role} space starting at 0, got {space}")
    return int(space.n)


class TabularAgent(Agent):
    """An agent whose whole policy is a (states, actions) table of action values.

    ``act(obs, deterministic=True)`` takes the first maximum (``np.argmax``) so a saved or
    reloaded agent replays exactly; the exploring policy breaks ties at random instead,
    because with an all-zero initial table a fixed tie-break walks into the same wall forever.
    """

    checkpoint_suffix = ".npz"

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(self.config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, "
                f"got {type(self.config).__name__}"
            )
        self.n_states = discrete_size(observation_space, "observation")
        self.n_actions = discrete_size(action_space, "action")
        self.q = np.zeros((self.n_states, self.n_actions), dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.epsilon = 0.0  # exploration rate of act(deterministic=False); TD agents schedule it

    # ------------------------------------------------------------------ acting

    def act(self, obs: Any, deterministic: bool = True) -> int:
        s = self._state_index(obs)
        if deterministic:
            return int(np.argmax(self.q[s]))
        return self.explore(s)

    def explore(self, s: int) -> int:
        """Epsilon-greedy action for state index ``s``, greedy ties broken at random."""
        draw = self.rng.random
        if draw() < self.epsilon:
            return _index_below(draw(), self.n_actions)
        # Small rows are faster as Python lists than through numpy's per-call overhead.
        row = self.q[s].tolist()
        best = max(row)
        if row.count(best) == 1:
            return row.index(best)
        ties = [a for a, value in enumerate(row) if value == best]
        return ties[_index_below(draw(), len(ties))]

    def greedy_policy(self) -> np.ndarray:
        """(S,) action taken in each state by ``act(..., deterministic=True)``."""
        return np.argmax(self.q, axis=1)

    def _state_index(self, obs: Any) -> int:
        s = int(obs)
        if not 0 <= s < self.n_states:
            raise ValueError(f"observation {obs!r} is outside Discrete({self.n_states})")
        return s

    def _check_env(self, env: gym.Env) -> None:
        """Fail before training if ``env`` does not match the table this agent holds."""
        sizes = (
            discrete_size(env.observation_space, "observation"),
            discrete_size(env.action_space, "action"),
        )
        if sizes != (self.n_states, self.n_actions):
            raise ValueError(
                f"env has {sizes[0]} states and {sizes[1]} actions but this {self.name} agent "
                f"was built for {self.n_states} and {self.n_actions}"
            )

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "agent": np.array(self.name),
            "config": np.array(json.dumps(asdict(self.config))),
            "q": self.q,
            "num_steps": np.array(self.num_steps, dtype=np.int64),
            "seed": np.array(json.dumps(None if self.seed is None else int(self.seed))),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "epsilon": np.array(self.epsilon, dtype=np.float64),
            **self._extra_arrays(),
        }
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls: type[AgentT], path: str | Path) -> AgentT:
        """Read a checkpoint; called on :class:`TabularAgent` it returns whichever agent is stored.

        ValueError when the file is not a tabular checkpoint or holds a different agent.
        """
        path = Path(path)
        arrays = _read_checkpoint(path)
        target = cls._class_for(str(arrays["agent"]), path)
        try:
            config = target.config_class(**json.loads(str(arrays["config"])))
            q = arrays["q"]
            agent = target(
                gym.spaces.Discrete(q.shape[0]),
                gym.spaces.Discrete(q.shape[1]),
                config=config,
                seed=json.loads(str(arrays["seed"])),
            )
            agent.q[...] = q
            agent.num_steps = int(arrays["num_steps"])
            agent.rng = _generator_from_state(json.loads(str(arrays["rng_state"])))
            agent.epsilon = float(arrays["epsilon"])
            agent._restore_extra(arrays)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"{path} is a corrupt {target.name} checkpoint: {exc}") from exc
        return agent

    @classmethod
    def _class_for(cls, stored: str, path: Path) -> type[AgentT]:
        expected = getattr(cls, "name", None)
        if expected is not None:
            if stored != expected:
                raise ValueError(
                    f"{path} holds a {stored!r} agent, not {expected!r}; load it with "
                    f"agents.registry.agent_class({stored!r}).load"
                )
            return cls
        from agents.registry import agent_class  # late: the registry imports every agent

        target = agent_class(stored)
        if not issubclass(target, cls):
            raise ValueError(f"{path} holds a {stored!r} agent, which is not a {cls.__name__}")
        return target

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        """State beyond the Q table that a subclass must checkpoint (Dyna-Q's model)."""
        return {}

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_extra_arrays`."""


@dataclass(frozen=True)
class TDConfig:
    """Hyperparameters shared by the one-step temporal-difference agents."""

    alpha: float = 0.1
    """Step size of each update (S&B uses a constant 0.1)."""
    alpha_end: float | None = None
    """Step size reached at ``total_steps``, decaying linearly from ``alpha``; None keeps
    ``alpha`` constant. Decay lets stochastic envs (slippery FrozenLake) settle instead of
    letting every unlucky slip flip a greedy action."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    epsilon_start: float = 1.0
    """Exploration rate at step 0: start fully random so every action gets tried."""
    epsilon_end: float = 0.05
    """Exploration rate after the decay; above 0, late states and actions still get tried."""
    epsilon_decay_fraction: float = 0.5
    """Fraction of ``total_steps`` (as passed to ``learn``) spent decaying linearly."""
    epsilon_decay_steps: int | None = None
    """Decay length in steps; when set it overrides ``epsilon_decay_fraction``."""

    def __post_init__(self) -> None:
        _require_in("alpha", self.alpha, 0.0, 1.0, low_open=True)
        if self.alpha_end is not None:
            _require_in("alpha_end", self.alpha_end, 0.0, 1.0)
        _require_in("gamma", self.gamma, 0.0, 1.0)
        _require_in("epsilon_start", self.epsilon_start, 0.0, 1.0)
        _require_in("epsilon_end", self.epsilon_end, 0.0, 1.0)
        _require_in("epsilon_decay_fraction", self.epsilon_decay_fraction, 0.0, 1.0)
        if self.epsilon_decay_steps is not None and self.epsilon_decay_steps < 0:
            raise ValueError(f"epsilon_decay_steps must be >= 0, got {self.epsilon_decay_steps}")

    def alpha_schedule(self, total_steps: int) -> Schedule:
        """Step size by step for a run that ends at ``total_steps``."""
        if self.alpha_end is None:
            return ConstantSchedule(self.alpha)
        return LinearSchedule(self.alpha, self.alpha_end, total_steps)

    def epsilon_schedule(self, total_steps: int) -> LinearSchedule:
        """Exploration rate by step for a run that ends at ``total_steps``."""
        if self.epsilon_decay_steps is not None:
            return LinearSchedule(self.epsilon_start, self.epsilon_end, self.epsilon_decay_steps)
        return LinearSchedule.over_fraction(
            self.epsilon_start, self.epsilon_end, self.epsilon_decay_fraction, total_steps
        )


class TDAgent(TabularAgent):
    """One-step TD control: subclasses define :meth:`td_target`, the loop does the rest.

    Transitions that end by truncation (time limit) bootstrap from the next state like any
    non-terminal transition; only termination drops the bootstrap term.
    """

    config: TDConfig
    on_policy: ClassVar[bool] = False
    """True when the target needs the next action, which must then be chosen before the
    update (SARSA). Off-policy methods choose it after, so it reflects the update itself and,
    for Dyna-Q, the planning that follows it, as in Sutton & Barto's pseudocode."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: TDConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        self.alpha = self.config.alpha  # current step size, set by the schedule in learn()
        self.epsilon = self.config.epsilon_start
        # Cached off the frozen config: attribute chains cost real time in the step loop.
        self._gamma = self.config.gamma

    @abstractmethod
    def td_target(self, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        """The value Q(s, a) is moved towards. ``a2`` is None unless ``on_policy``."""

    def update(self, s: int, a: int, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        """Move Q(s, a) a step of ``alpha`` towards the target; return the TD error."""
        q = self.q
        td_error = self.td_target(r, s2, a2, terminated) - q[s, a]
        q[s, a] += self.alpha * td_error
        return td_error

    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        """Run epsilon-greedy episodes in ``env`` until ``num_steps`` reaches ``total_steps``.

        Every call starts a new episode. The env is seeded with ``self.seed`` only on the
        first reset of a fresh agent, so a resumed run does not replay its first episodes.
        ``on_update`` reports once per episode (epsilon, mean absolute TD error) to keep the
        per-step cost at a single callback.
        """
        self._check_env(env)
        if self.num_steps >= total_steps:
            return
        callback = callback if callback is not None else Callback()
        epsilon_at = self.config.epsilon_schedule(total_steps)
        alpha_at = self.config.alpha_schedule(total_steps)
        explore, update, on_step = self.explore, self.update, callback.on_step
        on_policy = self.on_policy
        self.epsilon = epsilon_at(self.num_steps)
        self.alpha = alpha_at(self.num_steps)

        s = a = episode_length = 0
        episode_return = abs_td_sum = 0.0
        done = True  # a new episode starts at the top of the loop, never after the last step
        while self.num_steps < total_steps:
            if done:
                obs, _ = env.reset(seed=self.seed if self.num_steps == 0 else None)
                s = int(obs)
                a = explore(s)
                episode_return, episode_length, abs_td_sum = 0.0, 0, 0.0
            obs, reward, terminated, truncated, info = env.step(a)
            s2, r = int(obs), float(reward)
            # The update below and the choice of a' follow the schedules at the new count.
            self.num_steps += 1
            self.epsilon = epsilon_at(self.num_steps)
            self.alpha = alpha_at(self.num_steps)
            a2 = explore(s2) if on_policy and not terminated else None
            td_error = update(s, a, r, s2, a2, terminated)
            episode_return += r
            episode_length += 1
            abs_td_sum += abs(td_error)
            done = terminated or truncated
            if done:
                success = episode_success(info, episode_return)
                callback.on_episode_end(
                    self, EpisodeStats(self.num_steps, episode_return, episode_length, success)
                )
                callback.on_update(
                    self, {"epsilon": self.epsilon, "td_error": float(abs_td_sum / episode_length)}
                )
            if not on_step(self, self.num_steps):
                break
            if not done:
                s = s2
                a = a2 if a2 is not None else explore(s2)


def epsilon_greedy_values(q: np.ndarray, epsilon: float) -> np.ndarray:
    """E[q[..., A]] for A drawn as :meth:`TabularAgent.explore` draws it, on the last axis.

    However greedy ties are split, every tied action is worth the maximum, so the greedy
    part is exactly ``(1 - epsilon) * max``. Works on one row (Expected SARSA's target) and
    on a whole table (value iteration for the best epsilon-greedy policy) alike.
    """
    return epsilon * q.sum(axis=-1) / q.shape[-1] + (1.0 - epsilon) * q.max(axis=-1)


def _index_below(u: float, n: int) -> int:
    # min() guards the float product rounding up to n for u just below 1.
    return min(int(u * n), n - 1)


def _require_in(name: str, value: float, low: float, high: float, low_open: bool = False) -> None:
    ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")


def _read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a palaestra tabular agent file: {exc}") from exc
    missing = [key for key in _REQUIRED_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"{path} is not a palaestra tabular agent file (missing {', '.join(missing)})"
        )
    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {version}; this palaestra reads {FORMAT_VERSION}"
        )
    return arrays


def _generator_from_state(state: dict[str, Any]) -> np.random.Generator:
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)
