"""Who is calling: authenticators, the middleware that runs them, and API keys."""
