"""Claim follow-up: every observation of a claim kept, whether it is final, when to ask again,
the follow-up jobs and what changed (docs/architecture.md)."""
