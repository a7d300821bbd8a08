"""Secrets in specs: API keys and passwords are SecretStr values that never show."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr

import flowai_nb as fa
from flowai_nb.authoring.secrets import reveal
from flowai_nb.interpreters.anthropic import AnthropicInterpreter
from tests.servers import fresh_postgres_url, postgres_url  # noqa: F401

KEY = "sk-ant-secret-123"
TENANT = fa.define_tenant("acme", "1")


def assert_hidden(value, secret: str) -> None:
    """``secret`` shows nowhere: python dump, JSON dump, repr and str."""
    for shown in (repr(value), str(value), repr(value.model_dump()),
                  repr(value.model_dump(by_alias=True)), value.model_dump_json(),
                  value.model_dump_json(by_alias=True)):
        assert secret not in shown, shown
    assert "**********" in value.model_dump_json()


def test_provider_api_keys_are_secret_str() -> None:
    spec = fa.define_runtime(TENANT, providers={"anthropic": {"apiKey": KEY, "maxTokens": 64}})
    assert isinstance(spec.providers["anthropic"]["apiKey"], SecretStr)
    assert spec.providers["anthropic"]["maxTokens"] == 64
    assert_hidden(spec, KEY)
    assert reveal(spec.providers["anthropic"]["apiKey"]) == KEY
    assert AnthropicInterpreter.from_providers(spec.providers).api_key == KEY


def test_a_dumped_key_is_refused_and_api_key_env_names_the_variable(monkeypatch) -> None:
    spec = fa.define_runtime(TENANT, providers={"anthropic": {"apiKey": KEY}})
    travelled = fa.RuntimeSpec.model_validate_json(spec.model_dump_json(by_alias=True))
    with pytest.raises(ValueError, match="apiKeyEnv"):
        AnthropicInterpreter.from_providers(travelled.providers)
    monkeypatch.setenv("SHOP_ANTHROPIC_KEY", KEY)
    portable = fa.define_runtime(TENANT, providers={
        "anthropic": {"apiKeyEnv": "SHOP_ANTHROPIC_KEY"}})
    wire = portable.model_dump_json(by_alias=True)
    assert KEY not in wire
    again = fa.RuntimeSpec.model_validate_json(wire)
    assert AnthropicInterpreter.from_providers(again.providers).api_key == KEY
    monkeypatch.delenv("SHOP_ANTHROPIC_KEY")
    with pytest.raises(ValueError, match="SHOP_ANTHROPIC_KEY"):
        AnthropicInterpreter.from_providers(again.providers)


def test_store_and_toolkit_configs_hide_passwords_and_tokens() -> None:
    store = fa.StorageFactorySpec(kind="postgres",
                                  config={"url": "postgresql://app:hunter2@db:5432/shop"})
    assert_hidden(store, "hunter2")
    assert "postgresql://app:**********@db:5432/shop" in repr(store)
    kit = fa.ToolkitSpec(id="github", config={"mcp": {"env": {"GITHUB_TOKEN": "ghp_abc"},
                                                      "headers": {"Authorization": "Bearer x1"},
                                                      "command": ["srv"]}})
    assert_hidden(kit, "ghp_abc")
    assert "Bearer x1" not in kit.model_dump_json()
    assert reveal(kit.config)["mcp"]["env"]["GITHUB_TOKEN"] == "ghp_abc"
    assert kit.config["mcp"]["command"] == ["srv"]


def test_database_urls_hide_their_password() -> None:
    config = fa.DataEnvironmentConfig(
        target_database_url="postgresql://app:hunter2@db/shop",
        catalog={"kind": "postgres", "url": "postgres://cat:pw-2@db/cat"})
    assert_hidden(config, "hunter2")
    assert "pw-2" not in config.model_dump_json() and "pw-2" not in repr(config)
    assert reveal(config.target.url) == "postgresql://app:hunter2@db/shop"
    plain = fa.DataEnvironmentConfig(target_database_url="postgresql://app@db/shop")
    assert plain.target_database_url == "postgresql://app@db/shop"  # nothing to hide


def test_errors_about_a_url_do_not_show_its_password() -> None:
    with pytest.raises(ValueError) as info:
        fa.DataEnvironmentConfig(target_database_url="mysql://app:hunter2@db/shop")
    assert "hunter2" not in str(info.value) and "mysql://app:**********@db/shop" in str(info.value)


@pytest.mark.postgres
def test_a_postgres_store_with_a_password_opens_and_traces_never_show_it(
        fresh_postgres_url: str) -> None:  # noqa: F811
    url = fresh_postgres_url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth ignores it
    spec = fa.define_runtime(
        TENANT, storage_factories={"kv": {"kind": "postgres", "config": {"url": url}}},
        providers={"anthropic": {"apiKey": KEY}, "scripted": {"scripts": {"c": [{"text": "hi"}]}}},
        agents=[fa.define_coordinator("c", model="m", prompt="p")])
    assert "s3cret-pw" not in repr(spec) and "s3cret-pw" not in spec.model_dump_json()
    rt = fa.create_runtime(spec, interpreter="scripted")

    async def go() -> list[dict]:
        return [event async for event in rt.query("hello", "t1")]

    events = asyncio.run(go())
    trace = rt.get_trace(events[-1]["traceId"])
    text = json.dumps(trace) + json.dumps(events) + repr(rt)
    assert "s3cret-pw" not in text and KEY not in text
    rt.close()
