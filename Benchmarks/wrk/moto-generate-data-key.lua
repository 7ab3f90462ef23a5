-- wrk script: KMS GenerateDataKey (AES_256) against moto_server, one fixed request on every connection.
--   wrk -t1 -c8 -d10s --latency -s moto-generate-data-key.lua http://127.0.0.1:PORT -- KEY_ID
-- moto does not check signatures, but it routes a request to a service by the credential scope of its
-- Authorization header (no header means S3), so a static, unsigned SigV4 header names kms and a region.

function init(args)
    local key_id = args[1]
    if key_id == nil or key_id == "" then
        error("pass the KMS key id after --")
    end
    wrk.method = "POST"
    wrk.path = "/"
    wrk.headers["X-Amz-Target"] = "TrentService.GenerateDataKey"
    wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
    wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/kms/aws4_request, "
        .. "SignedHeaders=content-type;host;x-amz-target, Signature=0"
    wrk.body = '{"KeyId":"' .. key_id .. '","KeySpec":"AES_256"}'
end
