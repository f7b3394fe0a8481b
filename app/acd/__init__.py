"""Automatic call distribution: centers, agents, skills, queues, routing rules, callbacks."""
