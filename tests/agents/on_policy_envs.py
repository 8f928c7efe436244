"""Tiny envs with known optima for the on-policy learner tests."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

N_STATES = 4


class IdentityEnv(gym.Env):
    """One-step episodes: observe a one-hot state, reward 1 for the action equal to it.

    The optimal return is exactly 1 per episode; a random policy gets 1/4.
    """

    def __init__(self, nan_reward_at: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, (N_STATES,), np.float32)
        self.action_space = gym.spaces.Discrete(N_STATES)
        self.nan_reward_at = nan_reward_at
        self.steps = 0
        self.state = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(N_STATES, dtype=np.float32)
        obs[self.state] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = int(self.np_random.integers(N_STATES))
        return self._obs(), {}

    def step(self, action: Any):
        self.steps += 1
        reward = float(int(action) == self.state)
        if self.nan_reward_at is not None and self.steps >= self.nan_reward_at:
            reward = float("nan")
        return self._obs(), reward, True, False, {}


class MaskedEnv(gym.Env):
    """One-step episodes with a random set of allowed actions; the state is one of them.

    ``mask_in="obs"`` puts the mask in a Dict observation, ``"info"`` in ``info``. Every
    disallowed action taken is counted in :attr:`violations`.
    """

    def __init__(self, mask_in: str = "obs") -> None:
        self.mask_in = mask_in
        box = gym.spaces.Box(0.0, 1.0, (N_STATES,), np.float32)
        if mask_in == "obs":
            self.observation_space = gym.spaces.Dict(
                {"obs": box, "action_mask": gym.spaces.MultiBinary(N_STATES)}
            )
        else:
            self.observation_space = box
        self.action_space = gym.spaces.Discrete(N_STATES)
        self.violations = 0
        self.steps = 0

    def _draw(self) -> tuple[Any, dict[str, Any]]:
        self.mask = self.np_random.random(N_STATES) < 0.5
        self.mask[self.np_random.integers(N_STATES)] = True
        self.state = int(self.np_random.choice(np.flatnonzero(self.mask)))
        onehot = np.zeros(N_STATES, dtype=np.float32)
        onehot[self.state] = 1.0
        mask = self.mask.astype(np.int8)
        if self.mask_in == "obs":
            return {"obs": onehot, "action_mask": mask}, {}
        return onehot, {"action_mask": mask}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return self._draw()

    def step(self, action: Any):
        self.steps += 1
        if not self.mask[int(action)]:
            self.violations += 1
        reward = float(int(action) == self.state)
        obs, info = self._draw()
        return obs, reward, True, False, info


def vector(make: Any, n: int = 8) -> SyncVectorEnv:
    """``n`` copies of ``make()`` in a SAME_STEP sync vector env."""
    return SyncVectorEnv([make] * n, autoreset_mode=AutoresetMode.SAME_STEP)


class TensorIdentityVecEnv(VectorEnv):
    """A batched identity task that lives in torch: tensor observations, tensor actions.

    An episode terminates on the right action and is truncated after ``limit`` wrong ones,
    so both episode ends (and the truncation bootstrap from ``info["final_obs"]``) occur.
    Every observation tensor handed out is remembered (:attr:`handed_out`), so a test can
    prove no observation ever went through numpy.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 8, device: str = "cpu", limit: int = 2) -> None:
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.limit = limit
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (N_STATES,), np.float32)
        self.single_action_space = gym.spaces.Discrete(N_STATES)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.generator = torch.Generator(device=self.device)
        self.handed_out: set[int] = set()  # data pointers of the observations handed out
        self._keep: list[torch.Tensor] = []  # ... kept alive so no pointer is reused
        self.state = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.wrong = torch.zeros(num_envs, dtype=torch.int64, device=self.device)

    def _obs(self) -> torch.Tensor:
        obs = torch.nn.functional.one_hot(self.state, N_STATES).float()
        self.handed_out.add(obs.data_ptr())
        self._keep.append(obs)
        return obs

    def _redraw(self, which: torch.Tensor) -> None:
        fresh = torch.randint(
            N_STATES, (self.num_envs,), generator=self.generator, device=self.device
        )
        self.state = torch.where(which, fresh, self.state)
        self.wrong = torch.where(which, 0, self.wrong)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.generator.manual_seed(seed)
        self._redraw(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self._obs(), {}

    def step(self, actions: torch.Tensor):
        assert isinstance(actions, torch.Tensor), "a torch env takes tensor actions"
        correct = actions.to(self.device) == self.state
        reward = correct.float()
        self.wrong += (~correct).long()
        terminated = correct
        truncated = ~correct & (self.wrong >= self.limit)
        done = terminated | truncated
        final = self._obs()
        self._redraw(done)
        info = {"final_obs": final, "_final_obs": done} if bool(done.any()) else {}
        return self._obs(), reward, terminated, truncated, info


class TargetEnv(gym.Env):
    """One-step continuous control: observe a target in [-1, 1], act on it; the reward is
    minus the squared miss. The optimal deterministic action is the target itself."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.target = np.zeros(1, dtype=np.float32)
        self.out_of_bounds = 0  # actions outside the action space that reached the env

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.target = self.np_random.uniform(-1.0, 1.0, 1).astype(np.float32)
        return self.target.copy(), {}

    def step(self, action: Any):
        action = np.asarray(action, dtype=np.float32)
        self.out_of_bounds += int(not self.action_space.contains(action))
        reward = -float(((action - self.target) ** 2).sum())
        return self.target.copy(), reward, True, False, {}
