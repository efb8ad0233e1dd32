"""Bundled configurations: the default AI-copyright watchlist and examples."""
