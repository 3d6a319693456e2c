-- TMR Land: a signed-in user withdraws 0.01 USD. DATA: tokens.
local counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter * 7 + tid * 13) % #tokens + 1]
  return json_request("POST", "/api/v1/wallet/withdraw", "Bearer " .. token, '{"amount":0.01,"currency":"USD"}')
end
