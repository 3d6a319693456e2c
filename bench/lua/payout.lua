-- WeBuddy: pay 1 INR out to an expert's bank account. DATA: payees ({expert id, bank account id}), key.
local counter = 0
request = function()
  counter = counter + 1
  local p = payees[(counter * 7 + tid * 13) % #payees + 1]
  return json_request("POST", "/v1/payouts/manual", "Api-Key " .. key,
    '{"expertId":"' .. p[1] .. '","amount":1,"bankAccount":"' .. p[2] .. '","paymentMethod":"RAZORPAY"}')
end
