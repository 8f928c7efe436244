"""SB3's ``VecEnv`` interface over a Gymnasium vector env, and a stand-in env for building.

palaestra hands every vectorised learner one kind of env: a Gymnasium ``VectorEnv`` with
``SAME_STEP`` autoreset (``training.environments.make_vector_env``). SB3 steps its own
``VecEnv`` API instead. The two autoreset conventions are the same one (the step that ends
an episode returns the next episode's first observation and keeps the last one aside), so
:class:`GymnasiumVecEnv` translates without loss: ``info["final_obs"]`` becomes SB3's
``terminal_observation``, the ending step's ``final_info`` becomes that env's info, and
"truncated and not terminated" becomes ``TimeLimit.truncated`` (which SB3's learners use to
bootstrap from the value of the last observation).

Wrapping the trainer's env, rather than having SB3 build a ``DummyVecEnv`` from env
factories, keeps one ``Agent.learn(env, ...)`` signature for every learner, works for sync
and async Gymnasium vector envs alike, and steps exactly the envs the trainer made and closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from agents.common.vector import EpisodeTracker


def env_info(infos: dict[str, Any], index: int) -> dict[str, Any]:
    """Env ``index``'s own info out of a Gymnasium vector info (arrays with ``_key`` masks).

    Keys the env did not report this step (mask False) are left out; nested dicts such as
    ``final_info`` are unbatched the same way.
    """
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}")
        if mask is not None and not mask[index]:
            continue
        out[key] = env_info(value, index) if isinstance(value, dict) else value[index]
    return out


class GymnasiumVecEnv(VecEnv):
    """A Gymnasium ``SAME_STEP`` vector env seen through SB3's ``VecEnv`` API.

    Besides translating, it keeps what palaestra's callbacks need and SB3 does not pass on:
    ``last_step`` (the raw rewards, dones and Gymnasium info of the latest step) and
    ``episodes``, the running return and length of every env's current episode.
    """

    def __init__(self, venv: VectorEnv) -> None:
        self.venv = venv  # before VecEnv.__init__, which reads render_mode through get_attr
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self.actions: np.ndarray | None = None
        self.episodes = EpisodeTracker(self.num_envs)
        self.last_step: tuple[np.ndarray, np.ndarray, dict[str, Any]] | None = None

    def reset(self) -> Any:
        obs, infos = self.venv.reset(seed=list(self._seeds), options=self._shared_options())
        self.reset_infos = [env_info(infos, i) for i in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        self.episodes = EpisodeTracker(self.num_envs)  # every env starts a new episode
        return obs

    def _shared_options(self) -> dict[str, Any] | None:
        """The one ``options`` dict a Gymnasium vector reset takes (SB3 keeps one per env)."""
        given = [o for o in self._options if o]
        if not given:
            return None
        if any(o != given[0] for o in given):
            raise ValueError("a Gymnasium vector env resets every env with the same options")
        return given[0]

    def step_async(self, actions: np.ndarray) -> None:
        self.actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, infos = self.venv.step(self.actions)
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        dones = terminated | truncated
        per_env = []
        for i in range(self.num_envs):
            info = env_info(infos, i)
            if dones[i]:
                final_obs = info.pop("final_obs")
                final_info = info.pop("final_info", {})
                self.reset_infos[i] = info  # what is left came from the autoreset
                info = {
                    **final_info,
                    "terminal_observation": final_obs,
                    "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                }
            per_env.append(info)
        rewards = np.asarray(rewards)
        self.last_step = (rewards, dones, infos)
        # float32 as DummyVecEnv gives; palaestra's episode returns use the raw rewards.
        return obs, rewards.astype(np.float32), dones, per_env

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        values = self.venv.get_attr(attr_name)
        return [values[i] for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        targets = set(self._get_indices(indices))
        if len(targets) == self.num_envs:
            self.venv.set_attr(attr_name, value)
            return
        values = list(self.venv.get_attr(attr_name))
        self.venv.set_attr(attr_name, [value if i in targets else v for i, v in enumerate(values)])

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        if len(self._get_indices(indices)) != self.num_envs:
            raise NotImplementedError("a Gymnasium vector env calls a method on every env")
        return list(self.venv.call(method_name, *method_args, **method_kwargs))

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        from stable_baselines3.common.env_util import is_wrapped

        envs: Sequence[gym.Env] | None = getattr(self.venv, "envs", None)  # sync envs only
        return [
            envs is not None and is_wrapped(envs[i], wrapper_class)
            for i in self._get_indices(indices)
        ]


class SpacesOnlyEnv(gym.Env):
    """An env with spaces and nothing else, which SB3 builds a model on before any real env.

    SB3 checks the spaces and sets up its policy, buffers and image transposition when a
    model is constructed with an env; building on this stand-in lets a palaestra agent do
    all of that in ``__init__`` (so an unsupported space fails before a run starts, and an
    untrained agent can act) and bind the real env in ``learn``.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        raise RuntimeError("SpacesOnlyEnv has no dynamics: learn() binds the real env first")

    def step(self, action: Any) -> Any:
        raise RuntimeError("SpacesOnlyEnv has no dynamics: learn() binds the real env first")


def spaces_only_vec_env(
    observation_space: gym.Space, action_space: gym.Space, n_envs: int
) -> DummyVecEnv:
    """``n_envs`` :class:`SpacesOnlyEnv` as the SB3 ``VecEnv`` a model is first built on."""
    return DummyVecEnv(
        [lambda: SpacesOnlyEnv(observation_space, action_space) for _ in range(n_envs)]
    )
