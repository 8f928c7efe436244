"""Agents for the tool-use envs: the scripted expert that plays the generator's plan (both
interfaces), and an adapter that lets any OpenAI-compatible chat-completions server act in
the text env (``palaestra/ToolUse-v0``). The learner is ``bc_ppo`` (``agents.deep.bc_ppo``)."""

from agents.tooluse.expert import PlanExpert
from agents.tooluse.openai_chat import (
    ChatCompletionsAgent,
    ChatCompletionsConfig,
    ChatCompletionsError,
    action_from_message,
    to_chat_messages,
)

__all__ = [
    "ChatCompletionsAgent",
    "ChatCompletionsConfig",
    "ChatCompletionsError",
    "PlanExpert",
    "action_from_message",
    "to_chat_messages",
]
