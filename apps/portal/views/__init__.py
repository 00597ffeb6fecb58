"""Portal pages: thin views that validate GET filters, call selectors and render (read-only)."""
