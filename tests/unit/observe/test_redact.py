"""Masking secrets in log lines and error texts (observe/redact.py)."""

from __future__ import annotations

import pytest

from overcast.observe.redact import mask, register


@pytest.mark.parametrize(("text", "expected"), [
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc+/d==;EndpointSuffix=core.windows.net",
     "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net"),
    ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=XyZ=",
     "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=***"),
    ("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2020&ss=b&sig=zz%3D",
     "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=***"),
    ("GET https://a.blob.core.windows.net/c/b?sv=2020-08-04&ss=b&sig=AbCd%2Bef&se=2030 failed",
     "GET https://a.blob.core.windows.net/c/b?sv=2020-08-04&ss=b&sig=***&se=2030 failed"),
    ("postgresql://user:hunter2@db:5432/x", "postgresql://user:***@db:5432/x"),
    ("redis://:p4ss@cache:6379/0", "redis://:***@cache:6379/0"),
    ("amqp://guest:guest@localhost//", "amqp://guest:***@localhost//"),
    ("Server=tcp:x;Database=d;User ID=u;Password=p@ss w;Encrypt=True",
     "Server=tcp:x;Database=d;User ID=u;Password=*** w;Encrypt=True"),
    ("AccountEndpoint=https://c.documents.azure.com:443/;AccountKey=C2y6yDjf5==;",
     "AccountEndpoint=https://c.documents.azure.com:443/;AccountKey=***;"),
    ("http://127.0.0.1:7071/api/x?code=abcdef&y=1", "http://127.0.0.1:7071/api/x?code=***&y=1"),
    # Not secrets: left alone.
    ("Executed 'Functions.x' (Succeeded, Id=1234, Duration=3ms)",
     "Executed 'Functions.x' (Succeeded, Id=1234, Duration=3ms)"),
    ("http://localhost:7071/api/hello", "http://localhost:7071/api/hello"),
    ("UseDevelopmentStorage=true", "UseDevelopmentStorage=true"),
    ("the key vault reference @Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x)",
     "the key vault reference @Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x)"),
])
def test_mask(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_registered_values_are_masked_anywhere() -> None:
    register("a-registered-key-value-0123456789", None, "short")
    assert mask("sent x-functions-key a-registered-key-value-0123456789.") == "sent x-functions-key ***."
    assert mask("short stays") == "short stays"  # too short to be a key; masking it would garble text
