//! Day's-end batch driver: a folder of memos becomes a review queue of drafts.
