import argparse

from app.config import Settings


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    return 0
