import Foundation
import Hummingbird
import LocalVault
import NIOCore
import VaultAPI

/// Binds ``VaultEndpoints`` to the paths of VAULT-API.md section 2: decodes the path, query and
/// body, calls the endpoint with the caller of the authenticated key, and encodes the answer.
struct VaultRoutes {
    let endpoints: VaultEndpoints

    func register(on router: Router<VaultRequestContext>) {
        EventRoutes(endpoints: endpoints).register(on: router)
        let api = router.group("vault/v1")
        // The two hottest routes read and write their JSON by hand (see KeyEndpointJSON).
        api.post("keys/data-key") { request, context in
            let body = try Self.decode(
                CreateDataKeyRequest.self,
                from: context,
                fastPath: KeyEndpointJSON.decodeDataKeyRequest
            )
            let response = try await endpoints.createDataKey(body, caller: context.caller())
            return JSONResponse.make(bytes: KeyEndpointJSON.encode(response), status: .ok)
        }
        api.post("keys/decrypt") { request, context in
            let body = try Self.decode(
                DecryptDataKeyRequest.self,
                from: context,
                fastPath: KeyEndpointJSON.decodeDecryptRequest
            )
            let response = try await endpoints.decryptDataKey(body, caller: context.caller())
            return JSONResponse.make(bytes: KeyEndpointJSON.encode(response), status: .ok)
        }
        api.post("keys/rekey") { request, context in
            let body = try Self.decode(RekeyRequest.self, from: context)
            return try JSONResponse.make(try await endpoints.rekey(body, caller: context.caller()))
        }
        api.get("kv") { request, context in
            let query = try ListObjectsQuery.parse(try URLDecoding.query(request.uri.query))
            var response = try JSONResponse.make(try await endpoints.listObjects(query, caller: context.caller()))
            if query.keyContext != nil {
                response.headers[KeyContextQuery.appliedHeader] = KeyContextQuery.appliedValue
            }
            return response
        }
        api.post("kv") { request, context in
            let body = try Self.decode(CreateObjectRequest.self, from: context)
            return try JSONResponse.make(
                try await endpoints.createObject(body, caller: context.caller()),
                status: .created
            )
        }
        api.get("kv/name/{name}") { request, context in
            let name = try Self.segment("name", of: context)
            let keyContext = try Self.keyContext(of: request)
            return try JSONResponse.make(
                try await endpoints.readObject(named: name, context: keyContext, caller: context.caller())
            )
        }
        api.get("kv/{id}") { request, context in
            let id = try Self.segment("id", of: context)
            let keyContext = try Self.keyContext(of: request)
            return try JSONResponse.make(
                try await endpoints.readObject(id: id, context: keyContext, caller: context.caller())
            )
        }
        api.put("kv/{id}") { request, context in
            let id = try Self.segment("id", of: context)
            let keyContext = try Self.keyContext(of: request)
            let body = try Self.decode(UpdateObjectRequest.self, from: context)
            return try JSONResponse.make(
                try await endpoints.updateObject(id: id, body, context: keyContext, caller: context.caller()),
                status: .created
            )
        }
        api.delete("kv/{id}") { request, context in
            let id = try Self.segment("id", of: context)
            let parameters = try URLDecoding.query(request.uri.query)
            let versionCheck = parameters["version_check"].flatMap { $0.isEmpty ? nil : $0 }
            let keyContext = try KeyContextQuery.parse(parameters)
            return try JSONResponse.make(
                try await endpoints.deleteObject(
                    id: id,
                    versionCheck: versionCheck,
                    context: keyContext,
                    caller: context.caller()
                )
            )
        }
        api.get("kv/{id}/metadata") { request, context in
            let id = try Self.segment("id", of: context)
            let keyContext = try Self.keyContext(of: request)
            return try JSONResponse.make(
                try await endpoints.describeObject(id: id, context: keyContext, caller: context.caller())
            )
        }
        api.get("kv/{id}/versions") { request, context in
            let id = try Self.segment("id", of: context)
            let keyContext = try Self.keyContext(of: request)
            return try JSONResponse.make(
                try await endpoints.listVersions(id: id, context: keyContext, caller: context.caller())
            )
        }
        api.get("kv/{id}/versions/{version}") { request, context in
            let id = try Self.segment("id", of: context)
            guard let version = ObjectVersionSelector(pathSegment: try Self.segment("version", of: context)) else {
                throw APIError.notFound
            }
            let keyContext = try Self.keyContext(of: request)
            return try JSONResponse.make(
                try await endpoints.readObject(id: id, version: version, context: keyContext, caller: context.caller())
            )
        }
    }

    /// The `key_context` query parameter of an object call (see ``KeyContextQuery``).
    static func keyContext(of request: Request) throws(APIError) -> KeyContext? {
        try KeyContextQuery.parse(URLDecoding.query(request.uri.query))
    }

    /// A path parameter, percent-decoded.
    static func segment(_ name: String, of context: VaultRequestContext) throws(APIError) -> String {
        guard let raw = context.parameters[name[...]] else { throw APIError.notFound }
        return try URLDecoding.pathSegment(raw)
    }

    /// The JSON body as `T`. Unknown fields are ignored; errors say what is wrong without
    /// quoting the body. A body that is not UTF-8 (RFC 8259 section 8.1) is 400 whichever field
    /// holds the bad bytes, as a bad percent escape in the path or query is.
    /// - Parameter fastPath: a cheaper reader for the common shape of the body; where it
    ///   answers `nil` the general decoder decides, so that errors stay the same.
    static func decode<T: Decodable>(
        _ type: T.Type,
        from context: VaultRequestContext,
        fastPath: (ByteBuffer) -> T? = { _ in nil }
    ) throws -> T {
        let body = context.requestBody
        guard body.readableBytes > 0 else {
            throw APIError.badRequest("the request body is empty: a JSON object is expected")
        }
        // The fast path reads only valid UTF-8, so the check costs nothing on the hot routes.
        if let value = fastPath(body) { return value }
        guard isValidUTF8(body) else { throw APIError.badRequest("the request body is not valid UTF-8 JSON") }
        do {
            return try VaultJSON.sharedDecoder.decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw ErrorMapping.apiError(for: error)
        } catch let error as KeyContextError {
            throw APIError.unprocessable(error.description)
        }
    }

    /// Whether `body` is well-formed UTF-8, without copying it.
    static func isValidUTF8(_ body: ByteBuffer) -> Bool {
        body.withUnsafeReadableBytes { bytes in
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue: continue
                case .emptyInput: return true
                case .error: return false
                }
            }
        }
    }
}

extension VaultRequestContext {
    /// The engine caller of the authenticated key.
    func caller() throws(APIError) -> VaultCaller { try requireAPIKey().caller }
}
