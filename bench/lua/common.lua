-- Shared by the scenario scripts: per-thread ids, JSON requests, and a queue of follow-up requests.
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

function json_request(method, path, auth, body)
  return wrk.format(method, path, {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end
