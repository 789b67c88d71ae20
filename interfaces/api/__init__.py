"""The HTTP API for integrators (FastAPI): the routes, their documentation pages."""
