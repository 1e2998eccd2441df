"""The verbs of the `streamse` command line, one module per job; each has `register(sub)`."""
