-- wrk script: POST pre-signed statements, each exactly once, spread over wrk's threads.
-- usage: wrk -s bench/wrk/submit.lua URL -- BODIES_FILE THREADS
local counter = 0
local bodies = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  local stride = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % stride == tid then
      bodies[#bodies + 1] = line
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  local body = bodies[counter] or bodies[1] -- past the end: a replay, refused with 409 and counted as non-2xx
  return wrk.format("POST", "/statements", { ["Content-Type"] = "application/json" }, body)
end
