"""PPO for PettingZoo ParallelEnvs: independent PPO with parameter sharing (``ippo``) and
MAPPO with a centralised critic (``mappo``).

Both are single-agent PPO (:mod:`agents.deep.ppo`) on a batch whose rows are agents. Every
parallel env step gives one row per agent (and per env copy): the agent's observation,
flattened, with its one-hot id appended, so one shared network can still act differently
per agent (Terry et al. 2020, "Revisiting parameter sharing in multi-agent deep RL"). The
rollout buffer, GAE, clipped surrogate, value loss, optimizer, NaN guard and checkpoints are
PPO's own; what is written here is the collection loop over ParallelEnvs and the row layout.

- :class:`IPPO` (de Witt et al. 2020): one actor-critic over (observation, id); each agent's
  critic sees only what that agent sees.
- :class:`MAPPO` (Yu et al. 2022): the same decentralised actor; the critic reads the env's
  global ``state()`` with the agent id appended (MAPPO's agent-specific global state). The
  critic is needed only to learn: acting reads the observations alone.

An agent that terminates or is truncated before its team leaves ``env.agents`` (PettingZoo's
convention); its rows are marked dead (:attr:`RolloutBuffer.live`) and left out of the loss
until its env starts a new episode. Truncation bootstraps from the value of the agent's final
observation (and, for MAPPO, the final global state); termination does not. Callbacks get
the team return of each episode (the mean over agents of their undiscounted returns) and
its success (every agent's last ``infos[agent]["is_success"]``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from pettingzoo import ParallelEnv

from agents.base import Callback
from agents.common.masking import MASK_KEY
from agents.common.networks import make_encoder, mlp
from agents.common.rollout import RolloutBuffer
from agents.common.torch_utils import as_tensor, torch_threads
from agents.deep.base import space_from_json, space_to_json
from agents.deep.policies import ActorCritic
from agents.deep.ppo import PPO, PPOConfig
from agents.multiagent.base import MultiAgentLearner, TeamEpisode

OBS_KEY = "obs"
"""Key of the actor's input rows (observation + agent id) in MAPPO's batches."""
STATE_KEY = "state"
"""Key of the critic's input rows (global state + agent id) in MAPPO's batches."""


# ---------------------------------------------------------------------- configs


@dataclass(frozen=True)
class IPPOConfig(PPOConfig):
    """Multi-agent PPO settings. The defaults suit small cooperative gridworlds: measured on
    ``palaestra/CoopCover-v0`` (``benchmarks/coop_cover.py``), MAPPO's sampled policy covers
    every target in 99.5 %, 92 % and 80.5 % of 200 test episodes after 3M steps (seeds 0-2),
    while RL Zoo-like small rollouts with 10 epochs (8 x 64 steps, minibatch 512) had not
    started to succeed by 500k steps. The PPO fields mean what they mean in
    :class:`~agents.deep.ppo.PPOConfig`, counted in agent rows where they count transitions."""

    n_envs: int = 16
    """Copies of the env stepped together when ``learn`` gets one ParallelEnv: that env and
    ``n_envs - 1`` deep copies of it (each reset with its own seed); a list of envs passed to
    ``learn`` keeps its own size. One forward pass acts for every agent of every copy."""
    n_steps: int = 128
    """Parallel steps per env copy per rollout; a rollout holds ``n_envs * n_steps`` rows per
    agent (dead agents' rows are left out of the update). Large rollouts average out the
    noise the other agents' exploration adds to each agent's advantages."""
    batch_size: int = 1024
    """Minibatch size in agent rows."""
    n_epochs: int = 5
    """Passes over each rollout (MAPPO uses 5-15; 5 halves the update cost of 10)."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    gae_lambda: float = 0.95
    """GAE's lambda in [0, 1] (MAPPO's value)."""
    learning_rate: float = 1e-3
    """Adam step size at the start of training."""
    anneal_lr: bool = True
    """Decay the step size linearly to 0 over ``learn``'s ``total_steps``."""
    clip_range: float = 0.2
    """How far the probability ratio may move from 1 before the surrogate stops rewarding it."""
    anneal_clip_range: bool = False
    """Decay the clip range linearly to 0 over ``total_steps`` (MAPPO keeps it constant)."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus: keeps several agents exploring until they coordinate
    (MAPPO's value)."""
    normalize_advantage: bool = True
    """Standardise advantages per minibatch."""


@dataclass(frozen=True)
class MAPPOConfig(IPPOConfig):
    """MAPPO settings: those of :class:`IPPOConfig` (the algorithms differ only in what the
    critic reads)."""


# ---------------------------------------------------------------------- rows and networks


def mask_size(observation_space: gym.Space) -> int | None:
    """The number of actions an observation's ``action_mask`` covers; None: no mask."""
    if isinstance(observation_space, gym.spaces.Dict) and MASK_KEY in observation_space.spaces:
        return gym.spaces.flatdim(observation_space[MASK_KEY])
    return None


def row_space(size: int) -> gym.spaces.Box:
    """The flat float32 Box of one batch row of ``size`` features."""
    return gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)


