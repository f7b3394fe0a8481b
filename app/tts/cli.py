"""`hotline prompts ...` commands."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `prompts` command group to the top-level parser."""
