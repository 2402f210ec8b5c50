s = Pmilter::Session.new
puts "end of message: queue ID #{s.message_id}, received #{Time.at s.receive_time}"
Pmilter::Session::Headers.new["X-Pmilter"] = "Enable"
Pmilter::Session::Headers.new["X-Pmilter-Client"] = s.client_ipaddr
