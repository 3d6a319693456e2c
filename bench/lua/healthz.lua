-- The server's own ceiling: a request that only asks the database for SELECT 1.
request = function() return wrk.format("GET", "/healthz") end
