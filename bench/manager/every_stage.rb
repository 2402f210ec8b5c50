# A handler at every stage, each reading two values from the session and
# returning :continue: the per-stage cost of running a script child, measured
# by postfix_bench.sh ("manager 1 +script", "manager script").

def on_connect(s)
  s.client_address
  s.client_host
  :continue
end

def on_helo(s)
  s.helo
  s.client_port
  :continue
end

def on_envfrom(s)
  s.envelope_from
  s.message_count
  :continue
end

def on_envrcpt(s)
  s.recipient
  s.envelope_from
  :continue
end

def on_data(s)
  s.queue_id
  s.recipients
  :continue
end

def on_header(s)
  s.header_name
  s.header_value
  :continue
end

def on_eoh(s)
  s.queue_id
  s.message_count
  :continue
end

def on_body(s)
  s.body_chunk
  s.stage
  :continue
end

def on_eom(s)
  s.queue_id
  s.envelope_from
  :continue
end

def on_close(s)
  s.client_address
  s.message_count
  :continue
end
