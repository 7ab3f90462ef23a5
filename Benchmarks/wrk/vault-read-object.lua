-- wrk script: GET /vault/v1/kv/ID to `vault serve`, one object read (and decrypted) on every request.
-- The API key comes from the environment (WRK_VAULT_API_KEY), not argv, like every secret this project reads.
--   WRK_VAULT_API_KEY=sk_test_x wrk -t1 -c8 -d10s --latency -s vault-read-object.lua http://127.0.0.1:PORT -- ID

local api_key = os.getenv("WRK_VAULT_API_KEY")
if api_key == nil or api_key == "" then
    error("set WRK_VAULT_API_KEY to an API key the server accepts")
end

local request_bytes

function init(args)
    if args[1] == nil then
        error("pass the object id after --")
    end
    wrk.headers["Authorization"] = "Bearer " .. api_key
    request_bytes = wrk.format("GET", "/vault/v1/kv/" .. args[1])
end

function request()
    return request_bytes
end
