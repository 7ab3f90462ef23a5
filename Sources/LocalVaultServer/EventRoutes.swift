import Hummingbird
import LocalVault
import VaultAPI

/// `GET /events`: the WorkOS Events API (at the root, as the official SDKs call it), listing the
/// events of the caller's environment.
struct EventRoutes {
    let endpoints: VaultEndpoints

    func register(on router: Router<VaultRequestContext>) {
        router.get("events") { request, context in
            let query = try EventListQuery.parse(try URLDecoding.query(request.uri.query))
            return try JSONResponse.make(try await endpoints.listEvents(query, caller: context.caller()))
        }
    }
}
