//! Guards against invented text: silence, repetition loops, prompt echo and no-speech segments.
