-- One new connection per request (each asks the server to close after its answer), stopping
-- after WRK_CONNECTIONS answers: runs a server's connection set-up and tear-down, which
-- keep-alive load never does. Run with -t1, so that the count is the whole run's.
local limit = tonumber(os.getenv("WRK_CONNECTIONS") or "20000")
local answered = 0
wrk.headers["Connection"] = "close"

response = function(status, headers, body)
  answered = answered + 1
  if answered >= limit then
    wrk.thread:stop()
  end
end
