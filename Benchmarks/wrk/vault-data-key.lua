-- wrk script: POST /vault/v1/keys/data-key to `vault serve`, one fixed request on every connection.
-- The API key comes from the environment (WRK_VAULT_API_KEY), not argv, like every secret this project reads.
--   WRK_VAULT_API_KEY=sk_test_x wrk -t1 -c8 -d10s --latency -s vault-data-key.lua http://127.0.0.1:PORT
-- One organization for every request: the KEK is created by the first one and cached, so the run measures the
-- steady state (fresh data key, wrap under the cached KEK, JSON out), as a busy tenant would see it.

local api_key = os.getenv("WRK_VAULT_API_KEY")
if api_key == nil or api_key == "" then
    error("set WRK_VAULT_API_KEY to an API key the server accepts")
end

wrk.method = "POST"
wrk.path = "/vault/v1/keys/data-key"
wrk.headers["Authorization"] = "Bearer " .. api_key
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"context":{"organization_id":"org_1"}}'
