"""The ``simsvm`` command, the papermill batch runner and the benchmark (the top of the stack)."""
