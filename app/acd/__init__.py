"""Contact center (ACD): centers, agents, skills, agent states, SIP identities, feature codes."""
