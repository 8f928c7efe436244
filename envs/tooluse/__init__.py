"""LLM-style tool use: answer questions about a generated world by calling tools
(``palaestra/ToolUse-v0``).

- :mod:`envs.tooluse.world`: the world, the task generator and its solution plan
  (dataclasses :class:`~envs.tooluse.world.World`, ``Entity``, ``Task``, ``ToolCall``);
- :mod:`envs.tooluse.calculator`: safe exact arithmetic (no ``eval``), with hard bounds;
- :mod:`envs.tooluse.tools`: tool schemas (OpenAI function-calling form), the action
  format, and running a call on a world;
- :mod:`envs.tooluse.transcript`: messages <-> transcript text, sanitising, mentions;
- :mod:`envs.tooluse.text_env`: :class:`~envs.tooluse.text_env.ToolUseEnv`.
"""
