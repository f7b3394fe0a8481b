"""Speech recognition: Vosk model management, recognisers, intents and entities."""
