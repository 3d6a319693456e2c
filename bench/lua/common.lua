-- Shared by the scenario scripts: per-thread ids, JSON requests, and a queue of follow-up requests.
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

-- A keyed scenario (keyed, keys: set by the benchmark) sends a fresh Idempotency-Key with every POST.
local sent = 0
function json_request(method, path, auth, body)
  local headers = {["Authorization"] = auth, ["Content-Type"] = "application/json"}
  if keyed and method == "POST" then
    sent = sent + 1
    headers["Idempotency-Key"] = keys .. "-" .. tid .. "-" .. sent
  end
  return wrk.format(method, path, headers, body)
end
