"""The live model provider: Claude through the official ``anthropic`` SDK.

Configure it in the runtime spec (camelCase or snake_case keys)::

    fa.define_runtime(tenant, agents=[...], providers={"anthropic": {
        "apiKey": "...",            # default: the ANTHROPIC_API_KEY environment variable
        "apiKeyEnv": "MY_KEY_VAR",  # or name the variable (what a dumped spec should carry)
        "baseUrl": "...",           # default: the SDK's (https://api.anthropic.com)
        "maxRetries": 2,            # retries of 408/409/429/5xx, honouring retry-after
        "timeout": 600,             # seconds per request
        "maxTokens": 8192,          # max_tokens of every model turn
        "model": "claude-sonnet-5-5",   # for agents that name no model
        "thinking": {"budgetTokens": 4096},   # or {"type": "adaptive"}
        "prices": {"my-model": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}},
    }})

Each model turn is one streaming ``POST /v1/messages`` through the SDK's
``messages.stream()`` helper, which accumulates the message: text arrives as
:class:`TextDelta`, extended thinking as :class:`ReasoningDelta`, tool calls
as :class:`ToolUse` once the response is complete (a stream cut short never
yields a half-received tool call), then one :class:`Usage` with input,
output and cache tokens and the cost when the model's price is known.

An agent with a ``promptCacheKey`` gets prompt caching: ``cache_control``
marks its stable prefix (the last tool definition and the system prompt), so
later turns read it from the cache. Usage's ``input_tokens`` are the uncached
input tokens, as the API reports them; cache reads and writes are counted
(and priced) separately.

Thinking blocks must travel back to the API with the tool calls they led to;
the engine's history holds text and tool calls only, so the interpreter keeps
the blocks of recent responses (keyed by tool-call id) and puts them back
in place. After a kernel restart they are gone, and the API then treats the
resumed turn as one without thinking.

The SDK is imported on first use, never at ``import flowai_nb``.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from ..authoring.secrets import REDACTED, reveal
from ._prices import check_prices, cost_usd, price_for
from .base import (
    Interpreter,
    InterpreterError,
    ReasoningDelta,
    TextDelta,
    ToolUse,
    TurnEvent,
    TurnRequest,
    Usage,
)

__all__ = ["AnthropicInterpreter", "DEFAULT_MODEL", "DEFAULT_MAX_TOKENS"]

DEFAULT_MODEL = "claude-sonnet-5-5"
"""The model of agents that name none (override with ``providers.anthropic.model``)."""

DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` of every model turn unless ``maxTokens`` is configured."""



class _Config(BaseModel):
    """``providers["anthropic"]``: camelCase or snake_case keys (values checked by the class)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    api_key: Any = None
    api_key_env: Any = None
    base_url: Any = None
    max_retries: Any = 2
    timeout: Any = 600.0
    max_tokens: Any = DEFAULT_MAX_TOKENS
    model: Any = DEFAULT_MODEL
    thinking: Any = None
    prices: Any = None


_THINKING_BLOCKS = ("thinking", "redacted_thinking")
_KEPT_THINKING = 512  # responses whose thinking blocks are kept for the next request


def _camel_to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _thinking_param(raw: Any, max_tokens: int) -> dict[str, Any] | None:
    """``{"budgetTokens": N}`` -> ``{"type": "enabled", "budget_tokens": N}``; others as given."""
    if raw is None or raw is False:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"anthropic 'thinking' must be a dict such as {{'budgetTokens': 4096}} "
                         f"or {{'type': 'adaptive'}}; got {raw!r}")
    param = {_camel_to_snake(str(k)): v for k, v in raw.items()}
    if "budget_tokens" in param:
        budget = param["budget_tokens"]
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise ValueError(f"anthropic thinking 'budgetTokens' must be a positive int; "
                             f"got {budget!r}")
        if budget >= max_tokens:
            raise ValueError(f"anthropic thinking 'budgetTokens' ({budget}) must be below "
                             f"'maxTokens' ({max_tokens}); raise maxTokens")
        param.setdefault("type", "enabled")
    if "type" not in param:
        raise ValueError(f"anthropic 'thinking' needs 'budgetTokens' or a 'type' "
                         f"('enabled', 'adaptive', ...); got {raw!r}")
    return param


def _error_detail(exc: Any) -> tuple[str, str]:
    """(error type, message) from an SDK status error's body."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and err.get("message"):
            return str(err.get("type", "error")), str(err["message"])
    return "error", str(getattr(exc, "message", exc))


