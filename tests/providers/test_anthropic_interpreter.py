"""AnthropicInterpreter against a local Messages API server, through the real SDK."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from flowai_nb.interpreters.anthropic import DEFAULT_MODEL, AnthropicInterpreter
from flowai_nb.interpreters.base import (
    InterpreterError,
    ReasoningDelta,
    TextDelta,
    ToolUse,
    TurnRequest,
    Usage,
)

pytestmark = pytest.mark.live_http

TOOLS = [
    {"name": "lookup", "description": "Find a store.",
     "input_schema": {"type": "object", "properties": {"store": {"type": "integer"}}}},
    {"name": "restock", "description": "Restock a product.",
     "input_schema": {"type": "object", "properties": {"sku": {"type": "string"}}}},
]


def request(**overrides: Any) -> TurnRequest:
    fields: dict[str, Any] = {
        "agent": "analyst", "role": "specialist", "model": None, "system": "You are terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "tools": [], "thread_id": "t1", "run_id": "r1",
    }
    return TurnRequest(**{**fields, **overrides})


def play(interp: AnthropicInterpreter, req: TurnRequest) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return [event async for event in interp.turn(req)]
        finally:
            await interp.aclose()

    return asyncio.run(go())


def fails(interp: AnthropicInterpreter, req: TurnRequest) -> tuple[str, list[Any]]:
    """Play a turn that must fail: (error message, events yielded before the failure)."""
    seen: list[Any] = []

    async def go() -> None:
        try:
            async for event in interp.turn(req):
                seen.append(event)
        finally:
            await interp.aclose()

    with pytest.raises(InterpreterError) as info:
        asyncio.run(go())
    return str(info.value), seen


def test_text_streams_as_deltas_and_request_carries_the_turn(anthropic_server, make_interp):
    anthropic_server.script({"text": ["Hel", "lo ", "there"],
                             "usage": {"input_tokens": 40, "output_tokens": 3}})
    events = play(make_interp(), request())

    assert events[:3] == [TextDelta("Hel"), TextDelta("lo "), TextDelta("there")]
    assert isinstance(events[-1], Usage) and len(events) == 4
    assert (events[-1].input_tokens, events[-1].output_tokens) == (40, 3)
    [sent] = anthropic_server.requests
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert "test-key" in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    body = sent["body"]
    assert body["model"] == DEFAULT_MODEL and body["stream"] is True
    assert body["max_tokens"] == 8192
    assert body["system"] == [{"type": "text", "text": "You are terse."}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert "tools" not in body and "thinking" not in body


def test_parallel_tool_calls_with_text_in_one_response(anthropic_server, make_interp):
    anthropic_server.script({
        "text": "Checking both.",
        "tools": [{"tool": "lookup", "args": {"store": 7}, "id": "toolu_a"},
                  {"tool": "restock", "args": {"sku": "A-1", "note": "ünïcode \"q\""},
                   "id": "toolu_b"}],
    })
    events = play(make_interp(), request(model="claude-haiku-4-5", tools=TOOLS))

    assert events[0] == TextDelta("Checking both.")
    assert events[1:3] == [
        ToolUse(id="toolu_a", name="lookup", input={"store": 7}),
        ToolUse(id="toolu_b", name="restock", input={"sku": "A-1", "note": "ünïcode \"q\""}),
    ]
    body = anthropic_server.bodies()[0]
    assert body["model"] == "claude-haiku-4-5"
    assert [t["name"] for t in body["tools"]] == ["lookup", "restock"]
    assert body["tools"][0]["input_schema"] == TOOLS[0]["input_schema"]


def test_prompt_cache_key_marks_system_and_last_tool(anthropic_server, make_interp):
    anthropic_server.script({"text": "a"}, {"text": "b"})
    interp = make_interp()
    play(interp, request(tools=TOOLS, prompt_cache_key="acme-analyst"))
    play(interp, request(tools=TOOLS))

    cached, plain = anthropic_server.bodies()
    assert cached["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert cached["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in cached["tools"][0]
    assert "cache_control" not in plain["system"][0]
    assert all("cache_control" not in t for t in plain["tools"])


def test_usage_counts_cache_tokens_and_prices_them(anthropic_server, make_interp):
    usage = {"input_tokens": 1_000, "output_tokens": 2_000,
             "cache_read_input_tokens": 10_000, "cache_creation_input_tokens": 4_000}
    anthropic_server.script({"text": "x", "usage": usage}, {"text": "y", "usage": usage},
                            {"text": "z", "usage": usage})
    interp = make_interp(prices={"house-model": {"input": 1, "output": 2, "cacheRead": 0.5,
                                                 "cacheWrite": 3}})
    known = play(interp, request(model="claude-sonnet-4-6"))[-1]
    custom = play(interp, request(model="house-model"))[-1]
    unknown = play(interp, request(model="someone-elses-model"))[-1]

    assert known == Usage(input_tokens=1_000, output_tokens=2_000, cache_read_tokens=10_000,
                          cache_write_tokens=4_000, cost_usd=known.cost_usd)
    # claude-sonnet-4-6: $3 in, $15 out, $0.30 cache read, $3.75 cache write per MTok
    assert known.cost_usd == pytest.approx((1_000 * 3 + 2_000 * 15 + 10_000 * 0.3
                                            + 4_000 * 3.75) / 1e6)
    assert custom.cost_usd == pytest.approx((1_000 * 1 + 2_000 * 2 + 10_000 * 0.5
                                             + 4_000 * 3) / 1e6)
    assert unknown.cost_usd is None and unknown.output_tokens == 2_000


def test_thinking_streams_reasoning_and_goes_back_with_the_tool_call(anthropic_server,
                                                                       make_interp):
    anthropic_server.script(
        {"thinking": ["Store 7 ", "first."], "tool": "lookup", "args": {"store": 7}},
        {"text": "Done."},
    )
    interp = make_interp(thinking={"budgetTokens": 2048})
    first = play(interp, request(tools=TOOLS))
    assert first[:2] == [ReasoningDelta("Store 7 "), ReasoningDelta("first.")]
    call = first[2]
    assert isinstance(call, ToolUse) and call.input == {"store": 7}

    history = [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""},
                                          {"type": "tool_use", "id": call.id, "name": "lookup",
                                           "input": call.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                      "content": "{\"name\": \"Main St\"}"}]},
    ]
    second = play(interp, request(tools=TOOLS, messages=history, turn=2))
    assert second[0] == TextDelta("Done.")

    one, two = anthropic_server.bodies()
    assert one["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assistant = two["messages"][1]["content"]
    assert assistant[0]["type"] == "thinking"
    assert assistant[0]["thinking"] == "Store 7 first."
    assert assistant[0]["signature"].startswith("sig-")
    # the empty text block the engine wrote is not sent (the API rejects empty text)
    assert [b["type"] for b in assistant] == ["thinking", "tool_use"]


def test_429_is_retried_after_the_retry_after_delay(anthropic_server, make_interp):
    anthropic_server.script(
        {"status": 429, "headers": {"retry-after": "1"},
         "error": {"type": "rate_limit_error", "message": "slow down"}},
        {"text": "ok"},
    )
    events = play(make_interp(), request())

    assert events[0] == TextDelta("ok")
    first, second = anthropic_server.requests
    # The SDK's own backoff would wait at most 0.5 s here; retry-after says 1 s.
    assert second["at"] - first["at"] >= 0.95


def test_overloaded_and_server_errors_are_retried(anthropic_server, make_interp):
    fast = {"retry-after-ms": "10"}
    anthropic_server.script(
        {"status": 529, "headers": fast, "error": {"type": "overloaded_error",
                                                   "message": "Overloaded"}},
        {"status": 500, "headers": fast, "error": {"type": "api_error", "message": "boom"}},
        {"text": "made it"},
    )
    events = play(make_interp(maxRetries=2), request())
    assert events[0] == TextDelta("made it")
    assert len(anthropic_server.requests) == 3


def test_exhausted_retries_raise_with_the_providers_message(anthropic_server, make_interp):
    error = {"status": 529, "headers": {"retry-after-ms": "10"},
             "error": {"type": "overloaded_error", "message": "Overloaded"}}
    anthropic_server.script(error, error)
    message, seen = fails(make_interp(maxRetries=1), request())
    assert "529" in message and "overloaded_error" in message and "Overloaded" in message
    assert "after 1 retries" in message
    assert seen == [] and len(anthropic_server.requests) == 2


def test_client_errors_are_not_retried(anthropic_server, make_interp):
    anthropic_server.script({"status": 400, "error": {"type": "invalid_request_error",
                                                      "message": "messages.0: bad block"}})
    message, _ = fails(make_interp(), request())
    assert "400" in message and "messages.0: bad block" in message
    assert len(anthropic_server.requests) == 1


def test_wrong_key_is_an_authentication_error(anthropic_server, make_interp):
    message, _ = fails(make_interp(apiKey="wrong"), request())
    assert "401" in message and "authentication_error" in message


def test_dropped_stream_raises_and_yields_no_tool_call(anthropic_server, make_interp):
    # message_start, ping, then the tool block starts and the socket closes mid-arguments
    anthropic_server.script({"tool": "restock", "args": {"sku": "A-1"}, "drop_after": 4})
    message, seen = fails(make_interp(), request(tools=TOOLS))
    assert not any(isinstance(e, ToolUse) for e in seen)
    assert "stream ended before message_stop" in message


def test_stream_ending_without_message_stop_is_an_error(anthropic_server, make_interp):
    anthropic_server.script({"text": ["partial ", "answer"], "end_after": 4})
    message, seen = fails(make_interp(), request())
    assert "stream ended before message_stop" in message
    # the text already streamed, and the billed input tokens are still reported
    assert seen[0] == TextDelta("partial ") and len(seen) == 2
    assert isinstance(seen[1], Usage) and seen[1].input_tokens == 25


def test_tool_input_cut_by_max_tokens_is_an_error_not_a_guess(anthropic_server, make_interp):
    anthropic_server.script({"tool": "restock", "raw_args": '{"sku": "A-', "stop_reason":
                             "max_tokens"})
    message, seen = fails(make_interp(), request(tools=TOOLS))
    assert "'restock'" in message and "invalid JSON" in message and "max_tokens" in message
    assert not any(isinstance(e, ToolUse) for e in seen)


def test_error_event_inside_the_stream_is_raised(anthropic_server, make_interp):
    anthropic_server.script({"text": "never", "sse_error": {"type": "overloaded_error",
                                                            "message": "Overloaded"}})
    message, seen = fails(make_interp(), request())
    assert "overloaded_error" in message and "Overloaded" in message
    assert not any(isinstance(e, TextDelta) for e in seen)


def test_cancelling_the_turn_closes_the_http_stream(anthropic_server, make_interp):
    anthropic_server.script({"text": [f"word{i} " for i in range(200)], "delay": 0.05})
    interp = make_interp()
    first = asyncio.Event()

    async def consume() -> None:
        async for event in interp.turn(request()):
            if isinstance(event, TextDelta):
                first.set()

    async def go() -> None:
        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await interp.aclose()

    asyncio.run(go())
    assert anthropic_server.client_closed.wait(10), "server never saw the connection close"


def test_unreachable_server_is_an_interpreter_error(anthropic_server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    interp = AnthropicInterpreter.from_providers({"anthropic": {
        "apiKey": "k", "baseUrl": f"http://127.0.0.1:{port}", "maxRetries": 0}})
    message, _ = fails(interp, request())
    assert "could not reach the anthropic API" in message and str(port) in message


def test_complete_is_one_non_streaming_request(anthropic_server, make_interp):
    anthropic_server.script({"text": "score: 4"})
    interp = make_interp()

    async def go() -> str:
        try:
            return await interp.complete("Rate this.", system="You are a judge.")
        finally:
            await interp.aclose()

    assert asyncio.run(go()) == "score: 4"
    [body] = anthropic_server.bodies()
    assert not body.get("stream") and body["system"] == "You are a judge."


def test_one_interpreter_survives_several_event_loops(anthropic_server, make_interp):
    anthropic_server.script({"text": "one"}, {"text": "two"})
    interp = make_interp()

    async def turn() -> list[Any]:
        return [e async for e in interp.turn(request())]

    assert asyncio.run(turn())[0] == TextDelta("one")
    assert asyncio.run(turn())[0] == TextDelta("two")


# -- configuration ------------------------------------------------------------------


def test_missing_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        AnthropicInterpreter.from_providers({})
    with pytest.raises(ValueError, match="apiKey"):
        AnthropicInterpreter.from_providers({"anthropic": {"baseUrl": "http://127.0.0.1:1"}})


def test_key_from_environment_and_snake_case_config(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    interp = AnthropicInterpreter.from_providers({"anthropic": {"max_retries": 5,
                                                                "model": "claude-opus-5"}})
    assert (interp.api_key, interp.max_retries, interp.model) == ("env-key", 5, "claude-opus-5")


@pytest.mark.parametrize("config, match", [
    ({"apikey": "x"}, "unknown key 'apikey'"),
    ({"maxRetries": -1}, "maxRetries"),
    ({"thinking": {"budgetTokens": 9000}}, "below 'maxTokens'"),
    ({"thinking": "on"}, "thinking"),
    ({"prices": {"m": {"input": 1}}}, "'m'"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_config_names_the_bad_value(config, match):
    with pytest.raises(ValueError, match=match):
        AnthropicInterpreter.from_providers({"anthropic": {"apiKey": "k", **config}})


def test_adaptive_thinking_is_passed_through(anthropic_server, make_interp):
    anthropic_server.script({"text": "ok"})
    play(make_interp(thinking={"type": "adaptive", "display": "summarized"}), request())
    assert anthropic_server.bodies()[0]["thinking"] == {"type": "adaptive",
                                                       "display": "summarized"}


def test_a_reply_cut_by_max_tokens_is_an_error_not_a_short_answer(anthropic_server,
                                                                  make_interp):
    anthropic_server.script({"text": ["The stores that need"], "stop_reason": "max_tokens",
                             "usage": {"input_tokens": 10, "output_tokens": 8192}})
    message, seen = fails(make_interp(), request())
    assert "hit max_tokens=8192" in message and "maxTokens" in message
    assert seen[0] == TextDelta("The stores that need")
    assert isinstance(seen[-1], Usage)  # the billed tokens are still reported
