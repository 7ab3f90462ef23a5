import EnvelopeCrypto
import Foundation
import VaultAPI

/// One KEK version created by ``LocalVault/rotateKEKs(context:environmentID:)``. Names and
/// numbers only, never a key.
public struct KEKRotation: Sendable, Hashable {
    public let contextKey: String
    public let contextValue: String
    /// The new newest version of the pair (1 if the pair had no KEK yet).
    public let version: Int
}

/// What ``LocalVault/rewrapStoredObjects(batchSize:progress:)`` did (so far, in a progress report).
public struct RewrapProgress: Sendable, Hashable {
    /// Object versions read.
    public var scanned = 0
    /// Object versions whose `encrypted_keys` were re-wrapped to the newest KEK versions.
    public var rewrapped = 0
    /// Object versions already under the newest versions (or under customer keys only).
    public var skipped = 0
}

/// The answer of ``LocalVault/retireKEKVersions(contextKey:contextValue:below:environmentID:)``.
public enum KEKRetirement: Sendable, Hashable {
    /// The versions below the bound were retired (`count` of them, 0 if they were already).
    case retired(count: Int)
    /// Refused: `objectVersions` stored object versions still have a data key wrapped under one
    /// of them (run `vault admin rewrap` first). Nothing changed.
    case inUse(objectVersions: Int)
}

extension LocalVault {
    /// Opens the vault holding the store's lock exclusively: refused while any other vault (in
    /// this process or another, such as a running `vault serve`) has the store open, and no other
    /// can open it until this one is released. The `vault admin` KEK commands use it, because an
    /// open vault caches its KEKs: it would keep wrapping under a pair's previous newest version
    /// after a rotation, and keep unwrapping with a version retired elsewhere.
    /// - Throws: ``LocalVaultError`` as ``init(configuration:)``, or when the store is in use.
    public static func openExclusively(configuration: LocalVaultConfiguration) throws -> LocalVault {
        try LocalVault(configuration: configuration, exclusive: true)
    }

