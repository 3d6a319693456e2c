-- TMR Land: a signed-in user adds 0.01 USD (a simulated deposit). DATA: tokens.
local counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter * 7 + tid * 13) % #tokens + 1]
  return json_request("POST", "/api/v1/wallet/charge", "Bearer " .. token, '{"amount":0.01,"currency":"USD"}')
end
