"""Who an agent is on SIP: endpoint names, digest credentials (HA1 only), 工号 and skills."""

from __future__ import annotations

import hashlib
import re

# The digest realm of every agent credential; part of the stored HA1, so never change it
# without resetting every agent's password.
SIP_REALM = "hotline"
ENDPOINT_PREFIX = "agent-"

NUMBER = re.compile(r"^[0-9]{4,6}$")
SKILLS = (
    "ticket", "refund_change", "train_status", "lost_found", "complaint", "assistance", "english",
)
MIN_LEVEL, MAX_LEVEL = 1, 9


class IdentityError(ValueError):
    """Bad agent input; the message says what is wrong and what is allowed."""


def check_number(number: str) -> str:
    if not NUMBER.match(number):
        raise IdentityError(f"工号 {number!r} is not valid: use 4 to 6 digits, e.g. 1001")
    return number


def endpoint_name(number: str) -> str:
    """The pjsip endpoint, aor and auth name, and the softphone's SIP user: agent-NO."""
    return ENDPOINT_PREFIX + number


def number_from_endpoint(name: str) -> str | None:
    """The 工号 of an agent endpoint name, or None for any other endpoint."""
    if name.startswith(ENDPOINT_PREFIX):
        number = name[len(ENDPOINT_PREFIX):]
        if NUMBER.match(number):
            return number
    return None


def number_from_channel(channel_name: str) -> str | None:
    """The 工号 from a channel name like PJSIP/agent-1001-0000002a."""
    tech, _, rest = channel_name.partition("/")
    if tech.upper() != "PJSIP":
        return None
    endpoint, _, _ = rest.rpartition("-")
    return number_from_endpoint(endpoint)


def sip_ha1(number: str, password: str) -> str:
    """md5("NO:hotline:password"), what pjsip's md5_cred takes; the password is not kept."""
    return hashlib.md5(f"{number}:{SIP_REALM}:{password}".encode()).hexdigest()


def parse_skills(text: str) -> dict[str, int]:
    """`ticket:5,refund_change:3` -> {"ticket": 5, "refund_change": 3}; a bare skill is level 1."""
    skills: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, level_text = part.partition(":")
        name = name.strip()
        if name not in SKILLS:
            raise IdentityError(f"unknown skill {name!r}; known skills: {', '.join(SKILLS)}")
        try:
            level = int(level_text) if sep else MIN_LEVEL
        except ValueError:
            raise IdentityError(
                f"skill {name}: level {level_text!r} is not a number ({MIN_LEVEL}-{MAX_LEVEL})"
            ) from None
        skills[name] = check_level(name, level)
    return skills


def check_level(skill: str, level: int) -> int:
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise IdentityError(
            f"skill {skill}: level {level} is out of range; use {MIN_LEVEL} to {MAX_LEVEL}"
        )
    return level
