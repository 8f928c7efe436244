"""SB3's callback hooks translated into palaestra's :class:`~agents.base.Callback`.

SB3 calls ``on_step`` once per vector step after adding ``n_envs`` to ``num_timesteps``,
which is exactly palaestra's ``on_step(agent, num_steps)``. Finished episodes come from the
env adapter's own bookkeeping (float64 returns, ``is_success`` from the ending step's info),
the same :class:`~agents.common.vector.EpisodeTracker` palaestra's deep learners use, so an
SB3 run's ``metrics.csv`` means what a palaestra learner's does. Update diagnostics are the
``train/*`` values SB3's logger holds after each training phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stable_baselines3.common.callbacks import BaseCallback

from agents.base import Callback

if TYPE_CHECKING:
    from agents.sb3.base import SB3Agent
    from agents.sb3.vec_env import GymnasiumVecEnv

TRAIN_PREFIX = "train/"


class PalaestraCallback(BaseCallback):
    """Reports SB3's progress on ``venv`` to a palaestra ``callback``; False from it stops SB3."""

    def __init__(self, agent: SB3Agent, callback: Callback, venv: GymnasiumVecEnv) -> None:
        super().__init__()
        self.agent = agent
        self.palaestra = callback
        self.venv = venv
        self.stopped = False  # the palaestra callback ended learning in the middle of a step

    def _on_step(self) -> bool:
        num_steps = self.model.num_timesteps
        self.agent.num_steps = num_steps  # a checkpoint written from a callback sees it
        assert self.venv.last_step is not None  # SB3 calls on_step right after env.step
        rewards, dones, infos = self.venv.last_step
        self.venv.episodes.step(rewards, dones, infos, num_steps, self.agent, self.palaestra)
        self.stopped = not self.palaestra.on_step(self.agent, num_steps)
        return not self.stopped

    def _on_rollout_start(self) -> None:
        # SB3 trains between two rollouts; its logger still holds that phase's train/* values
        # here (PPO/A2C dump their logs before training, DQN only at episode ends).
        self._report_update()

    def _on_training_end(self) -> None:
        self._report_update()  # the last training phase has no rollout after it

    def _report_update(self) -> None:
        values = self.model.logger.name_to_value
        metrics = {
            key.removeprefix(TRAIN_PREFIX): float(value)
            for key, value in values.items()
            if key.startswith(TRAIN_PREFIX)
        }
        if metrics:
            self.palaestra.on_update(self.agent, metrics)
