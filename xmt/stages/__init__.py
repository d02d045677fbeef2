"""Stages from files to files: load and check the inputs, run a method, write the artifacts."""
