import Foundation
import Testing

/// The JSON the CLI prints and reads back (issue 15, section 3): `--json` honours `--out`, binary
/// plaintext comes out in base64, `kv list --json` is a page with its cursors, each command reads
/// what another's `--json` wrote, and `kv get --raw` prints the value exactly.
@Suite(.timeLimit(.minutes(2)))
struct CLIJSONOutputTests {
    let cli = VaultCLITests()

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    func scratch() throws -> String {
        let folder = cli.home + "-files"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    func removeAll() {
        for path in [cli.home, cli.home + "-files"] { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func jsonGoesToOut() async throws {
        defer { removeAll() }
        let folder = try scratch()
        let encrypted = try await cli.vault(
            ["encrypt", "--context", "organization_id=org_1", "--json", "--out", folder + "/blob.json"],
            input: "4242"
        )
        #expect(encrypted.status == 0)
        #expect(encrypted.stdout.isEmpty, "the JSON went to standard output")
        let blobJSON = try object(try String(contentsOfFile: folder + "/blob.json", encoding: .utf8))
        #expect(blobJSON["layout"] as? String == "A")

        let decrypted = try await cli.vault([
            "decrypt", "--json", "--in", folder + "/blob.json", "--out", folder + "/p.json",
        ])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(decrypted.stdout.isEmpty)
        #expect(
            try object(try String(contentsOfFile: folder + "/p.json", encoding: .utf8))["plaintext"] as? String
                == "4242"
        )

        let moved = try await cli.vault(
            [
                "rekey", "--context", "organization_id=org_2", "--json", "--in", folder + "/blob.json", "--out",
                folder + "/m.json",
            ]
        )
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.isEmpty)
        let movedJSON = try object(try String(contentsOfFile: folder + "/m.json", encoding: .utf8))
        #expect(Set(movedJSON.keys) == ["blob", "layout"], "rekey prints what encrypt prints")
        #expect(movedJSON["layout"] as? String == "A")
        #expect(try await cli.vault(["decrypt", "--in", folder + "/m.json"]).stdout == "4242")

        let issued = try await cli.vault(["keys", "data-key", "--context", "organization_id=org_1", "--json"])
        let keysFile = folder + "/keys.json"
        let unwrapped = try await cli.vault(["keys", "decrypt", "--json", "--out", keysFile], input: issued.stdout)
        #expect(unwrapped.status == 0, "\(unwrapped.stderr)")
        #expect(unwrapped.stdout.isEmpty)
        #expect(
            try object(try String(contentsOfFile: keysFile, encoding: .utf8))["data_key"] as? String
                == (try object(issued.stdout))["data_key"] as? String
        )
    }

