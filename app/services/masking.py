"""Personal data as it may appear in responses and logs."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """110101199003071234 -> 1101**********1234"""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """13800138000 -> 138****8000"""
    if value is None:
        return None
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """张三丰 -> 张**: the surname is enough for an agent to address the passenger."""
    return value[:1] + "*" * (len(value) - 1) if value else value
