-- wrk script: POST /vault/v1/kv to `vault serve`, a new object on every request: a name no earlier request used
-- and a new Idempotency-Key (the official SDKs send one with every POST), a 64-byte value, one organization.
-- The API key comes from the environment (WRK_VAULT_API_KEY), not argv, like every secret this project reads.
--   WRK_VAULT_API_KEY=sk_test_x wrk -t1 -c8 -d10s --latency -s vault-create-object.lua http://127.0.0.1:PORT
-- Each request is a durable write (the idempotency claim, the object and its first version, the stored answer),
-- so the run measures the store's commit path as well as the server.

local api_key = os.getenv("WRK_VAULT_API_KEY")
if api_key == nil or api_key == "" then
    error("set WRK_VAULT_API_KEY to an API key the server accepts")
end

-- Unique to this wrk thread (each runs its own copy of the script, init included): a warm-up run and the measured
-- run against the same server must not reuse a name (409) or an Idempotency-Key (a replay, a faster path).
local prefix
local sent = 0
local value = string.rep("v", 64)

function init(args)
    local uuid_source = assert(io.open("/proc/sys/kernel/random/uuid"))
    prefix = uuid_source:read("*l")
    uuid_source:close()
    wrk.method = "POST"
    wrk.path = "/vault/v1/kv"
    wrk.headers["Authorization"] = "Bearer " .. api_key
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json"
end

function request()
    sent = sent + 1
    wrk.headers["Idempotency-Key"] = prefix .. "-" .. sent
    wrk.body = '{"name":"bench-' .. prefix .. '-' .. sent .. '","value":"' .. value
        .. '","key_context":{"organization_id":"org_1"}}'
    return wrk.format()
end
