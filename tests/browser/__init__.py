"""Tests driven through a real Chromium."""
