-- WeBuddy: recharge a user's wallet through the configured gateway. DATA: users, key.
local counter = 0
request = function()
  counter = counter + 1
  local user = users[(counter * 7 + tid * 13) % #users + 1]
  return json_request("POST", "/v1/wallet/recharge", "Api-Key " .. key,
    '{"userId":"' .. user .. '","amount":10,"paymentMethod":"RAZORPAY"}')
end
