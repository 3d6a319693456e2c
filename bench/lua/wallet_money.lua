-- TMR Land: a signed-in user withdraws or adds 0.01 USD (charge: a simulated deposit). DATA: tokens, path.
local counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter * 7 + tid * 13) % #tokens + 1]
  return json_request("POST", path, "Bearer " .. token, '{"amount":0.01,"currency":"USD"}')
end
