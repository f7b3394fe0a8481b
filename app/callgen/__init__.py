"""Test calls: SIPp scenarios generated for a DTMF/speech script."""
