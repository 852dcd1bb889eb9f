//! Standardised assessment scores (PHQ-9, GAD-7, ...) as dictated, with their severity bands.
