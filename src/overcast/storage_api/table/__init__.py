"""The Table service of the Storage endpoints."""
