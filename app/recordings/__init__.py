"""Recordings of callers' conversations with agents: made by the PBX, finalised, verified,
kept, exported and served by the platform."""
