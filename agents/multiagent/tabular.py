"""Independent tabular Q-learners for ParallelEnvs, and coordination-aware variants.

Every agent keeps its own Q table over its own observation and action and treats the
others as part of the environment. That is independent Q-learning (``iql``, Tan 1993), and
it is known to miscoordinate: in the Climbing game an agent's Q value for the optimal
action is dragged down by the partner's exploration (-30 when the partner tries another
action), so both settle on a safer, worse joint action. The variants change only how a
TD error moves the table:

- :class:`HystereticQLearning` (Matignon, Laurent & Le Fort-Piat 2007) takes a step of
  ``alpha`` for positive TD errors and a smaller ``beta`` for negative ones, so penalties
  caused by a teammate's exploration weigh little.
- :class:`LenientQLearning` (Panait, Sullivan & Luke 2006; Wei & Luke 2016) ignores a
  negative TD error with a probability (the leniency) that starts near 1 and fades as a
  (state, action) pair's temperature decays with its visits.

A table row is one observation: ``Discrete`` observations index the table directly (as in
:mod:`agents.tabular`); any other space (small ``Box``, ``MultiBinary``, ``MultiDiscrete``,
e.g. a matrix game's constant or one-hot observation) gets a row per distinct value, in
order of first sight, up to ``max_states``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from agents.base import Callback
from agents.common.io import atomic_write
from agents.multiagent.base import MultiAgentLearner, TeamEpisode
from agents.tabular.base import (
    TDConfig,
    _generator_from_state,
    _index_below,
    _read_checkpoint,
    _require_in,
    discrete_size,
)

FORMAT_VERSION = 1
LearnerT = TypeVar("LearnerT", bound="IndependentQLearning")


# ---------------------------------------------------------------------- configs


@dataclass(frozen=True)
class IQLConfig(TDConfig):
    """Independent Q-learning: the one-step TD hyperparameters of :mod:`agents.tabular`
    (``alpha``, ``gamma``, the epsilon schedule over ``total_steps`` parallel steps), plus
    the size bound of tables over non-``Discrete`` observations.

    For a stateless repeated matrix game use ``gamma=0``: each play is its own bandit.
    """

    stateless: bool = False
    """Ignore observations: one table row per agent. The standard setting for repeated
    matrix games (Claus & Boutilier 1998), where each play is a bandit problem whatever a
    memory-one observation says."""
    max_states: int = 4096
    """Most distinct observations one agent's table holds when the observation space is
    not ``Discrete`` (rows are assigned on first sight); one more raises ValueError."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_states < 1:
            raise ValueError(f"max_states must be >= 1, got {self.max_states}")


@dataclass(frozen=True)
class HystereticQConfig(IQLConfig):
    """Hysteretic Q-learning: two step sizes, ``alpha`` up and ``beta`` down."""

    beta: float = 0.01
    """Step size for negative TD errors, in [0, ``alpha``]; Matignon et al. use 0.01 against
    ``alpha=0.1``. With an ``alpha_end`` decay, beta keeps its ratio to alpha."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_in("beta", self.beta, 0.0, self.alpha)


@dataclass(frozen=True)
class LenientQConfig(IQLConfig):
    """Lenient Q-learning: negative TD errors are forgiven while a pair is still "hot"."""

    max_temperature: float = 50.0
    """Initial temperature of every (observation, action) pair of every agent, > 0."""
    temperature_decay: float = 0.9998
    """Factor in (0, 1] applied to a pair's temperature after each of its updates. Leniency
    must outlast the partners' exploration: with the defaults it stays above 0.95 for about
    14,000 updates of a pair (the Climbing game is solved at 2,000 to 10,000 plays with
    exploration decaying over 80% of them, and no longer at 20,000)."""
    leniency_k: float = 1.0
    """Leniency is ``1 - exp(-leniency_k * temperature)``: the probability that a negative
    TD error is ignored. Larger values stay lenient longer; > 0."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.max_temperature > 0:
            raise ValueError(f"max_temperature must be > 0, got {self.max_temperature}")
        _require_in("temperature_decay", self.temperature_decay, 0.0, 1.0, low_open=True)
        if not self.leniency_k > 0:
            raise ValueError(f"leniency_k must be > 0, got {self.leniency_k}")


# ---------------------------------------------------------------------- observations


