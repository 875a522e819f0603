"""The Agent2Agent (A2A) protocol endpoint: each assistant is an A2A agent."""
