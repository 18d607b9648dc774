"""The attention explorer (issue 12): placeholder, being written."""
