"""Signed webhooks that tell a CMS back end when its task has ended."""
