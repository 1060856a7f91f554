"""The built-in web app, the embeddable panel and the editor demo pages (no build step)."""

from huajia.web.routes import web_router

__all__ = ["web_router"]
