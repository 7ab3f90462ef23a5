/// `RetryPolicy` now lives in VaultHTTP, shared with the customer-key providers; re-exported so
/// that `import WorkOSVault` keeps finding it.
@_exported import struct VaultHTTP.RetryPolicy
