//! Session information (client, date, duration, modality, type, number) for the note header.