class ObservationIndex:
    """Maps one agent's observation to a row of its Q table.

    ``stateless`` maps every observation to row 0 (``size == 1``). ``Discrete(n, start)``
    maps ``obs`` to ``obs - start`` (``size == n``). Other spaces assign rows to distinct
    observation values as they are first seen, up to ``capacity``; the values seen so far
    (``keys``) are checkpointed with the table.
    """

    def __init__(self, space: gym.Space, capacity: int, stateless: bool = False) -> None:
        self.stateless = stateless
        self.discrete = isinstance(space, gym.spaces.Discrete)
        if stateless:
            self.start, self.size, self.shape = 0, 1, ()
        elif self.discrete:
            self.start = int(space.start)
            self.size = int(space.n)
            self.shape: tuple[int, ...] = ()
        elif isinstance(space, gym.spaces.Box | gym.spaces.MultiBinary | gym.spaces.MultiDiscrete):
            self.start = 0
            self.size = capacity
            self.shape = tuple(space.shape)
        else:
            raise ValueError(
                f"tabular multi-agent learners need Discrete, Box, MultiBinary or "
                f"MultiDiscrete observations, got {space}"
            )
        self._rows: dict[bytes, int] = {}
        self._keys: list[np.ndarray] = []

    def row(self, obs: Any, add: bool) -> int | None:
        """The row of ``obs``; None for a value not seen yet unless ``add`` assigns one."""
        if self.stateless:
            return 0
        if self.discrete:
            s = int(obs) - self.start
            if not 0 <= s < self.size:
                raise ValueError(
                    f"observation {obs!r} is outside Discrete({self.size}, start={self.start})"
                )
            return s
        value = np.asarray(obs, dtype=np.float64)
        if value.shape != self.shape:
            raise ValueError(
                f"observation shape {value.shape} differs from the space's {self.shape}"
            )
        key = value.tobytes()
        s = self._rows.get(key)
        if s is None and add:
            if len(self._keys) >= self.size:
                raise ValueError(
                    f"more than max_states={self.size} distinct observations; raise "
                    "max_states or use an env with a Discrete observation"
                )
            s = self._rows[key] = len(self._keys)
            self._keys.append(value)
        return s

    @property
    def keys(self) -> np.ndarray:
        """(rows seen, *shape) observation values by row; empty for Discrete spaces."""
        return np.asarray(self._keys, dtype=np.float64).reshape(len(self._keys), *self.shape)

    def restore(self, keys: np.ndarray) -> None:
        """Inverse of :attr:`keys`."""
        self._keys = []
        self._rows = {}
        for value in keys:
            self.row(value, add=True)


# ---------------------------------------------------------------------- acting


def epsilon_greedy(row: list[float], epsilon: float, draw: Callable[[], float]) -> int:
    """With probability ``epsilon`` a uniform action, else a greedy one, ties broken at
    random (``draw`` returns uniforms in [0, 1)). The draws are those of
    :meth:`agents.tabular.TabularAgent.explore`."""
    n = len(row)
    if draw() < epsilon:
        return _index_below(draw(), n)
    best = max(row)
    if row.count(best) == 1:
        return row.index(best)
    ties = [a for a, value in enumerate(row) if value == best]
    return ties[_index_below(draw(), len(ties))]


# ---------------------------------------------------------------------- learners


