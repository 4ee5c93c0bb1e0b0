"""The spec layer: the vendored NeevCloud VM Service OpenAPI document → operations and flattened tool schemas.

Pure (stdlib only): no MCP, no HTTP. `openapi` reads and resolves the document; `compact` trims descriptions that
only restate a schema's own constraints.
"""
