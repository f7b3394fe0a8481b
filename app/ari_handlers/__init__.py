"""ARI client (REST + WebSocket, ordered per-call dispatch, reconnect) and the Stasis app."""