class AgentRows:
    """A team's observations as batch rows, preallocated for ``n_envs`` env copies.

    Row ``e * n + i`` is agent ``i`` (in ``agents`` order) of copy ``e``: its observation
    flattened (``gymnasium.spaces.flatten``: one-hot for ``Discrete``) followed by the
    one-hot of ``i``; with a ``state_space``, a second row of the same shape holds the global
    state followed by the same id. Agents that are not live get zero features (the id stays)
    and ``live`` False. Observations that carry an ``action_mask`` (a Dict key, as
    GraphRouting's) also fill :attr:`masks`, one boolean row per agent row; rows of agents
    that are not live allow every action (they are left out of the loss, and a row must
    allow something to be sampled).
    """

    def __init__(
        self,
        agents: Sequence[str],
        observation_space: gym.Space,
        state_space: gym.Space | None,
        n_envs: int,
    ) -> None:
        self.agents = list(agents)
        self.index = {agent: i for i, agent in enumerate(self.agents)}
        self.observation_space, self.state_space = observation_space, state_space
        n = len(self.agents)
        ids = np.tile(np.eye(n, dtype=np.float32), (n_envs, 1))
        self.obs_dim = gym.spaces.flatdim(observation_space)
        self.obs = np.concatenate([np.zeros((n_envs * n, self.obs_dim), np.float32), ids], 1)
        self.state: np.ndarray | None = None
        if state_space is not None:
            self.state_dim = gym.spaces.flatdim(state_space)
            zeros = np.zeros((n_envs * n, self.state_dim), np.float32)
            self.state = np.concatenate([zeros, ids], 1)
        self.live = np.zeros(n_envs * n, dtype=bool)
        self.masks: np.ndarray | None = None
        n_actions = mask_size(observation_space)
        if n_actions is not None:
            self.masks = np.ones((n_envs * n, n_actions), dtype=bool)

    @staticmethod
    def spaces(
        n_agents: int, observation_space: gym.Space, state_space: gym.Space | None
    ) -> tuple[gym.spaces.Box, gym.spaces.Box | None]:
        """(actor row space, critic row space or None) for this layout."""
        actor = row_space(gym.spaces.flatdim(observation_space) + n_agents)
        if state_space is None:
            return actor, None
        return actor, row_space(gym.spaces.flatdim(state_space) + n_agents)

    def write(
        self,
        e: int,
        observations: Mapping[str, Any],
        live: Iterable[str],
        state: np.ndarray | None = None,
    ) -> None:
        """Copy ``e``'s rows: the observations of the ``live`` agents, zeros for the others,
        and ``state`` (``env.state()``) into every agent's critic row."""
        n = len(self.agents)
        rows = slice(e * n, (e + 1) * n)
        self.obs[rows, : self.obs_dim] = 0.0
        self.live[rows] = False
        if self.masks is not None:
            self.masks[rows] = True
        for agent in live:
            r = e * n + self.index[agent]
            observation = observations[agent]
            self.obs[r, : self.obs_dim] = gym.spaces.flatten(self.observation_space, observation)
            self.live[r] = True
            if self.masks is not None:
                self.masks[r] = observation[MASK_KEY]
        if self.state is not None:
            assert state is not None, "a centralised critic needs env.state()"
            self.state[rows, : self.state_dim] = gym.spaces.flatten(self.state_space, state)

    def batch(self) -> Any:
        """The network input: the actor rows, or ``{OBS_KEY: ..., STATE_KEY: ...}``."""
        if self.state is None:
            return self.obs
        return {OBS_KEY: self.obs, STATE_KEY: self.state}


