"""Digest templates (Jinja2), shipped inside the package; `templates_dir` overrides them."""
