"""Where digests go: `base` holds the interface every channel implements; the built-in
channels live beside it and are registered by entry point like any other."""
