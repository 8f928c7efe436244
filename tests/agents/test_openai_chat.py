"""The chat-completions adapter against a scripted local server speaking the protocol."""

from __future__ import annotations

import dataclasses
import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from agents.tooluse import ChatCompletionsAgent, ChatCompletionsConfig, ChatCompletionsError
from agents.tooluse.openai_chat import parse_tool_call, to_chat_messages

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"the {name} tool",
            "parameters": {
                "type": "object",
                "properties": {arg: {"type": "string"} for arg in args},
                "required": list(args),
            },
        },
    }
    for name, args in [
        ("calculator", ["expression"]),
        ("lookup", ["entity", "attribute"]),
        ("search", ["keyword"]),
        ("answer", ["value"]),
    ]
]
SYSTEM = {"role": "system", "content": "You can call tools."}
QUESTION = {"role": "user", "content": "What is the population of Avalon times 2?"}

# A scripted reply: (HTTP status, JSON body) or a function of the request body giving one.
Reply = tuple[int, Any] | Callable[[dict[str, Any]], tuple[int, Any]]


def tool_reply(name: str, arguments: str) -> tuple[int, dict[str, Any]]:
    call = {"id": "srv_7", "type": "function", "function": {"name": name, "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return 200, {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}


def content_reply(text: str) -> tuple[int, dict[str, Any]]:
    message = {"role": "assistant", "content": text}
    return 200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def error_reply(status: int) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": f"scripted {status}"}}


class ScriptedServer:
    """A chat-completions server in a thread: records each request, answers from a script."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "headers", "body"}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self._record(None))
                self._send(200, {"object": "list", "data": [{"id": "served-model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(self._record(body))
                reply = server.script.pop(0)
                self._send(*(reply(body) if callable(reply) else reply))

            def _record(self, body: Any) -> dict[str, Any]:
                return {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        # A short poll keeps shutdown() quick between tests.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["method"] == "POST"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = ScriptedServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def make_agent(server: ScriptedServer, **config: Any) -> ChatCompletionsAgent:
    config = {"model": "test-model", "max_retries": 2, "backoff_s": 0.0, "timeout_s": 5.0} | config
    return ChatCompletionsAgent(
        gym.spaces.Text(10_000),
        gym.spaces.Text(10_000),
        ChatCompletionsConfig(base_url=server.base_url, **config),
        tools=TOOLS,
    )


def test_tool_calls_then_an_answer_with_the_history_converted(server: ScriptedServer) -> None:
    server.script = [
        tool_reply("lookup", '{"entity": "Avalon", "attribute": "population"}'),
        tool_reply("calculator", '{"expression": "1200 * 2"}'),
        content_reply("2400"),
    ]
    agent = make_agent(server)
    history: list[dict[str, Any]] = [SYSTEM, QUESTION]
    tool_results = ["1200", "2400"]
    actions = []
    for step in range(3):
        action = agent.act(list(history))
        actions.append(action)
        if step < 2:
            name = json.loads(action)["tool"]
            history += [
                {"role": "assistant", "content": action},
                {"role": "tool", "name": name, "content": tool_results[step]},
            ]

    assert actions == [
        '{"tool": "lookup", "args": {"entity": "Avalon", "attribute": "population"}}',
        '{"tool": "calculator", "args": {"expression": "1200 * 2"}}',
        "answer: 2400",
    ]
    assert [r["path"] for r in server.requests] == ["/v1/chat/completions"] * 3
    for body in server.bodies:
        assert body["model"] == "test-model"
        assert body["tools"] == TOOLS
        assert body["tool_choice"] == "auto"
        assert body["temperature"] == 0.0
        assert "max_tokens" not in body
    assert server.bodies[0]["messages"] == [SYSTEM, QUESTION]
    lookup_args = '{"entity": "Avalon", "attribute": "population"}'
    assert server.bodies[2]["messages"] == [
        SYSTEM,
        QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": lookup_args},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "1200"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "1200 * 2"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "2400"},
    ]


def test_actions_the_env_did_not_run_stay_text_and_their_errors_become_user_messages() -> None:
    # As the env writes them: every action gets a tool message, named "invalid" when the
    # action named no known tool; a known tool's argument error keeps the tool's name.
    bad_args = '{"tool": "search", "args": {"word": "Avalon"}}'
    call = '```json\n{"tool": "search", "args": {"keyword": "Avalon"}}\n```'
    history = [
        SYSTEM,
        QUESTION,
        {"role": "assistant", "content": "let me think"},
        {"role": "tool", "name": "invalid", "content": "error: not a tool call"},
        {"role": "assistant", "content": '{"tool": "search", "args": {"keyword": '},
        {"role": "tool", "name": "invalid", "content": "error: malformed JSON"},
        {"role": "assistant", "content": '{"tool": "browse", "args": {}}'},
        {"role": "tool", "name": "invalid", "content": "error: unknown tool 'browse'"},
        {"role": "assistant", "content": bad_args},
        {"role": "tool", "name": "search", "content": "error: search has no argument 'word'"},
        {"role": "assistant", "content": call},
        {"role": "tool", "name": "search", "content": "1 match for 'Avalon'"},
    ]

    def called(call_id: str, arguments: str) -> dict[str, Any]:
        function = {"name": "search", "arguments": arguments}
        tool_call = {"id": call_id, "type": "function", "function": function}
        return {"role": "assistant", "content": None, "tool_calls": [tool_call]}

    assert to_chat_messages(history) == [
        SYSTEM,
        QUESTION,
        {"role": "assistant", "content": "let me think"},
        {"role": "user", "content": "error: not a tool call"},
        {"role": "assistant", "content": '{"tool": "search", "args": {"keyword": '},
        {"role": "user", "content": "error: malformed JSON"},
        {"role": "assistant", "content": '{"tool": "browse", "args": {}}'},
        {"role": "user", "content": "error: unknown tool 'browse'"},
        called("call_0", '{"word": "Avalon"}'),
        {
            "role": "tool",
            "tool_call_id": "call_0",
            "content": "error: search has no argument 'word'",
        },
        called("call_1", '{"keyword": "Avalon"}'),
        {"role": "tool", "tool_call_id": "call_1", "content": "1 match for 'Avalon'"},
    ]


def test_a_cut_transcripts_note_joins_the_question_as_user_text() -> None:
    note = {"role": "system", "content": "[4 earlier messages omitted]"}
    history = [
        SYSTEM,
        QUESTION,
        note,
        {"role": "assistant", "content": "answer: 1"},
        {"role": "tool", "name": "answer", "content": "'1' is wrong"},
    ]
    assert to_chat_messages(history) == [
        SYSTEM,
        {"role": "user", "content": f"{QUESTION['content']}\n\n{note['content']}"},
        {"role": "assistant", "content": "answer: 1"},
        {"role": "user", "content": "'1' is wrong"},
    ]


def test_an_unknown_role_is_rejected_naming_it() -> None:
    with pytest.raises(ValueError, match="message 1 has role 'developer'"):
        to_chat_messages([SYSTEM, {"role": "developer", "content": "x"}])


def test_unparsable_arguments_become_a_malformed_action(server: ScriptedServer) -> None:
    server.script = [
        tool_reply("calculator", '{"expression": "2 +'),
        tool_reply("calculator", '"2 + 2"'),
        tool_reply("calculator", ""),
    ]
    agent = make_agent(server)
    broken = agent.act([SYSTEM, QUESTION])
    assert broken == '{"tool": "calculator", "args": {"expression": "2 +}'
    assert parse_tool_call(broken) is None
    # Valid JSON that is not an object is passed on for the env to reject.
    assert json.loads(agent.act([SYSTEM, QUESTION])) == {"tool": "calculator", "args": "2 + 2"}
    assert parse_tool_call(agent.act([SYSTEM, QUESTION])) == ("calculator", {})


def test_tool_call_actions_are_ascii_so_the_env_keeps_them_intact(server: ScriptedServer) -> None:
    server.script = [tool_reply("lookup", '{"entity": "Zürich", "attribute": "population"}')]
    action = make_agent(server).act([SYSTEM, QUESTION])
    assert action.isascii()
    assert parse_tool_call(action) == ("lookup", {"entity": "Zürich", "attribute": "population"})


def test_content_becomes_an_answer_unless_it_already_is_an_action(server: ScriptedServer) -> None:
    call = '{"tool": "search", "args": {"keyword": "Avalon"}}'
    fenced = f"```json\n{call}\n```"
    server.script = [
        content_reply("  The answer is 12.\n"),
        content_reply("Answer: 12"),
        content_reply(call),
        content_reply(fenced),
        content_reply('{"tool": "search"'),
    ]
    agent = make_agent(server)
    assert agent.act([SYSTEM, QUESTION]) == "answer: The answer is 12."
    assert agent.act([SYSTEM, QUESTION]) == "Answer: 12"
    assert agent.act([SYSTEM, QUESTION]) == call
    assert agent.act([SYSTEM, QUESTION]) == fenced
    assert agent.act([SYSTEM, QUESTION]) == '{"tool": "search"'  # for the env to reject


def test_a_500_is_retried(server: ScriptedServer) -> None:
    server.script = [error_reply(500), content_reply("7")]
    assert make_agent(server).act([SYSTEM, QUESTION]) == "answer: 7"
    assert len(server.bodies) == 2
    assert server.bodies[0] == server.bodies[1]


def test_a_429_is_retried(server: ScriptedServer) -> None:
    server.script = [error_reply(429), error_reply(503), content_reply("7")]
    assert make_agent(server).act([SYSTEM, QUESTION]) == "answer: 7"
    assert len(server.bodies) == 3


def test_a_persistent_500_raises_naming_the_url_and_status(server: ScriptedServer) -> None:
    server.script = [error_reply(500)] * 3
    with pytest.raises(ChatCompletionsError) as caught:
        make_agent(server, max_retries=2).act([SYSTEM, QUESTION])
    message = str(caught.value)
    assert f"{server.base_url}/chat/completions" in message
    assert "HTTP 500" in message and "after 3 attempts" in message and "scripted 500" in message
    assert caught.value.status == 500
    assert len(server.bodies) == 3


def test_a_400_is_not_retried(server: ScriptedServer) -> None:
    server.script = [error_reply(400)]
    with pytest.raises(ChatCompletionsError, match=r"HTTP 400: .*scripted 400"):
        make_agent(server).act([SYSTEM, QUESTION])
    assert len(server.bodies) == 1


def test_a_refused_connection_is_retried_then_raises_naming_the_url() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ChatCompletionsConfig(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, backoff_s=0.0
    )
    agent = ChatCompletionsAgent(gym.spaces.Text(10), gym.spaces.Text(10), config, tools=TOOLS)
    with pytest.raises(ChatCompletionsError, match=rf"127.0.0.1:{port}/v1/chat.*2 attempts"):
        agent.act([SYSTEM, QUESTION])


def test_sampling_settings_and_the_api_key(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script = [content_reply("1"), content_reply("2"), content_reply("3")]
    agent = make_agent(server, temperature=0.9, max_tokens=64, tool_choice="required")
    agent.act([SYSTEM, QUESTION], deterministic=False)
    agent.act([SYSTEM, QUESTION], deterministic=True)
    assert [b["temperature"] for b in server.bodies] == [0.9, 0.0]
    assert all(b["max_tokens"] == 64 and b["tool_choice"] == "required" for b in server.bodies)
    assert "Authorization" not in server.requests[0]["headers"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    agent.act([SYSTEM, QUESTION])
    assert server.requests[2]["headers"]["Authorization"] == "Bearer sk-from-env"
    assert "sk-" not in repr(make_agent(server, api_key="sk-secret").config)


def test_without_a_model_the_first_served_one_is_used(server: ScriptedServer) -> None:
    server.script = [content_reply("1"), content_reply("2")]
    agent = make_agent(server, model=None)
    agent.act([SYSTEM, QUESTION])
    agent.act([SYSTEM, QUESTION])
    assert [(r["method"], r["path"]) for r in server.requests] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/chat/completions"),
    ]
    assert all(b["model"] == "served-model" for b in server.bodies)


def test_learn_is_not_supported(server: ScriptedServer) -> None:
    with pytest.raises(NotImplementedError, match="ChatCompletionsAgent does not learn"):
        make_agent(server).learn(gym.make("CartPole-v1"), total_steps=10)


def test_save_and_load_keep_everything_but_the_api_key(
    server: ScriptedServer, tmp_path: Path
) -> None:
    agent = make_agent(server, api_key="sk-secret", temperature=0.3)
    path = agent.save(tmp_path / "chat.json")
    assert "sk-secret" not in path.read_text()
    loaded = ChatCompletionsAgent.load(path)
    assert loaded.config == dataclasses.replace(agent.config, api_key=None)
    assert loaded.config.temperature == 0.3
    assert loaded.tools == TOOLS
    assert loaded.action_space == agent.action_space
    server.script = [content_reply("5")] * 2
    assert loaded.act([SYSTEM, QUESTION]) == agent.act([SYSTEM, QUESTION])
    assert server.bodies[0] == server.bodies[1]


def test_the_config_comes_from_the_training_config_system() -> None:
    from training.config import ConfigError, resolve_agent_config

    values = {
        "model": "qwen",
        "temperature": "0.2",
        "max_tokens": "null",
        "tool_choice": "required",
    }
    config = resolve_agent_config(ChatCompletionsAgent, values, "auto")
    assert config == ChatCompletionsConfig(model="qwen", temperature=0.2, tool_choice="required")
    with pytest.raises(ConfigError, match=r"agent\.tool_choice='sometimes'"):
        resolve_agent_config(ChatCompletionsAgent, {"tool_choice": "sometimes"}, "auto")
    with pytest.raises(ConfigError, match="base_url must start with http"):
        resolve_agent_config(ChatCompletionsAgent, {"base_url": "localhost:8000"}, "auto")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", -0.1, "temperature must be >= 0"),
        ("max_tokens", 0, "max_tokens must be >= 1"),
        ("timeout_s", 0.0, "timeout_s must be > 0"),
        ("max_retries", -1, "max_retries must be >= 0"),
        ("model", " ", "model must be a non-empty name"),
    ],
)
def test_bad_config_values_fail_naming_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChatCompletionsConfig(**{field: value})


def expert_reply(env: gym.Env) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """Replies with the env's expert action at request time: a tool call, or the answer as
    plain content (the adapter's ``answer: ...`` path)."""

    def reply(body: dict[str, Any]) -> tuple[int, Any]:
        call = json.loads(env.unwrapped.expert_action())
        if call["tool"] == "answer":
            return content_reply(str(call["args"]["value"]))
        return tool_reply(call["tool"], json.dumps(call["args"]))

    return reply


def check_protocol(messages: list[dict[str, Any]]) -> None:
    """Each tool message answers the tool call of the assistant message right before it."""
    for before, message in itertools.pairwise(messages):
        if message["role"] == "tool":
            assert before["role"] == "assistant"
            assert [c["id"] for c in before["tool_calls"]] == [message["tool_call_id"]]


TASK_TYPES = ["arithmetic", "lookup", "two_hop", "lookup_arithmetic", "comparison", "search"]


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_a_whole_tooluse_episode_through_the_adapter(
    server: ScriptedServer, task_type: str
) -> None:
    import envs  # noqa: F401  (registers palaestra/ToolUse-v0)
    from envs.tooluse.tools import tool_schemas

    env = gym.make("palaestra/ToolUse-v0")
    obs, _ = env.reset(seed=7, options={"task_type": task_type})
    # A malformed call first (the env answers with an error), then the expert's plan.
    server.script = [tool_reply("lookup", '{"entity": '), *[expert_reply(env)] * 11]
    agent = ChatCompletionsAgent(
        env.observation_space,
        env.action_space,
        ChatCompletionsConfig(base_url=server.base_url, model="m", backoff_s=0.0),
    )
    actions = []
    terminated = truncated = False
    while not (terminated or truncated):
        assert isinstance(obs, str)  # the transcript text, parsed by the adapter
        actions.append(agent.act(obs))
        obs, _, terminated, truncated, info = env.step(actions[-1])

    assert terminated and info["is_success"], (actions, info)
    assert info["invalid_calls"] == 1 and info["calls"] == info["min_calls"]
    assert actions[-1].startswith("answer: ")
    last = server.bodies[-1]
    assert last["tools"] == tool_schemas()
    assert last["messages"][2:4] == [
        {"role": "assistant", "content": '{"tool": "lookup", "args": {"entity": }'},
        {"role": "user", "content": env.unwrapped.messages[3]["content"]},
    ]
    assert env.unwrapped.messages[3]["name"] == "invalid"
    assert sum(m["role"] == "tool" for m in last["messages"]) == info["min_calls"]
    check_protocol(last["messages"])


def test_run_episode_evaluates_the_adapter(server: ScriptedServer) -> None:
    import envs  # noqa: F401
    from agents.evaluation import run_episode

    env = gym.make("palaestra/ToolUse-v0")
    server.script = [expert_reply(env)] * 12
    agent = ChatCompletionsAgent(
        env.observation_space,
        env.action_space,
        ChatCompletionsConfig(base_url=server.base_url, model="m", backoff_s=0.0),
    )
    result = run_episode(agent, env, seed=3)
    assert result.success and result.ended
    assert result.length == result.info["min_calls"] + 1
    assert result.episode_return == pytest.approx(1.0 - 0.01 * result.info["min_calls"])
