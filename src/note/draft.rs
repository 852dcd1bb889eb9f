//! The draft (always unsigned) and its JSON contract.
