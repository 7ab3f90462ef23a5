import CLibcurl
import Testing

/// The libcurl system library links and can do what the Vault client will need of it.
@Suite struct LibcurlTests {
    @Test func linkedLibcurlSpeaksHTTPSAndHTTP2() throws {
        let info = try #require(vault_curl_version_info()?.pointee)
        #expect(info.features & CURL_VERSION_SSL != 0, "libcurl was built without TLS")
        #expect(info.features & CURL_VERSION_HTTP2 != 0, "libcurl was built without HTTP/2")
        var protocols: [String] = []
        var cursor = info.protocols
        while let name = cursor?.pointee {
            protocols.append(String(cString: name))
            cursor = cursor?.advanced(by: 1)
        }
        #expect(protocols.contains("https"))
        #expect(protocols.contains("http"))
    }

    @Test func typedSetoptShimsReachCurlEasySetopt() throws {
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(vault_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1) == CURLE_OK)
        #expect(vault_curl_easy_setopt_string(handle, CURLOPT_URL, "https://127.0.0.1/") == CURLE_OK)
        // An option that takes a long given an out-of-range value is refused: the shim passes
        // the value through with the right type rather than silently accepting anything.
        #expect(vault_curl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, 9999) != CURLE_OK)
    }
}
