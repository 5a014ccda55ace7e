"""Built-in passes of the link pipeline, one module each (the file is named after the pass)."""
