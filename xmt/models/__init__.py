"""Classifier (backbone + bottleneck + head), translators and discriminators."""
