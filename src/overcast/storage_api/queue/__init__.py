"""The Queue service of the Storage endpoints."""
