"""Contact center (ACD): centers, agents, skills, states, SIP identities, queues, routing rules,
distribution to agents, callbacks."""
