-- wrk script: the request an SDK sends for one encrypt or decrypt call (POST PATH with BODY, the API key from
-- WRK_VAULT_API_KEY, a new Idempotency-Key each time, as this client and the official Python SDK both send).
-- With one connection it measures the fastest any sequential client could go against the server: the
-- ceiling for `vault bench e2e` and python/sdk_e2e.py, whatever the client's own cost.
--   WRK_VAULT_API_KEY=sk_test_x wrk -t1 -c1 -d3s -s vault-sdk-request.lua http://127.0.0.1:PORT -- PATH BODY

local api_key = os.getenv("WRK_VAULT_API_KEY")
if api_key == nil or api_key == "" then
    error("set WRK_VAULT_API_KEY to an API key the server accepts")
end

-- Unique to this wrk process: a warm-up run and the measured run must not share keys, since the server
-- answers a reused key from its store, which is another (faster) path.
local key_prefix
local sent = 0

function init(args)
    if args[1] == nil or args[2] == nil then
        error("pass the path and the JSON body after --")
    end
    local uuid_source = assert(io.open("/proc/sys/kernel/random/uuid"))
    key_prefix = uuid_source:read("*l")
    uuid_source:close()
    wrk.method = "POST"
    wrk.path = args[1]
    wrk.body = args[2]
    wrk.headers["Authorization"] = "Bearer " .. api_key
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json"
end

function request()
    sent = sent + 1
    wrk.headers["Idempotency-Key"] = key_prefix .. "-" .. sent
    return wrk.format()
end
