"""Train numbers: the letters that start them, and the keypad keys callers type for them."""

from __future__ import annotations

import enum


class TrainType(enum.StrEnum):
    """The kinds of trains the timetable holds."""

    G = "G"  # high-speed
    D = "D"  # EMU
    C = "C"  # intercity
    Z = "Z"  # direct express
    T = "T"  # express
    K = "K"  # fast


# Every letter a train number may start with (the timetable's types and the rarer L/Y/S runs).
TRAIN_LETTERS = frozenset("GDCZTKLYS")

# Train letters on the keypad, as the prompt explains them (prompt train_number).
KEYPAD_TRAIN_LETTERS = {"1": "G", "2": "D", "3": "K", "4": "Z", "5": "T", "6": "C"}


def train_number_from_keys(keys: str) -> str | None:
    """G101 from the keys 1101 (letter key, then the digits); None when it is not one."""
    if len(keys) < 2 or keys[0] not in KEYPAD_TRAIN_LETTERS or not keys[1:].isdigit():
        return None
    return KEYPAD_TRAIN_LETTERS[keys[0]] + str(int(keys[1:]))
