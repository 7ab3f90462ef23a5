// What `import WorkOSVault` brings with it: every type its public API mentions.

/// Blob layouts and the envelope format (``Vault/encrypt(_:context:associatedData:layout:)``).
@_exported import EnvelopeCrypto
/// Key contexts, objects, list queries, events: the wire types of the Vault API.
@_exported import VaultAPI

/// Retries of the REST client; defined in VaultHTTP, shared with the customer-key providers.
@_exported import struct VaultHTTP.RetryPolicy
