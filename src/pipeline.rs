//! Samples to transcript to draft: the one path that record, draft and batch all drive.
