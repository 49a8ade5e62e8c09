"""The nouns and rules every stage shares: types, errors, identity hashing, records on disk, config,
text and number formatting, metric specs and the Task seam. Imports nothing above it."""
