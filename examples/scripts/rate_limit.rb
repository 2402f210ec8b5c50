# Rate limiter on the shared store: a client address may start at most
# LIMIT messages per WINDOW seconds; past that it is refused with a
# temporary failure for PENALTY seconds, then counted afresh.
#
#   child { name: "rate-limit" script { file: "rate_limit.rb" } }
#
# The counters live in Milter::Store, shared by every session and thread of
# the manager (not across managers or restarts).

LIMIT = 20
WINDOW = 60
PENALTY = 10

def on_envfrom(session)
  client = session.client_address
  blocked = "rate-limit:blocked:#{client}"
  if Milter::Store.key?(blocked)
    session.tempfail("450 4.7.1 Too many messages from #{client}; " \
                     "try again in #{Milter::Store.ttl(blocked).ceil} seconds")
    return
  end
  count = Milter::Store.incr("rate-limit:count:#{client}", ttl: WINDOW)
  return :continue if count <= LIMIT
  Milter::Store.set(blocked, count, ttl: PENALTY)
  Milter::Store.delete("rate-limit:count:#{client}")
  session.tempfail("450 4.7.1 Too many messages from #{client}; " \
                   "try again in #{PENALTY} seconds")
end
