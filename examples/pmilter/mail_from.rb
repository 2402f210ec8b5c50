s = Pmilter::Session.new
puts "mail from: #{s.envelope_from} (SASL login: #{s.auth_authen})"
if s.envelope_from == "<spam-from@example.com>"
  Pmilter.status = Pmilter::SMFIS_REJECT
end
