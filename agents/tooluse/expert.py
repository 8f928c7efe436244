"""The scripted expert of the tool-use envs: it plays the generator's own solution plan.

It is the upper bound the learners are measured against and the source of the
demonstrations ``bc_ppo`` clones (``agents.deep.bc_ppo.record_demonstrations`` asks the env
the same way). It reads the plan from the env it is bound to, so it is a policy for that env
(``act`` ignores the observation), not a learner: there is nothing to train or save.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agents.deep.bc_ppo import EXPERT_METHOD


class PlanExpert:
    """Acts with ``env.expert_action()`` (reached through wrappers): a JSON tool call on
    ``palaestra/ToolUse-v0``, an action index on ``palaestra/ToolUseStructured-v0``. Following
    it from the start solves every task with the plan's minimal number of calls."""

    name = "plan_expert"

    def __init__(self, env: gym.Env) -> None:
        try:
            self._expert = env.get_wrapper_attr(EXPERT_METHOD)
        except AttributeError:
            raise ValueError(
                f"PlanExpert needs an env with {EXPERT_METHOD}() (the tool-use envs); "
                f"got {env.spec.id if env.spec else env}"
            ) from None

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """The plan's next action in the bound env's current state (``obs`` is not read)."""
        return self._expert()
