"""Any OpenAI-compatible chat-completions server as a palaestra agent for the text tool-use env.

:class:`ChatCompletionsAgent` turns the env's observation (the transcript of an OpenAI-style
message list) into a chat-completions request, with the env's tools in the standard ``tools``
form, and turns the server's reply back into the env's action string:

- a tool call ``name(arguments)`` becomes ``{"tool": name, "args": {...}}``; arguments that are
  not a JSON object are passed on as a malformed action, so the env answers with its error
  message instead of the adapter crashing;
- plain content becomes ``answer: <content>`` (content that already is an env action, a JSON
  object or ``answer: ...``, is passed on as it is).

The history is rewritten so it stays valid for the protocol: an action that was a JSON tool
call and got a reply from that tool becomes an assistant message with ``tool_calls`` followed
by a ``tool`` message with the matching ``tool_call_id``; any other action stays plain
assistant text and the env's reply to it (its error) becomes a user message.

Only the standard library is used for HTTP (``urllib.request``), so no client package is
needed. The agent does not learn: it is evaluated with :func:`agents.evaluation.run_episode`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym

from agents.base import Agent, Callback
from agents.common.io import atomic_write_text

API_KEY_ENV = "OPENAI_API_KEY"
FORMAT_VERSION = 1
MAX_BACKOFF_S = 60.0  # cap on one wait between retries (also on a server's Retry-After)
_ERROR_EXCERPT = 300  # characters of a server's error body quoted in ChatCompletionsError
_ANSWER_PREFIX = re.compile(r"answer\s*:", re.IGNORECASE)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)

Message = dict[str, Any]


@dataclass(frozen=True)
class ChatCompletionsConfig:
    """Where the chat-completions server is and how to sample from it."""

    base_url: str = "http://localhost:8000/v1"
    """The API root; requests go to ``{base_url}/chat/completions`` (vLLM, llama.cpp,
    Ollama's ``/v1``, OpenAI itself ...)."""
    model: str | None = None
    """Model name sent with every request; None asks the server (``GET {base_url}/models``)
    once and uses the first model it lists, which suits servers that serve one model."""
    api_key: str | None = field(default=None, repr=False)
    """Bearer token; None reads ``$OPENAI_API_KEY`` at request time (no header when unset).
    Never written by :meth:`ChatCompletionsAgent.save`."""
    temperature: float = 0.7
    """Sampling temperature for ``act(obs, deterministic=False)``; deterministic acting
    always sends 0."""
    max_tokens: int | None = None
    """Cap on the reply's tokens; None leaves it to the server."""
    timeout_s: float = 60.0
    """Seconds to wait for one HTTP response."""
    max_retries: int = 3
    """Further attempts after a 429, a 5xx, a timeout or a connection error."""
    backoff_s: float = 1.0
    """Wait before the first retry, doubled for each next one (a server's ``Retry-After``
    takes precedence); capped at 60 s."""
    tool_choice: Literal["auto", "required"] = "auto"
    """``auto`` lets the model answer in plain text; ``required`` forces a tool call (the
    answer then comes through the ``answer`` tool)."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.model is not None and not self.model.strip():
            raise ValueError("model must be a non-empty name or None (ask the server)")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1 or None, got {self.max_tokens!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if self.backoff_s < 0:
            raise ValueError(f"backoff_s must be >= 0, got {self.backoff_s!r}")
        if self.tool_choice not in ("auto", "required"):
            raise ValueError(f"tool_choice must be 'auto' or 'required', got {self.tool_choice!r}")

    @property
    def chat_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/chat/completions"

    @property
    def models_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/models"

    def resolved_api_key(self) -> str | None:
        """The key to send: the configured one, else ``$OPENAI_API_KEY``, else None."""
        return self.api_key if self.api_key is not None else os.environ.get(API_KEY_ENV) or None


class ChatCompletionsError(RuntimeError):
    """A request the server did not answer usefully, after the retries the config allows."""

    def __init__(self, method: str, url: str, status: int | None, detail: str, attempts: int):
        self.url = url
        self.status = status
        what = f"HTTP {status}" if status is not None else "no response"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{method} {url} failed{tries}: {what}: {detail}")


# ---------------------------------------------------------------------------------------------
# Env actions <-> chat-completions messages


def parse_tool_call(action: str) -> tuple[str, dict[str, Any]] | None:
    """``(tool, args)`` when ``action`` is a JSON tool call, else None.

    A call is a JSON object (optionally in a code fence, as the env accepts) with a string
    ``"tool"`` and an object ``"args"``. Whether the env ran it is told by its reply.
    """
    try:
        call = json.loads(_unfenced(action))
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
        return None
    if not isinstance(call.get("args"), dict):
        return None
    return call["tool"], call["args"]


def _unfenced(text: str) -> str:
    stripped = text.strip()
    fenced = _FENCE.fullmatch(stripped)
    return fenced.group(1) if fenced else stripped


def to_chat_messages(messages: Sequence[Mapping[str, Any]]) -> list[Message]:
    """The env's message list rewritten as a valid chat-completions history.

    The ``k``-th action that was a JSON tool call and got a reply from that tool (a ``tool``
    message with its ``name``, an error included) becomes an assistant message with one tool
    call ``call_<k>`` and the reply a ``tool`` message answering it. Other actions (malformed
    text, unknown tools: the env replies as tool ``"invalid"``) stay plain assistant text and
    the env's reply becomes a user message, since a ``tool`` message must answer a call.

    The first system message stays; a later one (the env's ``[N earlier messages omitted]``
    note of a cut transcript) is user text, since many chat templates accept a system message
    only first. User texts that would follow one another are joined by a blank line, for
    templates that insist on alternating roles.
    """
    out: list[Message] = []
    calls = 0
    i = 0
    while i < len(messages):
        message = messages[i]
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str):
            raise ValueError(f"message {i} ({role}) has no string content: {message!r}")
        reply = messages[i + 1] if i + 1 < len(messages) else None
        if role == "system" and i == 0:
            out.append({"role": "system", "content": content})
        elif role in ("system", "user"):
            _append_user_text(out, content)
        elif role == "assistant":
            call = parse_tool_call(content)
            if (
                call is not None
                and reply is not None
                and reply.get("role") == "tool"
                and reply.get("name", call[0]) == call[0]
            ):
                call_id = f"call_{calls}"
                calls += 1
                out.append(_assistant_tool_call(call_id, *call))
                out.append({"role": "tool", "tool_call_id": call_id, "content": reply["content"]})
                i += 2
                continue
            out.append({"role": "assistant", "content": content})
        elif role == "tool":  # a reply to no call the protocol knows of: the env's error
            _append_user_text(out, content)
        else:
            raise ValueError(
                f"message {i} has role {role!r}; expected system, user, assistant or tool"
            )
        i += 1
    return out


def _append_user_text(out: list[Message], text: str) -> None:
    if out and out[-1]["role"] == "user":
        out[-1] = {"role": "user", "content": f"{out[-1]['content']}\n\n{text}"}
    else:
        out.append({"role": "user", "content": text})


def _assistant_tool_call(call_id: str, name: str, args: dict[str, Any]) -> Message:
    function = {"name": name, "arguments": json.dumps(args)}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def tool_call_action(name: str, arguments: Any) -> str:
    """The env action for a tool call the server returned (``arguments``: its JSON text).

    Arguments that do not parse are spliced in as they are, which makes a malformed action
    the env answers with an error message; an empty string reads as ``{}``.
    """
    if isinstance(arguments, Mapping):  # some servers send the object itself
        return _dumps({"tool": name, "args": dict(arguments)})
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if not text.strip():
        return _dumps({"tool": name, "args": {}})
    try:
        args = json.loads(text)
    except ValueError:
        return f'{{"tool": {json.dumps(name)}, "args": {text}}}'
    return _dumps({"tool": name, "args": args})


def action_from_message(message: Mapping[str, Any]) -> str:
    """The env action for the assistant message of a chat-completions reply.

    The first tool call wins (the env takes one action per step). Without one, the content is
    the answer, unless it already is an env action (a JSON object, possibly in a code fence,
    or ``answer: ...``), which is passed on as it is.
    """
    tool_calls = message.get("tool_calls") or []
    if tool_calls:
        function = tool_calls[0].get("function") or {}
        return tool_call_action(str(function.get("name", "")), function.get("arguments", ""))
    text = (message.get("content") or "").strip()
    # The env reads text that starts with "{" as a JSON call: a model whose server has no
    # tool-call parser writes its calls that way.
    if _unfenced(text).startswith("{") or _ANSWER_PREFIX.match(text):
        return text
    return f"answer: {text}"


def _dumps(action: Mapping[str, Any]) -> str:
    # ASCII escapes: the env keeps only printable ASCII of an action's text.
    return json.dumps(action)


# ---------------------------------------------------------------------------------------------
# HTTP


def request_json(url: str, body: Mapping[str, Any] | None, config: ChatCompletionsConfig) -> Any:
    """POST ``body`` (GET when None) to ``url`` and return the decoded JSON reply.

    Retries 429, 5xx, timeouts and connection errors ``config.max_retries`` times with
    exponential backoff; anything else, or the last failure, raises ChatCompletionsError.
    """
    method = "GET" if body is None else "POST"
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    api_key = config.resolved_api_key()
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    attempts = config.max_retries + 1
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        retry_after = None
        try:
            with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
                raw = response.read()
            break
        except urllib.error.HTTPError as e:
            status, detail = e.code, _excerpt(e.read())
            retryable = status == 429 or status >= 500
            retry_after = _seconds(e.headers.get("Retry-After") if e.headers else None)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            status, retryable = None, True
            detail = str(getattr(e, "reason", None) or e) or type(e).__name__
        if not retryable or attempt == attempts - 1:
            raise ChatCompletionsError(method, url, status, detail, attempt + 1)
        wait = retry_after if retry_after is not None else config.backoff_s * 2**attempt
        time.sleep(min(wait, MAX_BACKOFF_S))
    try:
        return json.loads(raw)
    except ValueError:
        raise ChatCompletionsError(
            method, url, 200, f"reply is not JSON: {_excerpt(raw)}", attempt + 1
        ) from None


def _excerpt(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    return text[:_ERROR_EXCERPT] + ("..." if len(text) > _ERROR_EXCERPT else "") or "(empty body)"


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


# ---------------------------------------------------------------------------------------------
# The agent


class ChatCompletionsAgent(Agent):
    """Acts in ``palaestra/ToolUse-v0`` by asking an OpenAI-compatible chat-completions server.

    ``obs`` is the env's transcript string (parsed with ``envs.tooluse``'s parser) or an
    already parsed message list. ``tools`` are the tool schemas in OpenAI function form; by
    default the env's own. ``deterministic`` acting sends ``temperature=0``.

    It does not learn (``learn`` raises NotImplementedError); ``save`` writes the config as
    JSON, without the API key.
    """

    name = "chat"
    config_class = ChatCompletionsConfig
    checkpoint_suffix = ".json"
    config: ChatCompletionsConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: ChatCompletionsConfig | None = None,
        seed: int | None = None,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(self.config, ChatCompletionsConfig):
            raise TypeError(
                f"{type(self).__name__} expects a ChatCompletionsConfig, "
                f"got {type(self.config).__name__}"
            )
        self._tools = None if tools is None else [dict(t) for t in tools]
        self._model = self.config.model

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool schemas sent with every request (the env's, unless given)."""
        if self._tools is None:
            self._tools = _env_tool_schemas()
        return self._tools

    @property
    def model(self) -> str:
        """The model name sent (asked of the server once when the config has none)."""
        if self._model is None:
            self._model = _first_served_model(self.config)
        return self._model

    def act(self, obs: str | Sequence[Mapping[str, Any]], deterministic: bool = True) -> str:
        reply = request_json(
            self.config.chat_url, self.build_request(obs, deterministic), self.config
        )
        try:
            message = reply["choices"][0]["message"]
            return action_from_message(message)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ChatCompletionsError(
                "POST",
                self.config.chat_url,
                200,
                "reply is not a chat completion with choices[0].message: "
                + _excerpt(json.dumps(reply).encode()),
                1,
            ) from None

    def build_request(
        self, obs: str | Sequence[Mapping[str, Any]], deterministic: bool = True
    ) -> dict[str, Any]:
        """The chat-completions request body :meth:`act` sends for ``obs``."""
        messages = _parse_transcript(obs) if isinstance(obs, str) else obs
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_chat_messages(messages),
            "tools": self.tools,
            "tool_choice": self.config.tool_choice,
            "temperature": 0.0 if deterministic else self.config.temperature,
        }
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        return body

    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} does not learn: it acts through the chat-completions "
            f"server at {self.config.base_url}; evaluate it with "
            "agents.evaluation.run_episode or training.evaluation.evaluate"
        )

    def save(self, path: str | Path) -> Path:
        config = asdict(self.config)
        del config["api_key"]  # a secret: it comes back from the environment
        state = {
            "format_version": FORMAT_VERSION,
            "agent": self.name,
            "config": config,
            "tools": self._tools,
            "seed": self.seed,
            "observation_space": _space_to_json(self.observation_space),
            "action_space": _space_to_json(self.action_space),
        }
        return atomic_write_text(path, json.dumps(state, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ChatCompletionsAgent:
        path = Path(path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("agent") != cls.name:
                raise ValueError(f"it holds agent {state.get('agent')!r}, not {cls.name!r}")
            return cls(
                _space_from_json(state["observation_space"]),
                _space_from_json(state["action_space"]),
                ChatCompletionsConfig(**state["config"]),
                seed=state["seed"],
                tools=state["tools"],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path} is not a {cls.name} agent file: {e}") from e


def _parse_transcript(text: str) -> list[dict[str, Any]]:
    # Imported on use: the env is an optional partner of this module, not a dependency of it.
    from envs.tooluse.transcript import parse_transcript

    return parse_transcript(text)


def _env_tool_schemas() -> list[dict[str, Any]]:
    from envs.tooluse.tools import tool_schemas

    return tool_schemas()


def _first_served_model(config: ChatCompletionsConfig) -> str:
    reply = request_json(config.models_url, None, config)
    try:
        return str(reply["data"][0]["id"])
    except (KeyError, IndexError, TypeError):
        raise ChatCompletionsError(
            "GET",
            config.models_url,
            200,
            f"no model listed (set model= in the config): {_excerpt(json.dumps(reply).encode())}",
            1,
        ) from None


def _space_to_json(space: gym.Space) -> dict[str, Any] | None:
    """Text spaces (the tool-use env's) round-trip; others are not needed to act and load
    back as None."""
    if isinstance(space, gym.spaces.Text):
        return {
            "type": "Text",
            "min_length": space.min_length,
            "max_length": space.max_length,
            "charset": space.characters,
        }
    return None


def _space_from_json(data: Mapping[str, Any] | None) -> gym.Space | None:
    if data is None:
        return None
    if data.get("type") != "Text":
        raise ValueError(f"unknown space {data!r}")
    return gym.spaces.Text(
        data["max_length"], min_length=data["min_length"], charset=data["charset"]
    )
