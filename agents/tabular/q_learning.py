"""Q-learning (Watkins 1989): off-policy TD control towards the greedy target."""

from __future__ import annotations

from dataclasses import dataclass

from agents.tabular.base import TDAgent, TDConfig


@dataclass(frozen=True)
class QLearningConfig(TDConfig):
    """Q-learning hyperparameters (those of every one-step TD agent)."""


class QLearning(TDAgent):
    """Learns Q* whatever the exploration does, since its target maximises over a'.

    That is why its greedy policy walks CliffWalking's cliff edge (the optimal -13 path)
    while SARSA's learned policy keeps a safety margin from the exploring moves.
    """

    name = "q_learning"
    config_class = QLearningConfig

    def td_target(self, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        """r + gamma * max_a' Q(s', a'); Dyna-Q's planning updates use this same target."""
        if terminated:
            return r
        # A Python max over the row beats numpy's per-call overhead for a handful of actions.
        return r + self._gamma * max(self.q[s2].tolist())
