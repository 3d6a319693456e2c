-- TMR Land orders service: freeze an order on a buyer, then release it to a seller. DATA: buyers, sellers, key, run.
local queue, counter = {}, 0
request = function()
  if #queue > 0 then
    local o = table.remove(queue)
    return json_request("POST", "/api/v1/wallet/escrow/release", "Api-Key " .. key,
      '{"order_id":"' .. o[1] .. '","payee_id":"' .. o[2] .. '"}')
  end
  counter = counter + 1
  local order = run .. "-" .. tid .. "-" .. counter
  local buyer = buyers[(counter * 7 + tid * 13) % #buyers + 1]
  local seller = sellers[(counter + tid) % #sellers + 1]
  pending = pending or {}
  pending[order] = seller
  return json_request("POST", "/api/v1/wallet/escrow/freeze", "Api-Key " .. key,
    '{"user_id":"' .. buyer .. '","order_id":"' .. order .. '","amount":10,"currency":"USD"}')
end
response = function(status, headers, body)
  if status == 201 then
    local order = body:match('"order_id":"([^"]+)"')
    if order and pending[order] then
      table.insert(queue, {order, pending[order]})
      pending[order] = nil
    end
  end
end
