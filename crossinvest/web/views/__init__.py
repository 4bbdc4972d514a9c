"""One module per page (and per API area); each exposes ``router``."""
