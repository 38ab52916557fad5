-- wrk script for POST /v1/certificates/verify, rotating through distinct certificates.
--   wrk -t1 -c64 -d10s -s tools/wrk-verify.lua http://127.0.0.1:8080 -- CERTS_FILE
-- CERTS_FILE has one certificate (compact JWT) per line, e.g. from
--   load verify --certs 1000 --dump-certs CERTS_FILE --prepare-only
-- Every answer is checked: a non-200 status or a verdict other than "valid" is an error, and
-- the script exits 1 when any error occurred.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  checked = 0
  local path = args[1] or "certs.txt"
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  requests = {}
  local headers = { ["Content-Type"] = "application/json" }
  for line in f:lines() do
    if #line > 0 then
      requests[#requests + 1] =
        wrk.format("POST", "/v1/certificates/verify", headers, '{"certificate":"' .. line .. '"}')
    end
  end
  f:close()
  assert(#requests > 0, "no certificates in " .. path)
  i = math.random(#requests)
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or not string.find(body, '"verdict":"valid"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, reqs)
  local errs, n = 0, 0
  for _, t in ipairs(threads) do
    errs = errs + t:get("errors")
    n = n + t:get("checked")
  end
  local transport = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format("wrk-verify: %d requests, %.0f req/s; p50 %.2f ms, p90 %.2f ms, p99 %.2f ms; "
    .. "checked %d answers, %d wrong, %d transport/status errors\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    n, errs, transport))
  if errs > 0 or transport > 0 then
    io.write("wrk-verify: FAILED: some answers were errors\n")
    os.exit(1)
  end
end
