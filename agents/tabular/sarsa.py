"""SARSA (Rummery & Niranjan 1994): on-policy TD control."""

from __future__ import annotations

from dataclasses import dataclass

from agents.tabular.base import TDAgent, TDConfig


@dataclass(frozen=True)
class SarsaConfig(TDConfig):
    """SARSA hyperparameters (those of every one-step TD agent)."""


class Sarsa(TDAgent):
    """Bootstraps from the action it will actually take next, exploration included.

    It therefore learns the value of the epsilon-greedy policy it follows, and prefers
    routes where an exploratory step is cheap; as epsilon decays, that policy approaches
    the greedy optimum.
    """

    name = "sarsa"
    config_class = SarsaConfig
    on_policy = True

    def td_target(self, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        if terminated:
            return r
        assert a2 is not None, "on-policy loop chooses a2 for every non-terminal transition"
        return r + self._gamma * self.q[s2, a2]
