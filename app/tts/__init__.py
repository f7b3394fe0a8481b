"""Voice prompts: the catalog (catalog), numbers as callers hear them (say), what the engine is
given (text), synthesis and its cache (synth, worker, build), where files live and the media URIs
the PBX plays them by (paths), and `hotline prompts` (cli)."""
