"""Test data that travels with the repository (no path outside the checkout)."""

from pathlib import Path

# Labelled Mandarin caller utterances: labels.tsv, pcm8k/, ulaw8k/, entities/.
SPEECH = Path(__file__).resolve().parent / "speech"
