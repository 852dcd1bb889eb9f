//! The Markdown rendering of a draft and of the private process note.
