//! Top-level error and exit codes; each stage keeps its own error enum.
