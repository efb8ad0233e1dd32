"""Where entries come from: `base` holds the interface every source implements; the
built-in sources live beside it and are registered by entry point like any other."""
