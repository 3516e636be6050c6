"""Finding, importing and indexing the user's function app into Overcast's own FunctionSpec model."""
