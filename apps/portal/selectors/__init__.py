"""The portal's own read queries: warehouse SQL with parameters, ORM for the metadata DB."""