    /// Adds a new KEK version for every pair of `context` in `environmentID`: new data keys are
    /// wrapped under it at once in this vault; data keys wrapped under older versions still open.
    /// Nothing is re-encrypted. Customer-key (BYOK) pairs are skipped: their provider rotates them.
    ///
    /// Other vaults open on the store keep their cached newest version for up to their
    /// ``LocalVaultConfiguration/kekCacheTTL`` (until they restart when it is nil). A vault that
    /// records events records each new version as `vault.kek.created` by ``adminActor``.
    /// - Throws: ``LocalVaultError`` (422 for an invalid context).
    public func rotateKEKs(context: KeyContext, environmentID: String) async throws -> [KEKRotation] {
        do {
            try context.validate()
        } catch {
            throw LocalVaultError.invalidKeyContext(error)
        }
        var rotations: [KEKRotation] = []
        for (contextKey, contextValue) in context.sortedPairs where !isCustomerPair(contextKey, contextValue) {
            let name = KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue)
            let kek = try await keks.rotate(name)
            try await recordKEKEvents(.kekCreated, [kek.id], of: name, actor: Self.adminActor)
            rotations.append(KEKRotation(contextKey: contextKey, contextValue: contextValue, version: kek.version))
        }
        return rotations
    }

    /// Rotates every pair (of every environment) whose newest KEK version was created before
    /// `now - maxAge`: the engine side of a `--kek-max-age` policy. Pairs configured with a
    /// customer key are skipped.
    ///
    /// Safe to run from every process sharing a store at once: the store lets one rotate at a
    /// time and reads the due pairs under its lock, so each due pair gets one new version (the
    /// others rotate nothing). Other vaults see the new version within their
    /// ``LocalVaultConfiguration/kekCacheTTL``. A vault that records events records each new
    /// version as `vault.kek.created` by ``rotationPolicyActor``.
    /// - Returns: the versions created, with their environment.
    public func rotateKEKs(
        olderThan maxAge: Duration,
        now: Date = Date()
    ) async throws -> [(
        environmentID: String, rotation: KEKRotation
    )] {
        let cutoff = now.storedMilliseconds - maxAge.storedMilliseconds
        let customerPairs = Set(customerPairKeys)
        let rotated = try await keks.rotateDue(newestCreatedBefore: cutoff) { name in
            !customerPairs.contains("\(name.contextKey)\u{0}\(name.contextValue)")
        }
        for (name, kek) in rotated {
            try await recordKEKEvents(.kekCreated, [kek.id], of: name, actor: Self.rotationPolicyActor)
        }
        return rotated.map { name, kek in
            (
                name.environmentID,
                KEKRotation(contextKey: name.contextKey, contextValue: name.contextValue, version: kek.version)
            )
        }
    }

    /// The newest KEK version of a pair, nil if it has none.
    public func newestKEKVersion(contextKey: String, contextValue: String, environmentID: String) async throws -> Int? {
        try await storage.newestKEKVersion(
            of: KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue)
        )
    }

    /// Re-wraps the data keys of stored object versions to the newest KEK versions of their
    /// contexts, without touching their ciphertext: only the `encrypted_keys` part of each sealed
    /// value is replaced (the value's associated data binds the object id, not the keys). The
    /// etag, computed over the sealed bytes when the version was written, is kept: the value and
    /// its ciphertext did not change.
    ///
    /// Batched (`batchSize` versions per transaction) and resumable: versions already under the
    /// newest versions are skipped, so a run stopped half-way is finished by running it again.
    /// Deleted objects not yet purged are included. `progress` is called after each batch has
    /// committed, with the totals so far; a throw from it stops the run there (the batches
    /// reported stay re-wrapped) and is rethrown: running again finishes the rest.
    public func rewrapStoredObjects(
        batchSize: Int = 500,
        progress: (RewrapProgress) throws -> Void = { _ in }
    ) async throws -> RewrapProgress {
        var totals = RewrapProgress()
        var after: String?
        while true {
            let versions = try await storage.objectVersions(after: after, limit: max(batchSize, 1))
            guard let last = versions.last else { break }
            after = last.id
            var replacements: [SealedValueReplacement] = []
            for version in versions {
                totals.scanned += 1
                if let rewrapped = try await rewrapped(version) {
                    replacements.append(
                        SealedValueReplacement(versionID: version.id, old: version.sealedValue, new: rewrapped)
                    )
                } else {
                    totals.skipped += 1
                }
            }
            // Each compared with the bytes read: a version written meanwhile is left for the next run.
            let changed = try await storage.replaceSealedValues(replacements)
            totals.rewrapped += changed
            totals.skipped += replacements.count - changed
            try progress(totals)
        }
        return totals
    }

    /// Refuses while a stored object version still uses a version of the pair below `version`;
    /// otherwise retires those versions: they no longer unwrap (a blob under one of them gets the
    /// same 400 as a foreign blob) and are never used again. `encrypted_keys` held by clients
    /// cannot be counted: they stop opening too. The newest version cannot be retired.
    /// - Throws: ``LocalVaultError`` (422 when `version` is above the pair's newest version).
    public func retireKEKVersions(
        contextKey: String,
        contextValue: String,
        below version: Int,
        environmentID: String
    ) async throws -> KEKRetirement {
        let newest =
            try await newestKEKVersion(contextKey: contextKey, contextValue: contextValue, environmentID: environmentID)
            ?? 0
        guard version <= newest else {
            throw LocalVaultError(
                .unprocessable,
                "the bound is above the pair's newest key-encrypting key version, which cannot be retired"
            )
        }
        let name = KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue)
        let ids = try await storage.activeKEKIDs(of: name, below: version)
        guard !ids.isEmpty else { return .retired(count: 0) }
        let inUse = try await countObjectVersions(usingAnyOf: ids)
        guard inUse == 0 else { return .inUse(objectVersions: inUse) }
        let count = try await storage.retireKEKs(of: name, below: version, at: Date().storedMilliseconds)
        keks.forget(ids: ids)
        // Right after the retirement commits (a retirement is an operator's act, and rare).
        try await recordKEKEvents(.kekDeleted, ids, of: name, actor: Self.adminActor)
        return .retired(count: count)
    }

    /// The stored object versions whose `encrypted_keys` hold an entry under one of `kekIDs`.
    func countObjectVersions(usingAnyOf kekIDs: Set<String>) async throws -> Int {
        var count = 0
        var after: String?
        while true {
            let versions = try await storage.objectVersions(after: after, limit: 500)
            guard let last = versions.last else { return count }
            after = last.id
            for version in versions {
                guard let blob = try? EnvelopeBlob(parsing: version.sealedValue, layout: .a),
                    let keys = KeysBlob(parsing: blob.encryptedKeys)
                else { continue }
                if keys.entries.contains(where: { $0.kind == .vault && kekIDs.contains($0.kekID) }) { count += 1 }
            }
        }
    }

    /// The sealed value with its `encrypted_keys` under the newest KEK versions, or nil when it
    /// already is (or holds no Vault-managed entry, or does not parse: left as it is).
    private func rewrapped(_ row: StoredVersionValue) async throws -> [UInt8]? {
        guard let blob = try? EnvelopeBlob(parsing: row.sealedValue, layout: .a),
            let keys = KeysBlob(parsing: blob.encryptedKeys),
            let context = try? JSONDecoder().decode(KeyContext.self, from: Data(row.contextJSON.utf8))
        else { return nil }
        var newest: Set<String> = []
        for (contextKey, contextValue) in context.sortedPairs where !isCustomerPair(contextKey, contextValue) {
            let name = KEKName(
                environmentID: row.environmentID,
                contextKey: contextKey,
                contextValue: contextValue
            )
            newest.insert(try await keks.kek(for: name).id)
        }
        let current = Set(keys.entries.filter { $0.kind == .vault }.map(\.kekID))
        guard !newest.isEmpty, current != newest else { return nil }
        let key = try await decryptDataKey(
            encryptedKeys: blob.encryptedKeys,
            environmentID: row.environmentID,
            origin: .storedObject
        ).key
        let issued = try await wrap(key, id: keys.dataKeyID, context: context, environmentID: row.environmentID)
        guard
            let spliced = Self.replacingEncryptedKeys(
                of: row.sealedValue,
                old: blob.encryptedKeys,
                with: issued.encryptedKeys
            ),
            let check = try? EnvelopeBlob(parsing: spliced, layout: .a),
            (try? check.open(with: key, associatedData: Self.associatedData(objectID: row.objectID))) != nil
        else { return nil }
        return spliced
    }

    /// Layout A is IV (12) | tag (16) | LEB128(keys length) | keys | ciphertext: the keys part is
    /// replaced, every other byte kept. Nil unless the blob is in exactly that form.
    static func replacingEncryptedKeys(of sealed: [UInt8], old: [UInt8], with new: [UInt8]) -> [UInt8]? {
        let header = 12 + 16
        var oldLength: [UInt8] = []
        LEB128.append(UInt32(old.count), to: &oldLength)
        let keysStart = header + oldLength.count
        let ciphertextStart = keysStart + old.count
        guard sealed.count >= ciphertextStart, sealed[header..<keysStart].elementsEqual(oldLength),
            sealed[keysStart..<ciphertextStart].elementsEqual(old)
        else { return nil }
        var result = Array(sealed[..<header])
        LEB128.append(UInt32(new.count), to: &result)
        result.append(contentsOf: new)
        result.append(contentsOf: sealed[ciphertextStart...])
        return result
    }

    private func isCustomerPair(_ contextKey: String, _ contextValue: String) -> Bool {
        customerKey(contextKey: contextKey, contextValue: contextValue) != nil
    }
}
