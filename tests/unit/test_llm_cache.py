"""The response cache: what the key depends on, round trips, counters, and safety across threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import OutputParseError
from membench.core.types import Usage
from membench.llm.cache import ResponseCache, default_cache_path, parsed_by, public_url
from membench.llm.types import LLMResponse

BASE: dict[str, Any] = {
    "model": "openai/fake-model",
    "api_base": "http://127.0.0.1:8000/v1",
    "messages": [{"role": "user", "content": "Where does Ana live?"}],
    "temperature": 0.0,
    "max_tokens": 64,
}


def _response(text: str = "Lisbon") -> LLMResponse:
    usage = Usage(calls=1, prompt_tokens=12, completion_tokens=1, cost_usd=0.002)
    return LLMResponse(text=text, usage=usage, raw={"id": "chatcmpl-1", "finish_reason": "stop"})


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    return ResponseCache(tmp_path / "llm.sqlite")


def test_key_ignores_transport_settings_and_credentials() -> None:
    transport = {"timeout": 5, "num_retries": 3, "max_retries": 2, "api_key": "sk-abc", "max_connections": 9}
    assert ResponseCache.key({**BASE, **transport}) == ResponseCache.key(BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.7},
        {"messages": [{"role": "user", "content": "Where does Bo live?"}]},
        {"model": "openai/other-model"},
        {"max_tokens": 65},
        {"response_format": {"type": "json_object"}},
        {"seed": 1},
        {"top_p": 0.5},
        {"api_base": "http://127.0.0.1:9000/v1"},
    ],
)
def test_key_changes_with_everything_that_decides_the_output(change: dict[str, Any]) -> None:
    assert ResponseCache.key({**BASE, **change}) != ResponseCache.key(BASE)


def test_key_is_canonical_and_drops_url_credentials() -> None:
    assert ResponseCache.key(dict(reversed(list(BASE.items())))) == ResponseCache.key(BASE)
    with_password = {**BASE, "api_base": "http://user:hunter22@127.0.0.1:8000/v1/"}
    assert ResponseCache.key(with_password) == ResponseCache.key(BASE)
    assert public_url("https://u:p@example.org:8443/v1") == "https://example.org:8443/v1"


def test_round_trip_marks_cached_and_counts_hits_and_misses(cache: ResponseCache) -> None:
    key = ResponseCache.key(BASE)
    assert cache.get(key) is None
    cache.put(key, _response(), model="openai/fake-model")
    hit = cache.get(key)
    assert hit is not None
    assert (hit.text, hit.cached, hit.usage, hit.raw) == ("Lisbon", True, _response().usage, _response().raw)
    assert cache.stats() == {"hits": 1, "misses": 1}
    assert len(cache) == 1


def test_entries_survive_reopening_and_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "llm.sqlite"
    first = ResponseCache(path)
    first.put("k", _response("Porto"))
    first.close()
    second = ResponseCache(path)
    hit = second.get("k")
    assert hit is not None and hit.text == "Porto"
    second.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_empty_responses_are_never_stored(cache: ResponseCache) -> None:
    with pytest.raises(ValueError, match="empty"):
        cache.put("k", _response("  \n"))
    assert len(cache) == 0


def test_a_stored_reply_its_caller_cannot_use_is_a_miss(cache: ResponseCache) -> None:
    key = ResponseCache.key(BASE)
    cache.put(key, _response("garbage"))  # stored before its caller checked replies
    assert cache.get(key, usable=lambda text: text != "garbage") is None
    assert cache.get(key, usable=lambda text: True) is not None
    assert cache.stats() == {"hits": 1, "misses": 1}


def test_parsed_by_accepts_exactly_what_its_parse_accepts() -> None:
    def parse(text: str) -> int:
        if not text.isdigit():
            raise OutputParseError("not a number")
        return int(text)

    usable = parsed_by(parse)
    assert usable("42") and not usable("forty-two")


def test_concurrent_threads_share_one_cache(cache: ResponseCache) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                key = f"{n}-{i}"
                cache.put(key, _response(f"answer {key}"))
                hit = cache.get(key)
                assert hit is not None and hit.text == f"answer {key}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) == 200
    assert cache.stats() == {"hits": 200, "misses": 0}


def test_default_location_follows_membench_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMBENCH_CACHE_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "llm.sqlite"
    monkeypatch.delenv("MEMBENCH_CACHE_DIR")
    assert default_cache_path() == Path.home() / ".cache" / "membench" / "llm.sqlite"