class IndependentQLearning(MultiAgentLearner):
    """One Q-learner per agent, each on its own observation, action and reward.

    ``q[i]`` is agent ``agents[i]``'s table (rows: observations, columns: actions).
    ``act(..., deterministic=True)`` takes the first maximum so a reloaded learner replays
    exactly; exploring breaks ties at random. All agents draw from one generator, seeded by
    ``seed``, which also seeds the env's first reset.
    """

    name = "iql"
    config_class = IQLConfig
    checkpoint_suffix = ".npz"
    config: IQLConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: IQLConfig | None = None,
        seed: int | None = None,
        *,
        agents: Sequence[str],
        state_space: gym.Space | None = None,
    ) -> None:
        super().__init__(
            observation_space, action_space, config, seed, agents=agents, state_space=state_space
        )
        if not isinstance(self.config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, "
                f"got {type(self.config).__name__}"
            )
        self.index = ObservationIndex(
            observation_space, self.config.max_states, self.config.stateless
        )
        self.n_actions = discrete_size(action_space, "action")
        self.q = np.zeros((len(self.agents), self.index.size, self.n_actions), dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.epsilon = self.config.epsilon_start
        self.alpha = self.config.alpha  # current step size, set by the schedule in learn()
        self._agent_index = {agent: i for i, agent in enumerate(self.agents)}

    # ------------------------------------------------------------------ acting

    def act(self, observations: dict[str, Any], deterministic: bool = True) -> dict[str, int]:
        actions = {}
        for agent, obs in observations.items():
            s = self.index.row(obs, add=False)
            # An observation never trained on has the initial all-zero row.
            row = self.q[self._agent_index[agent], s] if s is not None else np.zeros(self.n_actions)
            a = int(np.argmax(row)) if deterministic else self._explore(row)
            actions[agent] = a
        return actions

    def _explore(self, row: np.ndarray) -> int:
        return epsilon_greedy(row.tolist(), self.epsilon, self.rng.random)

    # ------------------------------------------------------------------ learning

    def step_size(self, i: int, s: int, a: int, td_error: float) -> float:
        """How far agent ``i``'s Q(s, a) moves towards its target, given the TD error.

        Independent Q-learning: always ``alpha``. Coordination-aware variants override this.
        """
        return self.alpha

    def update(self, i: int, s: int, a: int, r: float, s2: int | None, terminated: bool) -> float:
        """Move agent ``i``'s Q(s, a) towards ``r + gamma * max_a' Q(s2, a')`` (no bootstrap
        when ``terminated``) by :meth:`step_size`; return the TD error."""
        q = self.q[i]
        target = r if terminated or s2 is None else r + self.config.gamma * max(q[s2].tolist())
        td_error = target - q[s, a]
        q[s, a] += self.step_size(i, s, a, td_error) * td_error
        return td_error

    def learn(self, env: ParallelEnv, total_steps: int, callback: Callback | None = None) -> None:
        """Run epsilon-greedy episodes in ``env`` until ``num_steps`` (parallel steps) reaches
        ``total_steps``.

        Every call starts a new episode; the env is seeded with ``self.seed`` only on the
        first reset of a fresh learner. Truncated agents bootstrap from their last
        observation; terminated ones do not. ``on_update`` reports once per episode
        (epsilon, mean absolute TD error over agents and steps).
        """
        self.check_env(env)
        if self.num_steps >= total_steps:
            return
        callback = callback if callback is not None else Callback()
        epsilon_at = self.config.epsilon_schedule(total_steps)
        alpha_at = self.config.alpha_schedule(total_steps)
        self.epsilon = epsilon_at(self.num_steps)
        self.alpha = alpha_at(self.num_steps)
        episode = TeamEpisode()
        rows: dict[str, int] = {}
        abs_td_sum, td_count = 0.0, 0
        while self.num_steps < total_steps:
            if episode.done:
                observations, _ = env.reset(seed=self.seed if self.num_steps == 0 else None)
                episode.start(env.agents)
                rows = {agent: self._row(observations[agent]) for agent in env.agents}
                abs_td_sum, td_count = 0.0, 0
            actions = {
                agent: self._explore(self.q[self._agent_index[agent], s])
                for agent, s in rows.items()
            }
            observations, rewards, terminations, truncations, infos = env.step(actions)
            self.num_steps += 1
            self.epsilon = epsilon_at(self.num_steps)
            self.alpha = alpha_at(self.num_steps)
            next_rows = {}
            for agent, s in rows.items():
                obs2 = observations.get(agent)
                s2 = None if obs2 is None else self._row(obs2)
                i = self._agent_index[agent]
                td_error = self.update(
                    i, s, actions[agent], float(rewards[agent]), s2, terminations[agent]
                )
                abs_td_sum += abs(td_error)
                td_count += 1
                if s2 is not None and not (terminations[agent] or truncations[agent]):
                    next_rows[agent] = s2
            rows = next_rows
            stats = episode.record(rewards, terminations, truncations, infos, self.num_steps)
            if stats is not None:
                callback.on_episode_end(self, stats)
                callback.on_update(
                    self, {"epsilon": self.epsilon, "td_error": abs_td_sum / max(td_count, 1)}
                )
            if not callback.on_step(self, self.num_steps):
                break

    def _row(self, obs: Any) -> int:
        s = self.index.row(obs, add=True)
        assert s is not None  # add=True always assigns a row
        return s

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path) -> Path:
        # Late: agents.deep imports torch, which tables need only to describe their spaces.
        from agents.deep.base import space_to_json

        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "agent": np.array(self.name),
            "config": np.array(json.dumps(asdict(self.config))),
            "agents": np.array(json.dumps(self.agents)),
            "observation_space": np.array(json.dumps(space_to_json(self.observation_space))),
            "action_space": np.array(json.dumps(space_to_json(self.action_space))),
            "q": self.q,
            "observation_keys": self.index.keys,
            "num_steps": np.array(self.num_steps, dtype=np.int64),
            "seed": np.array(json.dumps(None if self.seed is None else int(self.seed))),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "epsilon": np.array(self.epsilon, dtype=np.float64),
            **self._extra_arrays(),
        }
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls: type[LearnerT], path: str | Path) -> LearnerT:
        """Read a checkpoint written by :meth:`save` of this same learner class.

        ValueError when the file is not a tabular checkpoint or holds another learner.
        """
        from agents.deep.base import space_from_json  # late, as in save()

        path = Path(path)
        arrays = _read_checkpoint(path)
        stored = str(arrays["agent"])
        if stored != cls.name:
            raise ValueError(
                f"{path} holds a {stored!r} agent, not {cls.name!r}; load it with "
                f"agents.registry.agent_class({stored!r}).load"
            )
        try:
            learner = cls(
                space_from_json(json.loads(str(arrays["observation_space"]))),
                space_from_json(json.loads(str(arrays["action_space"]))),
                config=cls.config_class(**json.loads(str(arrays["config"]))),
                seed=json.loads(str(arrays["seed"])),
                agents=json.loads(str(arrays["agents"])),
            )
            learner.q[...] = arrays["q"]
            learner.index.restore(arrays["observation_keys"])
            learner.num_steps = int(arrays["num_steps"])
            learner.rng = _generator_from_state(json.loads(str(arrays["rng_state"])))
            learner.epsilon = float(arrays["epsilon"])
            learner._restore_extra(arrays)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"{path} is a corrupt {cls.name} checkpoint: {exc}") from exc
        return learner

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        """State beyond the Q tables that a variant must checkpoint (lenient temperatures)."""
        return {}

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_extra_arrays`."""


class HystereticQLearning(IndependentQLearning):
    """Independent learners that are optimistic about their teammates: a TD error below zero
    moves Q by ``beta`` (< ``alpha``) of itself, so a low reward caused by a partner's
    exploring action barely lowers a good action's value.
    """

    name = "hysteretic_q"
    config_class = HystereticQConfig
    config: HystereticQConfig

    def step_size(self, i: int, s: int, a: int, td_error: float) -> float:
        if td_error >= 0:
            return self.alpha
        return self.alpha * (self.config.beta / self.config.alpha)


class LenientQLearning(IndependentQLearning):
    """Independent learners that forgive: a negative TD error for agent ``i``'s (s, a) is
    ignored with probability ``1 - exp(-k * T[i, s, a])``, and every update of the pair
    cools its temperature ``T`` by ``temperature_decay``. Early on, while partners still
    explore, an action is valued by the best rewards it got; later the learner is ordinary
    Q-learning.
    """

    name = "lenient_q"
    config_class = LenientQConfig
    config: LenientQConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: LenientQConfig | None = None,
        seed: int | None = None,
        *,
        agents: Sequence[str],
        state_space: gym.Space | None = None,
    ) -> None:
        super().__init__(
            observation_space, action_space, config, seed, agents=agents, state_space=state_space
        )
        self.temperature = np.full_like(self.q, self.config.max_temperature)

    def leniency(self, i: int, s: int, a: int) -> float:
        """Probability that a negative TD error of agent ``i``'s (s, a) is ignored now."""
        return 1.0 - math.exp(-self.config.leniency_k * self.temperature[i, s, a])

    def step_size(self, i: int, s: int, a: int, td_error: float) -> float:
        forgive = td_error < 0 and self.rng.random() < self.leniency(i, s, a)
        self.temperature[i, s, a] *= self.config.temperature_decay
        return 0.0 if forgive else self.alpha

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {"temperature": self.temperature}

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        self.temperature[...] = arrays["temperature"]
