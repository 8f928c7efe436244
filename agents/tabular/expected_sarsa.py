"""Expected SARSA (van Seijen et al. 2009): SARSA with the next action averaged out."""

from __future__ import annotations

from dataclasses import dataclass

from agents.tabular.base import TDAgent, TDConfig, epsilon_greedy_values


@dataclass(frozen=True)
class ExpectedSarsaConfig(TDConfig):
    """Expected SARSA hyperparameters (those of every one-step TD agent)."""


class ExpectedSarsa(TDAgent):
    """Bootstraps from E[Q(s', A')] under the current epsilon-greedy policy.

    Averaging removes the variance SARSA gets from sampling A', so it tolerates larger
    step sizes; with epsilon = 0 it is exactly Q-learning.
    """

    name = "expected_sarsa"
    config_class = ExpectedSarsaConfig

    def td_target(self, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        if terminated:
            return r
        return r + self._gamma * float(epsilon_greedy_values(self.q[s2], self.epsilon))
