"""Readers and writers for the file formats herit consumes and produces."""