class AnthropicInterpreter(Interpreter):
    """Plays model turns on Claude through the ``anthropic`` SDK (async, streaming).

    Prefer :meth:`from_providers`, which reads the runtime's ``providers``
    mapping and the ``ANTHROPIC_API_KEY`` environment variable.

    Args:
        api_key: the Anthropic API key.
        base_url: the API's base URL; ``None`` for the SDK default.
        max_retries: retries of 408/409/429/5xx responses (the SDK backs off
            exponentially and honours ``retry-after``).
        timeout: seconds per request.
        max_tokens: ``max_tokens`` of every model turn.
        model: the model of agents that name none.
        thinking: the ``thinking`` request parameter, or ``None``.
        prices: price overrides, ``{model_id: {"input", "output", "cacheRead",
            "cacheWrite"}}`` in USD per million tokens.
    """

    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None = None, max_retries: int = 2,
                 timeout: float = 600.0, max_tokens: int = DEFAULT_MAX_TOKENS,
                 model: str = DEFAULT_MODEL, thinking: Mapping[str, Any] | None = None,
                 prices: Mapping[str, Mapping[str, float]] | None = None) -> None:
        if not api_key:
            raise ValueError("AnthropicInterpreter needs an api_key")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValueError(f"anthropic 'maxRetries' must be an int >= 0; got {max_retries!r}")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError(f"anthropic 'maxTokens' must be a positive int; got {max_tokens!r}")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError(f"anthropic 'timeout' must be a positive number of seconds; "
                             f"got {timeout!r}")
        if not isinstance(model, str) or not model:
            raise ValueError(f"anthropic 'model' must be a model id string; got {model!r}")
        self.api_key = api_key
        self.base_url = base_url
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.max_tokens = max_tokens
        self.model = model
        self.thinking = _thinking_param(thinking, max_tokens)
        self.prices = check_prices(prices or {})
        # The SDK client's connections belong to the loop that opened them, so a run on
        # another loop (each asyncio.run, a sync `for` over a stream) gets a new client.
        self._client_obj: Any = None
        self._client_loop: Any = None
        self._thinking_by_call: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    @classmethod
    def from_providers(cls, providers: Mapping[str, Any] | None) -> AnthropicInterpreter:
        """Build the interpreter from a runtime's ``providers`` mapping.

        Reads ``providers["anthropic"]`` (see the module doc for its keys);
        the API key is ``apiKey`` (a ``SecretStr`` in the spec), else the
        environment variable named by ``apiKeyEnv``, else ``ANTHROPIC_API_KEY``.

        Raises:
            ValueError: no API key anywhere, an unknown key, or a bad value.
        """
        raw = (providers or {}).get("anthropic") or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"providers['anthropic'] must be a dict; got {raw!r}")
        try:
            config = _Config.model_validate(dict(raw))
        except ValidationError as exc:
            unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
            keys = sorted(f.alias or n for n, f in _Config.model_fields.items())
            bad = unknown[0] if unknown else next(k for k in raw if not isinstance(k, str))
            raise ValueError(f"unknown key {bad!r} in providers['anthropic']; expected "
                             f"one of {keys}") from None
        api_key = reveal(config.api_key)
        if api_key == REDACTED:
            raise ValueError(
                "providers['anthropic']['apiKey'] is '**********': the key was redacted when "
                "the spec was dumped. Name an environment variable instead: "
                "providers={'anthropic': {'apiKeyEnv': 'ANTHROPIC_API_KEY'}}")
        env = config.api_key_env or "ANTHROPIC_API_KEY"
        api_key = api_key or os.environ.get(env)
        if not api_key:
            raise ValueError(
                f"the anthropic interpreter needs an API key: set the {env} "
                "environment variable or pass providers={'anthropic': {'apiKey': ...}} "
                "(or {'apiKeyEnv': 'VARIABLE'}) to define_runtime")
        fields = config.model_dump(exclude={"api_key", "api_key_env"})
        return cls(api_key=api_key, **fields)

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"AnthropicInterpreter(model={self.model!r}{where})"

    # -- the SDK client ---------------------------------------------------------

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client_obj is None or self._client_loop is not loop:
            import anthropic

            self._client_obj = anthropic.AsyncAnthropic(
                api_key=self.api_key, base_url=self.base_url, max_retries=self.max_retries,
                timeout=self.timeout)
            self._client_loop = loop
        return self._client_obj

    async def aclose(self) -> None:
        """Close the SDK client (when it belongs to the running loop) and forget it."""
        client, loop = self._client_obj, self._client_loop
        self._client_obj = self._client_loop = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.close()

    # -- requests ---------------------------------------------------------------

    def _params(self, request: TurnRequest) -> dict[str, Any]:
        cache = {"type": "ephemeral"} if request.prompt_cache_key else None
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "max_tokens": self.max_tokens,
            "messages": self._messages(request.messages),
        }
        if request.system:
            block: dict[str, Any] = {"type": "text", "text": request.system}
            if cache:
                block["cache_control"] = cache
            params["system"] = [block]
        if request.tools:
            tools = [{"name": t["name"], "description": t.get("description", ""),
                      "input_schema": t.get("input_schema") or {"type": "object"}}
                     for t in request.tools]
            if cache:
                tools[-1]["cache_control"] = cache
            params["tools"] = tools
        if self.thinking:
            params["thinking"] = dict(self.thinking)
        return params

    def _messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The engine's history, with empty text blocks dropped and thinking blocks restored."""
        out = []
        for message in messages:
            content = message.get("content")
            if isinstance(content, list):
                content = [b for b in content
                           if not (b.get("type") == "text" and not b.get("text"))]
                if message.get("role") == "assistant":
                    content = self._restore_thinking(content)
                message = {**message, "content": content}
            out.append(message)
        return out

    def _restore_thinking(self, content: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(b.get("type") in _THINKING_BLOCKS for b in content):
            return content
        first_call = next((b.get("id") for b in content if b.get("type") == "tool_use"), None)
        blocks = self._thinking_by_call.get(first_call) if first_call else None
        return [*blocks, *content] if blocks else content

    def _keep_thinking(self, blocks: list[dict[str, Any]], calls: list[ToolUse]) -> None:
        if blocks and calls:
            self._thinking_by_call[calls[0].id] = blocks
            while len(self._thinking_by_call) > _KEPT_THINKING:
                self._thinking_by_call.popitem(last=False)

    def _usage(self, model: str, usage: Mapping[str, int]) -> Usage:
        tokens = {
            "input_tokens": usage.get("input_tokens") or 0,
            "output_tokens": usage.get("output_tokens") or 0,
            "cache_read_tokens": usage.get("cache_read_input_tokens") or 0,
            "cache_write_tokens": usage.get("cache_creation_input_tokens") or 0,
        }
        return Usage(**tokens, cost_usd=cost_usd(price_for(model, self.prices), **tokens))

    def _failure(self, exc: Exception, *, streaming: bool = False) -> InterpreterError:
        import anthropic

        if isinstance(exc, anthropic.APIStatusError):
            kind, message = _error_detail(exc)
            status = exc.status_code
            if status == 200:  # an `error` event inside the stream
                return InterpreterError(f"anthropic stream error ({kind}): {message}")
            retried = status in (408, 409, 429) or status >= 500
            after = f" (after {self.max_retries} retries)" if retried and self.max_retries else ""
            return InterpreterError(f"anthropic API error {status} ({kind}): {message}{after}")
        if isinstance(exc, anthropic.APITimeoutError):
            return InterpreterError(f"anthropic API request timed out after {self.timeout:g}s "
                                    f"(and {self.max_retries} retries)")
        if isinstance(exc, anthropic.APIConnectionError):
            where = self.base_url or "the default base URL"
            return InterpreterError(f"could not reach the anthropic API at {where}: "
                                    f"{exc.__cause__ or exc}")
        if streaming:
            return InterpreterError(f"anthropic stream ended before message_stop "
                                    f"({type(exc).__name__}: {exc}); its tool calls were not run")
        return InterpreterError(f"anthropic request failed: {type(exc).__name__}: {exc}")

    # -- the model turn ---------------------------------------------------------

    async def turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        """Stream one model turn (see the module doc). Raises :class:`InterpreterError`.

        The SDK's ``messages.stream()`` helper accumulates the message (text,
        thinking blocks with their signatures, tool inputs, usage); this method
        forwards the text and thinking deltas as they come and reads tool calls
        and usage from the final message.
        """
        params = self._params(request)
        stream: Any = None
        message: Any = None
        failure: InterpreterError | None = None
        try:
            async with self._client().messages.stream(**params) as stream:
                async for event in stream:
                    kind = event.type
                    if kind == "text":
                        yield TextDelta(event.text)
                    elif kind == "thinking":
                        yield ReasoningDelta(event.thinking)
                    elif kind == "content_block_start":  # a block may open with content
                        block = event.content_block
                        if block.type == "text" and block.text:
                            yield TextDelta(block.text)
                        elif block.type == "thinking" and block.thinking:
                            yield ReasoningDelta(block.thinking)
                    elif kind == "message_stop":
                        message = stream.current_message_snapshot
                        break
        except InterpreterError as exc:
            failure = exc
        except Exception as exc:
            failure = self._failure(exc, streaming=stream is not None)
            failure.__cause__ = exc
        else:
            if message is None:
                failure = InterpreterError(
                    f"anthropic stream ended before message_stop (agent {request.agent!r}, "
                    f"turn {request.turn}): the response was cut off; its tool calls were not run")
            elif message.stop_reason == "max_tokens":
                failure = self._cut_by_max_tokens(request, message, params["max_tokens"])
        if failure is not None:
            usage = self._usage_so_far(stream)
            if usage:  # the tokens of a failed turn are billed all the same
                yield self._usage(params["model"], usage)
            raise failure
        calls = [self._tool_use(b) for b in message.content if b.type == "tool_use"]
        self._keep_thinking([b.model_dump(exclude_none=True) for b in message.content
                             if b.type in _THINKING_BLOCKS], calls)
        for call in calls:
            yield call
        yield self._usage(params["model"], message.usage.model_dump(exclude_none=True))

    @staticmethod
    def _usage_so_far(stream: Any) -> dict[str, Any]:
        """The usage counted before a turn failed (empty when no message had started)."""
        try:
            snapshot = stream.current_message_snapshot  # asserts that a message has started
        except (AttributeError, AssertionError):
            return {}
        return snapshot.usage.model_dump(exclude_none=True)

    @staticmethod
    def _cut_by_max_tokens(request: TurnRequest, message: Any,
                           max_tokens: int) -> InterpreterError:
        cut = [b for b in message.content if b.type == "tool_use"]
        if cut:
            block = cut[-1]
            return InterpreterError(
                f"anthropic tool call {block.name!r} ({block.id}) was cut off by "
                f"max_tokens={max_tokens}: its JSON input is incomplete (invalid JSON), so it "
                f"was not run; raise providers={{'anthropic': {{'maxTokens': ...}}}}")
        return InterpreterError(
            f"anthropic reply of agent {request.agent!r} (turn {request.turn}) hit "
            f"max_tokens={max_tokens} and was cut off; raise "
            f"providers={{'anthropic': {{'maxTokens': ...}}}}")

    @staticmethod
    def _tool_use(block: Any) -> ToolUse:
        args = block.input
        if not isinstance(args, dict):
            raise InterpreterError(f"anthropic tool call {block.name!r} input must be a JSON "
                                   f"object; got {args!r:.200}")
        return ToolUse(id=block.id, name=block.name, input=args)

    async def complete(self, prompt: str, *, system: str = "", model: str | None = None,
                       max_tokens: int | None = None) -> str:
        """One non-streaming request: ``prompt`` as the user message, the reply's text.

        For judges and other one-shot calls. Raises :class:`InterpreterError`.
        """
        params: dict[str, Any] = {
            "model": model or self.model,
            "max_tokens": max_tokens or self.max_tokens,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        }
        if system:
            params["system"] = system
        try:
            message = await self._client().messages.create(**params)
        except Exception as exc:
            raise self._failure(exc) from exc
        return "".join(b.text for b in message.content if b.type == "text")
