//! Configuration file (TOML) merged with command-line flags into plain settings.
