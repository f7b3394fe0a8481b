"""Personal data as it may appear in responses and logs."""

from __future__ import annotations

import re


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


# --- personal numbers inside free text (work orders, transcripts, comments, log lines) -------

# Digits as the recogniser writes them in transcripts (幺三八...) and full-width digits, each
# mapped one to one so a match's offsets are the original text's offsets.
_DIGIT_LIKE = str.maketrans({
    **dict.fromkeys("零〇洞", "0"), **dict.fromkeys("一幺", "1"), **dict.fromkeys("二两", "2"),
    "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
    **{chr(0xFF10 + d): str(d) for d in range(10)},
})
# Runs of digits, single spaces or dashes between them allowed (138 0013 8000, 010-12345678),
# an ID number's final X included; not part of a longer word (GD261130000001, E123456789).
_RUN = re.compile(r"(?<![0-9A-Za-z])\+?[0-9](?:[ -]?[0-9])*(?:[ -]?[Xx])?(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?:86)?1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[1-9][0-9]{8,10}")
_ID = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
# Kept in sight: the start only. The last 4 digits of an ID or phone number are what a caller
# verifies an order look-up with, so free text never shows them.
_KEEP = {"mobile": 3, "landline": 3, "id": 4}


def _kind(digits: str) -> str | None:
    if _ID.fullmatch(digits):
        return "id"
    if _MOBILE.fullmatch(digits):
        return "mobile"
    if _LANDLINE.fullmatch(digits):
        return "landline"
    return None


def mask_text(text: str) -> str:
    """Phone and ID numbers found in free text, masked: 请回电13800138000 -> 请回电138********."""
    shadow = text.translate(_DIGIT_LIKE)
    if shadow == text and not any(c.isdigit() for c in text):
        return text
    out = list(text)
    for run in _RUN.finditer(shadow):
        # Chunks between separators; numbers written one after another are found one by one.
        chunks: list[list[int]] = [[]]
        for i in range(run.start(), run.end()):
            if shadow[i] in " -+":
                if chunks[-1]:
                    chunks.append([])
            else:
                chunks[-1].append(i)
        start = 0
        while start < len(chunks):
            for end in range(len(chunks), start, -1):
                positions = [i for chunk in chunks[start:end] for i in chunk]
                digits = "".join(shadow[i] for i in positions).upper()
                kind = _kind(digits)
                if kind is not None:
                    keep = _KEEP[kind] + (2 if digits.startswith("86") and kind == "mobile"
                                          else 0)
                    for i in positions[keep:]:
                        out[i] = "*"
                    start = end
                    break
            else:
                start += 1
    return "".join(out)
