"""The vendored NeevCloud VM Service OpenAPI document (package data)."""
