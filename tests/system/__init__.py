"""Tests of real processes, HTTP servers, SMTP, PostgreSQL and the browser."""
