-- WeBuddy: start a session (hold), adjust its fee, then end it (settle); each response queues the
-- session's next request. DATA (users, experts, key) is prepended by the benchmark.
local queue, counter = {}, 0
request = function()
  if #queue > 0 then
    local s = table.remove(queue)
    if s[3] == "adjust" then
      return json_request("POST", "/v1/sessions/adjust", "Api-Key " .. key,
        '{"sessionId":"' .. s[1] .. '","adjustedFee":12}')
    end
    return json_request("POST", "/v1/sessions/end", "Api-Key " .. key,
      '{"sessionId":"' .. s[1] .. '","expertId":"' .. s[2] .. '","actualFee":12}')
  end
  counter = counter + 1
  local i = (counter * 7 + tid * 13) % #users + 1
  return json_request("POST", "/v1/sessions/start", "Api-Key " .. key,
    '{"userId":"' .. users[i] .. '","expertId":"' .. experts[(counter % #experts) + 1] .. '","sessionFee":10}')
end
response = function(status, headers, body)
  local id = body:match('"id":"([^"]+)"')
  local expert = body:match('"expertId":"([^"]+)"')
  if id and expert and body:match('"status":"active"') then
    -- started (201): adjust next; adjusted (200, fee 12.00): end next
    local next_step = status == 201 and "adjust" or "end"
    table.insert(queue, {id, expert, next_step})
  end
end
