"""Who sees phone and ID numbers written inside free text (work orders, comments, transcripts).

Agents and supervisors handle the case: they call the passenger back, check the ticket, settle
the complaint, so they read the text as it was written. QA staff score how a call was handled,
engineers run the platform, the IVR only files orders, admins manage accounts: none of them
needs a passenger's numbers, so they read the text with the numbers masked.
"""

from __future__ import annotations

from typing import Any

from app.db.models import Role
from app.services.masking import mask_text

SEES_PERSONAL_DATA = frozenset({Role.AGENT, Role.SUPERVISOR})


def text_for(role: Role, text: str) -> str:
    return text if role in SEES_PERSONAL_DATA else mask_text(text)


def detail_for(role: Role, detail: dict[str, Any]) -> dict[str, Any]:
    """A call step's details: its texts (a transcript, a reason) masked for this role."""
    if role in SEES_PERSONAL_DATA:
        return detail
    return {k: mask_text(v) if isinstance(v, str) else v for k, v in detail.items()}
