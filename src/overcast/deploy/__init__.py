"""Deployment artefacts for an app: Kubernetes manifests with KEDA autoscaling, and a Dockerfile.

The job of ``func kubernetes deploy --dry-run``: read the app, split its functions into the HTTP deployment and
the background deployment, and write what a cluster needs to run them on a shared PostgreSQL store.
"""
