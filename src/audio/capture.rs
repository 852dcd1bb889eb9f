//! The only user of cpal: input device choice, and the audio callback handing samples to a worker.
