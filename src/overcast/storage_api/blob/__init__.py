"""The Blob service of the Storage endpoints (port 10000): containers, block and append blobs on the embedded store."""
