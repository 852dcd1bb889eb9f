//! Where files go: atomic writes, owner-only permissions, never clobbering a draft the clinician edited.
