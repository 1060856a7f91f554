"""Who is calling: API keys, roles, and what each role may do."""
