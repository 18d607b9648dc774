"""A search index per language (issue 11, section 4): placeholder, being written."""
