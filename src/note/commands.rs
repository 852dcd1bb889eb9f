//! Spoken headings and commands ("objective", "scratch that", "for my notes", ...) found and obeyed.
