"""The knowledge base agents search during a call."""