class CentralCriticActorCritic(ActorCritic):
    """:class:`~agents.deep.policies.ActorCritic` whose critic reads other rows than the actor.

    Inputs are dicts: the actor reads ``obs[OBS_KEY]``, the critic ``obs[STATE_KEY]``; both
    are MLPs of the same widths (flat rows, see :class:`AgentRows`). Sampling, log-probabilities
    and entropies are ActorCritic's.
    """

    def __init__(
        self,
        actor_space: gym.spaces.Box,
        critic_space: gym.spaces.Box,
        action_space: gym.Space,
        hidden: Sequence[int] = (64, 64),
    ) -> None:
        super().__init__(actor_space, action_space, hidden, fused=False)
        # The base class sized its critic for the actor's input; this one reads the state.
        self.critic_encoder = make_encoder(critic_space)
        self.critic = mlp(self.critic_encoder.out_dim, tuple(hidden), 1, out_gain=1.0)

    def value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.critic(self.critic_encoder(obs[STATE_KEY])).squeeze(-1)

    def actor_output(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.actor(self.actor_encoder(obs[OBS_KEY]))

    def heads(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor_output(obs), self.value(obs)


# ---------------------------------------------------------------------- learners


@dataclass
class _Team:
    """One env copy being stepped: its current observations and episode bookkeeping."""

    env: ParallelEnv
    observations: dict[str, Any]
    episode: TeamEpisode

    @classmethod
    def start(cls, env: ParallelEnv, seed: int | None) -> _Team:
        team = cls(env, {}, TeamEpisode())
        team.reset(seed)
        return team

    def reset(self, seed: int | None = None) -> None:
        self.observations, _ = self.env.reset(seed=seed)
        self.episode.start(self.env.agents)


class IPPO(MultiAgentLearner, PPO):
    """Independent PPO with parameter sharing: one actor-critic for all agents, on each
    agent's observation with its one-hot id appended."""

    name = "ippo"
    config_class = IPPOConfig
    config: IPPOConfig
    centralised_critic: ClassVar[bool] = False
    """Whether the critic reads ``env.state()`` (MAPPO) instead of the observation."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: IPPOConfig | None = None,
        seed: int | None = None,
        *,
        agents: Sequence[str],
        state_space: gym.Space | None = None,
    ) -> None:
        if self.centralised_critic and state_space is None:
            raise ValueError(
                f"{type(self).__name__}'s centralised critic needs the env's state_space "
                "(and env.state()); build it with for_env(env) or pass state_space"
            )
        # PPO's constructor builds the network (build_policy), which needs the row sizes.
        critic_state = state_space if self.centralised_critic else None
        self.actor_space, self.critic_space = AgentRows.spaces(
            len(agents), observation_space, critic_state
        )
        super().__init__(
            observation_space, action_space, config, seed, agents=agents, state_space=state_space
        )
        self._critic_state = critic_state
        self._act_rows = AgentRows(self.agents, observation_space, None, 1)
        self._value_rows = AgentRows(self.agents, observation_space, critic_state, 1)

    def build_policy(self) -> ActorCritic:
        return ActorCritic(self.actor_space, self.action_space, self.config.hidden, fused=True)

    def buffer_space(self) -> gym.Space:
        """What one rollout row stores (the network's input)."""
        return self.actor_space

    def actor_input(self, obs: torch.Tensor) -> Any:
        """The actor's network input for a tensor of actor rows."""
        return obs

    # ------------------------------------------------------------------ checkpoints
    def init_kwargs(self) -> dict[str, Any]:
        state = None if self.state_space is None else space_to_json(self.state_space)
        return {"agents": self.agents, "state_space": state}

    @classmethod
    def init_kwargs_from_json(cls, saved: dict[str, Any]) -> dict[str, Any]:
        state = saved["state_space"]
        return {
            "agents": saved["agents"],
            "state_space": None if state is None else space_from_json(state),
        }

    # ------------------------------------------------------------------ acting
    def act(self, observations: dict[str, Any], deterministic: bool = True) -> dict[str, Any]:
        """One action per agent in ``observations`` (the live agents), from the shared actor."""
        self._check_agents(observations)
        rows = self._act_rows
        rows.write(0, observations, observations)
        live = np.flatnonzero(rows.live)
        obs = self.actor_input(as_tensor(rows.obs[live], self.device))
        mask = None if rows.masks is None else as_tensor(rows.masks[live], self.device)
        with torch.no_grad(), torch_threads(self._act_threads):
            out = self.policy.actor_output(obs)
            actions, _ = self.policy.sample(out, mask, deterministic, self.generator)
            if self.policy.continuous:
                actions = torch.clamp(actions, self._low, self._high)
        actions = actions.cpu().numpy()
        return {self.agents[i]: self._env_action(a) for i, a in zip(live, actions, strict=True)}

    def values(
        self, observations: dict[str, Any], state: np.ndarray | None = None
    ) -> dict[str, float]:
        """The critic's value for each agent in ``observations``; MAPPO's critic reads
        ``state`` (``env.state()``) instead of the observations."""
        self._check_agents(observations)
        if self._critic_state is not None and state is None:
            raise ValueError(f"{type(self).__name__}'s critic needs the global state")
        rows = self._value_rows
        rows.write(0, observations, observations, state)
        live = np.flatnonzero(rows.live)
        with torch.no_grad(), torch_threads(self._act_threads):
            values = self.policy.value(as_tensor(rows.batch(), self.device))
        return {self.agents[i]: float(values[i]) for i in live}

    def _check_agents(self, observations: Mapping[str, Any]) -> None:
        unknown = [agent for agent in observations if agent not in self._act_rows.index]
        if unknown:
            raise ValueError(f"unknown agent(s) {unknown}; this learner's agents: {self.agents}")

    def _env_action(self, action: np.ndarray) -> Any:
        return int(action) if self.n_actions is not None else action

    # ------------------------------------------------------------------ learning
    def learn(
        self,
        env: ParallelEnv | Sequence[ParallelEnv],
        total_steps: int,
        callback: Callback | None = None,
    ) -> None:
        """Train until ``num_steps`` (parallel steps, all env copies together) reaches
        ``total_steps``.

        One ParallelEnv becomes ``config.n_envs`` copies (the env passed in is the first;
        the others are deep copies, closed afterwards); a list of envs is used as it is.
        Every call starts new episodes. On the first call of a fresh agent with a seed, env
        ``e`` is reset with ``seed + e``; afterwards the first env continues its own random
        stream and the copies made here get seeds drawn from the agent's generator. As in
        PPO, the last rollout is completed even if it passes ``total_steps``; a callback
        returning False stops at once and the partial rollout is dropped.
        """
        if self.num_steps >= total_steps:
            return
        callback = callback if callback is not None else Callback()
        envs, copies = self._env_copies(env)
        try:
            for e in envs:
                self.check_env(e)
            with torch_threads(self.config.torch_threads if self.device.type == "cpu" else None):
                self._learn_teams(envs, len(copies), total_steps, callback)
        finally:
            for made in copies:
                made.close()

    def check_env(self, env: ParallelEnv) -> None:
        super().check_env(env)
        if self._critic_state is not None and env.state_space != self._critic_state:
            raise ValueError(
                f"env state space {env.state_space} differs from the learner's {self._critic_state}"
            )

    def _env_copies(
        self, env: ParallelEnv | Sequence[ParallelEnv]
    ) -> tuple[list[ParallelEnv], list[ParallelEnv]]:
        """(every env to step, the copies made here)."""
        if isinstance(env, Sequence):
            if not env:
                raise ValueError("learn got an empty list of envs")
            return list(env), []
        copies = [copy.deepcopy(env) for _ in range(self.config.n_envs - 1)]
        return [env, *copies], copies

    def _first_seeds(self, n_envs: int, n_copies: int) -> list[int | None]:
        """The seed of each env's first reset in this ``learn`` call (see :meth:`learn`)."""
        if self.num_steps == 0 and self.seed is not None:
            return [self.seed + e for e in range(n_envs)]
        # Copies made here share the first env's generator: reseed them apart.
        drawn = [int(s) for s in self.rng.integers(2**31, size=n_copies)]
        return [None] * (n_envs - n_copies) + drawn

    def _learn_teams(
        self, envs: list[ParallelEnv], n_copies: int, total_steps: int, callback: Callback
    ) -> None:
        cfg = self.config
        self.total_steps = total_steps  # the end point of this call's schedules
        lr_at = cfg.lr_schedule(total_steps)
        seeds = self._first_seeds(len(envs), n_copies)
        teams = [_Team.start(env, seed) for env, seed in zip(envs, seeds, strict=True)]
        rows = AgentRows(self.agents, self.observation_space, self._critic_state, len(envs))
        final_rows = AgentRows(self.agents, self.observation_space, self._critic_state, len(envs))
        buffer = RolloutBuffer(
            self.buffer_space(),
            self.action_space,
            cfg.n_steps,
            len(rows.live),
            self.device,
            n_actions=None if rows.masks is None else rows.masks.shape[1],
            track_live=True,
        )
        while self.num_steps < total_steps:
            self.rollout_start = self.num_steps
            if not self._collect_teams(teams, rows, final_rows, buffer, callback):
                return
            self._observe(teams, rows)
            with torch.inference_mode():
                last_values = self.policy.value(as_tensor(rows.batch(), self.device))
            self.learn_from_rollout(buffer, last_values, lr_at(self.rollout_start), callback)

    def _observe(self, teams: list[_Team], rows: AgentRows) -> None:
        """Write every team's current observations (and state) into ``rows``."""
        for e, team in enumerate(teams):
            state = team.env.state() if self._critic_state is not None else None
            rows.write(e, team.observations, team.env.agents, state)

    def _collect_teams(
        self,
        teams: list[_Team],
        rows: AgentRows,
        final_rows: AgentRows,
        buffer: RolloutBuffer,
        callback: Callback,
    ) -> bool:
        """Fill ``buffer`` with ``n_steps`` parallel steps of every team; False: a callback
        stopped training."""
        policy, generator = self.policy, self.generator
        n = len(self.agents)
        index = rows.index
        for t in range(buffer.n_steps):
            self._observe(teams, rows)
            obs_t = buffer.store_obs(t, rows.batch())
            buffer.store_live(t, rows.live)
            mask_t = None
            if buffer.masks is not None:
                mask_t = buffer.masks[t]
                mask_t.copy_(torch.from_numpy(rows.masks))
            with torch.inference_mode():
                out, values = policy.heads(obs_t)
                actions, log_probs = policy.sample(out, mask_t, generator=generator)
            buffer.store_action(t, actions, log_probs, values)
            if policy.continuous:
                actions = torch.clamp(actions, self._low, self._high)
            actions = actions.cpu().numpy()
            rewards = np.zeros(len(rows.live), dtype=np.float32)
            terminated = np.zeros(len(rows.live), dtype=bool)
            truncated = np.zeros(len(rows.live), dtype=bool)
            step = self.num_steps + len(teams)
            finished = []
            for e, team in enumerate(teams):
                env = team.env
                joint = {a: self._env_action(actions[e * n + index[a]]) for a in env.agents}
                observations, rew, term, trunc, infos = env.step(joint)
                for agent, r in rew.items():
                    rewards[e * n + index[agent]] = r
                for agent in joint:
                    terminated[e * n + index[agent]] = term.get(agent, False)
                    truncated[e * n + index[agent]] = trunc.get(agent, False)
                cut = [a for a in joint if trunc.get(a, False) and not term.get(a, False)]
                if cut:  # bootstrap from their final observations (and the final state)
                    state = env.state() if self._critic_state is not None else None
                    final_rows.write(e, observations, cut, state)
                stats = team.episode.record(rew, term, trunc, infos, step)
                if stats is not None:
                    finished.append(stats)
                if env.agents:
                    team.observations = observations
                else:
                    team.reset()
            buffer.store_outcome(t, rewards, terminated, truncated)
            if truncated.any():
                with torch.inference_mode():
                    final = policy.value(as_tensor(final_rows.batch(), self.device))
                buffer.final_values[t] = final
            self.num_steps = step
            for stats in finished:
                callback.on_episode_end(self, stats)
            if not callback.on_step(self, self.num_steps):
                return False
        return True


class MAPPO(IPPO):
    """MAPPO: the shared decentralised actor of :class:`IPPO`, and a shared centralised critic
    over ``env.state()`` with the agent id appended, used only for learning."""

    name = "mappo"
    config_class = MAPPOConfig
    config: MAPPOConfig
    centralised_critic = True

    def build_policy(self) -> ActorCritic:
        assert self.critic_space is not None
        return CentralCriticActorCritic(
            self.actor_space, self.critic_space, self.action_space, self.config.hidden
        )

    def buffer_space(self) -> gym.Space:
        return gym.spaces.Dict({OBS_KEY: self.actor_space, STATE_KEY: self.critic_space})

    def actor_input(self, obs: torch.Tensor) -> Any:
        return {OBS_KEY: obs}


__all__ = [
    "IPPO",
    "MAPPO",
    "AgentRows",
    "CentralCriticActorCritic",
    "IPPOConfig",
    "MAPPOConfig",
]
