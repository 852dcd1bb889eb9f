//! The section classifier for SOAP and DAP notes.
