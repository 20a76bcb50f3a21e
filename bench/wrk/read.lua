-- wrk script: the readers beside the writers: the latest checkpoint, a subject check and a subject's credit
-- history, in turn.
-- usage: wrk -s bench/wrk/read.lua URL -- TOKEN SUBJECT [RATE]
-- RATE: requests per second of each connection (0 or absent: as fast as it can)
local n = 0

function init(args)
  token = args[1]
  subject = args[2]
  rate = tonumber(args[3] or "0")
end

function delay()
  if rate > 0 then
    return 1000 / rate
  end
  return 0
end

function request()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer " .. token }
  if n % 3 == 0 then
    return wrk.format("GET", "/log/checkpoint", headers)
  elseif n % 3 == 1 then
    return wrk.format("GET", "/check?codes=" .. subject, headers)
  end
  return wrk.format("GET", "/subjects/" .. subject .. "/history", headers)
end
