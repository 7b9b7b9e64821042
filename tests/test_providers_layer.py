"""The provider layer's contract: it imports nothing above it, and the one error tree, retry
policy, key list and budget guard behave as every stage relies on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from viewfinder.errors import FatalRunError, ItemFailed, RetryableError, StopRun
from viewfinder.providers.budget import BudgetGuard
from viewfinder.providers.keys import Masker, key_variables, providers
from viewfinder.providers.retry import RETRYABLE_STATUS, retry_after

PROVIDERS = Path(__file__).resolve().parent.parent / "viewfinder" / "providers"
ALLOWED = ("viewfinder.providers", "viewfinder.errors", "viewfinder.store", "viewfinder.study")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted(PROVIDERS.glob("*.py")), ids=lambda p: p.name)
def test_providers_import_only_lower_layers(path: Path) -> None:
    ours = {name for name in imported_modules(path) if name.startswith("viewfinder")}
    assert {name for name in ours if not name.startswith(ALLOWED)} == set()


def test_one_error_tree_and_one_retryable_set() -> None:
    assert StopRun is FatalRunError
    assert RetryableError("x", retry_after=2.5).retry_after == 2.5
    assert not issubclass(ItemFailed, RetryableError) and not issubclass(RetryableError, ItemFailed)
    assert {429, 500, 502, 503, 504, 408} <= RETRYABLE_STATUS
    assert not RETRYABLE_STATUS & {400, 401, 402, 403, 404, 422}
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({}) is None


def test_every_provider_declares_its_key_and_the_masker_uses_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert key_variables() == ("FAL_KEY", "OPENAI_API_KEY", "REPLICATE_API_TOKEN", "BFL_API_KEY")
    assert all(p.base_url_env for p in providers())
    for name in key_variables():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAL_KEY", "key-id-1234:key-secret-5678")
    monkeypatch.setenv("BFL_API_KEY", "bfl-secret-abcdef")
    masker = Masker.from_env("[redacted]")
    text = "auth key-id-1234:key-secret-5678 then key-secret-5678 and bfl-secret-abcdef, not ok"
    assert masker.mask(text) == "auth [redacted] then [redacted] and [redacted], not ok"


def test_the_budget_guard_holds_money_for_requests_in_flight() -> None:
    ledger = [0.30]
    guard = BudgetGuard(limit=1.0, spent=lambda: ledger[0])
    assert guard.reserve(0.3) and guard.reserve(0.3)  # 0.3 spent + 0.6 held
    assert not guard.reserve(0.3) and guard.stopped  # 1.2 would pass the limit
    assert not guard.reserve(0.01)  # stopped for good: later, cheaper requests are not tried
    guard.release(0.3)
    ledger[0] += 0.25  # the request's real cost reached the ledger
    assert guard.total_with(0.0) == pytest.approx(0.85)
    unlimited = BudgetGuard(limit=None, spent=lambda: 1e9)
    assert unlimited.reserve(5.0) and unlimited.reserved == 5.0
