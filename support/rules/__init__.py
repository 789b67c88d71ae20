"""The case's rules, one concern a module: opening, terms, resolution, what each side owes."""
