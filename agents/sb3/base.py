"""Stable-Baselines3 algorithms behind palaestra's :class:`~agents.base.Agent` interface.

An :class:`SB3Agent` owns one SB3 model. The model is built in ``__init__`` on a stand-in
env that only has the spaces (:func:`~agents.sb3.vec_env.spaces_only_vec_env`), so SB3's
own checks (supported spaces, policy type) run before a training run writes anything and an
untrained agent can act. ``learn`` binds the real env (a Gymnasium vector env, wrapped as an
SB3 ``VecEnv``) and continues SB3's step count, so a loaded checkpoint resumes training.

Checkpoints are SB3's own zip (``model.save``), loadable with ``PPO.load`` etc. outside
palaestra, plus one ``palaestra.json`` member with the agent name, its config, seed and the
spaces (as JSON, the same description the torch agents use).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import gymnasium as gym
from gymnasium.vector import VectorEnv
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.utils import LinearSchedule

from agents.base import Agent, Callback
from agents.common.io import atomic_write
from agents.common.torch_utils import resolve_device, torch_threads
from agents.common.vector import as_vector_env
from agents.deep.base import space_from_json, space_to_json
from agents.sb3.callback import PalaestraCallback
from agents.sb3.vec_env import GymnasiumVecEnv, spaces_only_vec_env

FORMAT_VERSION = 1
META_MEMBER = "palaestra.json"  # the zip member palaestra adds to SB3's checkpoint

# SB3's NatureCNN (behind CnnPolicy) needs images of at least 36x36 pixels: its three
# convolutions (8/4, 4/2, 3/1) shrink anything smaller to nothing.
NATURE_CNN_MIN_SIZE = 36

Policy = Literal["auto", "MlpPolicy", "CnnPolicy", "MultiInputPolicy"]

AgentT = TypeVar("AgentT", bound="SB3Agent")


@dataclass(frozen=True)
class SB3Config:
    """Settings every SB3 agent has; the other fields are SB3 constructor arguments."""

    n_envs: int = 1
    """Envs stepped together: the trainer builds a vector env of this many copies (a vector
    env passed to ``learn`` must have this size; a single env is copied up to it)."""
    policy: Policy = "auto"
    """SB3 policy class. ``auto``: MultiInputPolicy for Dict observations, CnnPolicy for
    images of at least 36x36 pixels (uint8, 0..255), MlpPolicy (on the flattened
    observation, one-hot for Discrete) otherwise."""
    net_arch: tuple[int, ...] | None = None
    """Hidden layer widths of the policy (and value) MLP; None keeps SB3's default."""
    learning_rate: float = 3e-4
    """Adam (RMSprop for A2C) step size."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over ``learn``'s ``total_steps`` (the Zoo's
    ``lin_`` schedules)."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    device: str = "auto"
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    torch_threads: int | None = 1
    """Intra-op CPU threads torch uses while building, loading and training the model (None:
    torch's default). SB3's small MLPs on small batches lose more to waking threads than
    they gain, badly so on a busy machine; raise it for CNN policies."""

    def __post_init__(self) -> None:
        if self.net_arch is not None:
            object.__setattr__(self, "net_arch", tuple(int(w) for w in self.net_arch))
        checks = [
            ("n_envs", self.n_envs >= 1, ">= 1"),
            ("learning_rate", self.learning_rate > 0, "> 0"),
            ("gamma", 0.0 <= self.gamma <= 1.0, "in [0, 1]"),
            ("net_arch", all(w >= 1 for w in self.net_arch or ()), "positive widths"),
            ("torch_threads", self.torch_threads is None or self.torch_threads >= 1, ">= 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")


# Config fields that are palaestra's, not SB3 constructor arguments of the same name.
OWN_FIELDS = frozenset(
    {"n_envs", "policy", "net_arch", "anneal_lr", "anneal_clip_range", "device", "torch_threads"}
)
# SB3 arguments that take a schedule, with the boolean field that makes them linear.
ANNEALED = {"learning_rate": "anneal_lr", "clip_range": "anneal_clip_range"}


def algorithm_kwargs(config: SB3Config) -> dict[str, Any]:
    """The SB3 constructor arguments ``config`` describes (policy, env, device excluded).

    Every field outside :data:`OWN_FIELDS` passes through under its own name; annealed
    values become SB3 schedules of remaining progress (``lin_0.001`` in Zoo terms).
    """
    kwargs: dict[str, Any] = {}
    for f in fields(config):
        if f.name in OWN_FIELDS:
            continue
        value = getattr(config, f.name)
        flag = ANNEALED.get(f.name)
        if flag is not None and getattr(config, flag):
            value = LinearSchedule(start=value, end=0.0, end_fraction=1.0)
        kwargs[f.name] = value
    if config.net_arch is not None:
        kwargs["policy_kwargs"] = {"net_arch": list(config.net_arch)}
    return kwargs


def resolve_policy(policy: str, observation_space: gym.Space) -> str:
    """The SB3 policy name for ``policy`` (``"auto"`` chooses from the observation space)."""
    if policy != "auto":
        return policy
    if isinstance(observation_space, gym.spaces.Dict):
        return "MultiInputPolicy"
    if is_image_space(observation_space) and min(image_size(observation_space)) >= (
        NATURE_CNN_MIN_SIZE
    ):
        return "CnnPolicy"
    return "MlpPolicy"


def image_size(space: gym.spaces.Box) -> tuple[int, int]:
    """(height, width) of an image space, channels first or last."""
    shape = space.shape
    return tuple(shape[1:]) if is_image_space_channels_first(space) else tuple(shape[:2])


class SB3Agent(Agent):
    """A palaestra agent that is one SB3 model. Subclasses set ``algorithm`` (the SB3 class),
    ``name`` and ``config_class``."""

    algorithm: ClassVar[type[BaseAlgorithm]]
    checkpoint_suffix = ".zip"

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any = None,
        seed: int | None = None,
        *,
        model: BaseAlgorithm | None = None,
    ) -> None:
        """``model`` is for :meth:`load`; a new agent builds its own."""
        super().__init__(observation_space, action_space, config, seed)
        self.model = model if model is not None else self._build_model()
        self.num_steps = self.model.num_timesteps
        self._bound: gym.Env | VectorEnv | None = None  # the env learn() last trained on
        self._venv: GymnasiumVecEnv | None = None  # ... and its SB3 adapter

    def _build_model(self) -> BaseAlgorithm:
        """An SB3 model for the spaces; SB3's assertions become ValueErrors (bad config)."""
        stand_in = spaces_only_vec_env(
            self.observation_space, self.action_space, self.config.n_envs
        )
        try:
            with torch_threads(self.config.torch_threads):  # orthogonal init runs a QR each
                return self.algorithm(
                    resolve_policy(self.config.policy, self.observation_space),
                    stand_in,
                    seed=self.seed,
                    device=resolve_device(self.config.device),
                    verbose=0,
                    **algorithm_kwargs(self.config),
                )
        except AssertionError as e:
            raise ValueError(" ".join(str(e).split()) or "SB3 rejected the config") from None

    # ------------------------------------------------------------------ acting
    def act(self, obs: Any, deterministic: bool = True) -> Any:
        action, _ = self.model.predict(obs, deterministic=deterministic)
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(action)
        return action

    # ------------------------------------------------------------------ learning
    def learn(
        self, env: gym.Env | VectorEnv, total_steps: int, callback: Callback | None = None
    ) -> None:
        """Train until ``num_steps`` (all envs together) reaches ``total_steps``.

        SB3 collects whole rollouts (PPO/A2C: ``n_steps`` per env) or ``train_freq`` chunks
        (DQN), so it may stop up to one of them past ``total_steps``. Calling again with the
        same env continues its episodes (unless a callback stopped learning); a new env is
        reset, with the agent's seed only on a fresh agent's first call (a resumed run does
        not replay its first episodes).
        """
        venv = self._bind(env)
        remaining = total_steps - self.model.num_timesteps
        if remaining <= 0:
            return
        bridge = PalaestraCallback(self, callback if callback is not None else Callback(), venv)
        with torch_threads(self.config.torch_threads):
            self.model.learn(remaining, callback=bridge, reset_num_timesteps=False)
        self.num_steps = self.model.num_timesteps
        if bridge.stopped:
            # SB3 returns before it records the observation of the step it was stopped in,
            # so its next rollout would start from a stale one: bind (and reset) afresh.
            self._bound = self._venv = None

    def _bind(self, env: gym.Env | VectorEnv) -> GymnasiumVecEnv:
        """Make ``env`` the model's env (once per env object) and return its adapter."""
        if self._venv is not None and env is self._bound:
            return self._venv
        venv = GymnasiumVecEnv(as_vector_env(env, self.config.n_envs))
        for role, ours, theirs in (
            ("observation", self.observation_space, venv.observation_space),
            ("action", self.action_space, venv.action_space),
        ):
            if ours != theirs:
                raise ValueError(f"env {role} space {theirs} differs from the agent's {ours}")
        if venv.num_envs != self.model.n_envs:
            raise ValueError(
                f"env has {venv.num_envs} copies but the agent was built for "
                f"n_envs={self.model.n_envs}"
            )
        self.model.set_env(venv)
        if self.num_steps == 0 and self.seed is not None:
            self.model.env.seed(self.seed)  # used by the reset that starts learning
        self._bound, self._venv = env, venv
        return venv

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> Path:
        buffer = io.BytesIO()
        self.model.save(buffer)
        meta = {
            "format_version": FORMAT_VERSION,
            "agent": self.name,
            "config": asdict(self.config),
            "seed": self.seed,
            "observation_space": space_to_json(self.observation_space),
            "action_space": space_to_json(self.action_space),
        }
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr(META_MEMBER, json.dumps(meta))
        return atomic_write(path, lambda f: f.write(buffer.getbuffer()))

    @classmethod
    def load(cls: type[AgentT], path: str | Path, device: str | None = None) -> AgentT:
        """Rebuild a saved agent; ``device`` overrides the saved config's device."""
        path = Path(path)
        try:
            with zipfile.ZipFile(path) as archive:
                meta = json.loads(archive.read(META_MEMBER))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a palaestra SB3 checkpoint: {e}") from None
        if meta["agent"] != cls.name:
            raise ValueError(f"{path} holds a {meta['agent']!r} agent, not {cls.name!r}")
        values = dict(meta["config"])
        if device is not None:
            values["device"] = device
        config = cls.config_class(**values)
        with torch_threads(config.torch_threads):
            model = cls.algorithm.load(path, device=resolve_device(config.device))
        return cls(
            space_from_json(meta["observation_space"]),
            space_from_json(meta["action_space"]),
            config,
            seed=meta["seed"],
            model=model,
        )
