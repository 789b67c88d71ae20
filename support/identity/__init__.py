"""Who may do what (roles, tenants, staff teams), the directory, one-time codes."""
