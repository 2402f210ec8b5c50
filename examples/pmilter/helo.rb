s = Pmilter::Session.new
if s.helo_hostname == "localhost" || s.helo_hostname == "localhost.localdomain"
  Pmilter.status = Pmilter::SMFIS_REJECT
end
