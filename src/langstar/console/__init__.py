"""The console: a page in the browser at /ui to chat with, and inspect, the graphs served."""
