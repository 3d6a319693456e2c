-- WeBuddy: the first page of a user's history. DATA: users, key.
local counter = 0
request = function()
  counter = counter + 1
  local user = users[(counter * 7 + tid * 13) % #users + 1]
  return wrk.format("GET", "/v1/wallet/history?userId=" .. user .. "&page=1&pageSize=20",
    {["Authorization"] = "Api-Key " .. key})
end
