"""Domain services: the business rules both the IVR and the HTTP API call."""
