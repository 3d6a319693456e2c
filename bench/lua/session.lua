-- WeBuddy: start a session (hold), then end it (settle); each response queues the next request.
-- DATA (users, experts, key) is prepended by the benchmark.
local queue, counter = {}, 0
request = function()
  if #queue > 0 then
    local s = table.remove(queue)
    return json_request("POST", "/v1/sessions/end", "Api-Key " .. key,
      '{"sessionId":"' .. s[1] .. '","expertId":"' .. s[2] .. '","actualFee":10}')
  end
  counter = counter + 1
  local i = (counter * 7 + tid * 13) % #users + 1
  return json_request("POST", "/v1/sessions/start", "Api-Key " .. key,
    '{"userId":"' .. users[i] .. '","expertId":"' .. experts[(counter % #experts) + 1] .. '","sessionFee":10}')
end
response = function(status, headers, body)
  if status == 201 then
    local id = body:match('"id":"([^"]+)"')
    local expert = body:match('"expertId":"([^"]+)"')
    if id and expert then table.insert(queue, {id, expert}) end
  end
end
