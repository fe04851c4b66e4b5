-- wrk script: open a ticket through the API (POST /api/v1/tickets) as the bench hub administrator.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("CIVITAS_BENCH_TOKEN")
local n = 0
request = function()
  n = n + 1
  local org = string.format("member-%04d", (n % 349) + 1)
  local body = string.format('{"org":"%s","subject":"Printer jams at the library (%d)","description":"Opened by the benchmark.","impact":"medium","urgency":"medium"}', org, n)
  return wrk.format(nil, nil, nil, body)
end
