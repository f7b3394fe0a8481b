"""Prompt synthesis (pyttsx3 + espeak-ng) and its cache."""
