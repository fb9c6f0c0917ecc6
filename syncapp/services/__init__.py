"""Services: glue between settings, the ORM, the API clients and the sync engine."""