    @Test func binaryPlaintextComesOutInBase64() async throws {
        defer { removeAll() }
        let folder = try scratch()
        let binary: [UInt8] = [0xff, 0xfe, 0x00, 0x80, 0x41]
        try Data(binary).write(to: URL(fileURLWithPath: folder + "/binary"))
        let blob = try await cli.vault(["encrypt", "--context", "a=b", "--in", folder + "/binary"]).stdout

        let json = try await cli.vault(["decrypt", "--json"], input: blob)
        #expect(json.status == 0, "\(json.stderr)")
        let printed = try object(json.stdout)
        #expect(printed["plaintext"] == nil)
        #expect((printed["plaintext_base64"] as? String).flatMap { Data(base64Encoded: $0) } == Data(binary))

        let plain = try await cli.vault(["decrypt", "--base64"], input: blob)
        #expect(plain.stdout == Data(binary).base64EncodedString() + "\n")

        // Text stays text by default, and comes out in base64 when asked.
        let textBlob = try await cli.vault(["encrypt", "--context", "a=b"], input: "héllo").stdout
        #expect(
            try object(try await cli.vault(["decrypt", "--json"], input: textBlob).stdout)["plaintext"] as? String
                == "héllo"
        )
        let asked = try object(try await cli.vault(["decrypt", "--json", "--base64"], input: textBlob).stdout)
        #expect(asked["plaintext_base64"] as? String == Data("héllo".utf8).base64EncodedString())
    }

    @Test func listJSONIsAPageWithCursors() async throws {
        defer { removeAll() }
        for name in ["one", "two", "three"] {
            #expect(try await cli.vault(["kv", "create", name, "--context", "a=b"], input: "v").status == 0)
        }
        let all = try object(try await cli.vault(["kv", "list", "--json"]).stdout)
        #expect((all["data"] as? [[String: Any]])?.count == 3)
        let allCursors = try #require(all["list_metadata"] as? [String: Any])
        #expect(allCursors["after"] is NSNull && allCursors["before"] is NSNull)

        let first = try object(try await cli.vault(["kv", "list", "--json", "--limit", "2", "--order", "asc"]).stdout)
        let firstPage = try #require(first["data"] as? [[String: Any]])
        #expect(firstPage.map { $0["name"] as? String } == ["one", "two"])
        let after = try #require((first["list_metadata"] as? [String: Any])?["after"] as? String)

        let second = try object(
            try await cli.vault(["kv", "list", "--json", "--limit", "2", "--order", "asc", "--after", after]).stdout
        )
        #expect((second["data"] as? [[String: Any]])?.map { $0["name"] as? String } == ["three"])
        let before = try #require((second["list_metadata"] as? [String: Any])?["before"] as? String)
        let back = try object(
            try await cli.vault(["kv", "list", "--json", "--limit", "2", "--order", "asc", "--before", before]).stdout
        )
        #expect((back["data"] as? [[String: Any]])?.map { $0["name"] as? String } == ["one", "two"])

        let text = try await cli.vault(["kv", "list", "--limit", "2", "--order", "asc"])
        #expect(text.stdout.split(separator: "\n").count == 2)
        #expect(text.stderr.contains("--after \(after)"))
        #expect(try await cli.vault(["kv", "list", "--after", "x", "--before", "y"]).status == 1)
    }

    @Test func keysCommandsReadWhatDataKeyPrints() async throws {
        defer { removeAll() }
        let issued = try await cli.vault(["keys", "data-key", "--context", "organization_id=org_1", "--json"])
        let keys = try object(issued.stdout)
        #expect(Set(keys.keys) == ["id", "data_key", "encrypted_keys"])

        let fromJSON = try await cli.vault(["keys", "decrypt", "--json"], input: issued.stdout)
        #expect(fromJSON.status == 0, "\(fromJSON.stderr)")
        #expect(try object(fromJSON.stdout)["data_key"] as? String == keys["data_key"] as? String)
        let rekeyed = try await cli.vault(
            ["keys", "rekey", "--context", "organization_id=org_2", "--json"],
            input: issued.stdout
        )
        #expect(rekeyed.status == 0, "\(rekeyed.stderr)")
        let moved = try object(rekeyed.stdout)
        #expect(Set(moved.keys) == ["id", "data_key", "encrypted_keys"])
        #expect(moved["data_key"] as? String == keys["data_key"] as? String)
        // And the rekeyed JSON is read again.
        #expect(
            try object(try await cli.vault(["keys", "decrypt", "--json"], input: rekeyed.stdout).stdout)["data_key"]
                as? String == keys["data_key"] as? String
        )

        let noField = try await cli.vault(["keys", "decrypt"], input: #"{"blob":"AAAA"}"#)
        #expect(noField.status == 4)
        #expect(noField.stderr.contains("encrypted_keys"))
    }

    @Test func kvGetRawPrintsTheValueExactly() async throws {
        defer { removeAll() }
        let created = try await cli.vault(
            ["kv", "create", "tls-key", "--context", "a=b", "--json"],
            input: "line one\nline two"
        )
        let id = try #require(try object(created.stdout)["id"] as? String)
        #expect(try await cli.vault(["kv", "get", id, "--raw"]).stdout == "line one\nline two")
        #expect(try await cli.vault(["kv", "get", "--name", "tls-key", "--raw"]).stdout == "line one\nline two")
        #expect(try await cli.vault(["kv", "get", id]).stdout == "line one\nline two\n", "a newline by default")
        #expect(try await cli.vault(["kv", "get", id, "--raw", "--json"]).status == 1)
        #expect(try await cli.vault(["kv", "get", "--help"]).stdout.contains("--raw"))
    }
}
