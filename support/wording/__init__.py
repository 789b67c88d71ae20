"""The shapes of text accepted and how things are said: display, reasons, names, excerpts."""
