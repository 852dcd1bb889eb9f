//! Speech and pause detection shared by live chunking, batch silence skipping and the silence guard.
