"""Agents for the text tool-use env (``palaestra/ToolUse-v0``): an adapter that lets any
OpenAI-compatible chat-completions server act in it."""

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
    "action_from_message",
    "to_chat_messages",
]
