//! Review flags: what the note lacks or must not contain, each with a plain message.
