"""What a failed order verification counts against."""

from __future__ import annotations

from app.services.throttle import Attempt, ThrottlePolicy


def test_keys_of_an_attempt() -> None:
    policy = ThrottlePolicy(order_max_failures=5, caller_max_failures=10, user_max_failures=50)
    keys = Attempt("E123456789", caller="13800138000", user_id=7).limits(policy)
    assert sorted(keys.values()) == [("caller", 10), ("order", 5), ("user", 50)]
    assert "order:E123456789" in keys and "user:7" in keys
    assert not any("13800138000" in key for key in keys)  # the number only as a hash


def test_callers_without_a_real_number_share_no_key() -> None:
    for caller in ("anonymous", "", None, "unknown", "sip:a@b"):
        assert list(Attempt("E123456789", caller=caller).limits(ThrottlePolicy())) == [
            "order:E123456789"]
